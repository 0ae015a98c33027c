"""Issue 2's first real path: signed SMS webhook in, issue opened, WebSocket push out, second SMS appended."""

import httpx
import websockets

from relay_stack import demo
from relay_stack.polling import eventually
from relay_stack.stack import Stack
from tests.support import LiveClient, event_type_of, payload_of, post_twilio_sms, sign_in

JANE = "+14155550101"


async def test_sms_opens_issue_pushes_it_live_and_second_sms_is_appended(
    relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    token = sign_in(relay, tenant=demo_tenant.tenant_id, username="bob")
    ws_url = relay.gateway_url.replace("http", "ws") + f"/ws?token={token}"
    async with websockets.connect(ws_url) as connection:
        live = LiveClient(connection)

        first = post_twilio_sms(relay, demo_tenant, from_number="(415) 555-0101", body="Is my suit ready?")
        assert first.status_code == 200, first.text
        assert "<Response" in first.text

        opened = await live.next_matching(
            lambda f: event_type_of(f) == "issue.opened" and payload_of(f)["issue"]["customer_id"] == "cus_jane"
        )
        issue = payload_of(opened)["issue"]
        assert issue["status"] == "unassigned"
        issue_id = issue["issue_id"]

        second = post_twilio_sms(relay, demo_tenant, from_number=JANE, body="It's the navy one")
        assert second.status_code == 200, second.text
        appended = await live.next_matching(
            lambda f: event_type_of(f) == "issue.message_appended" and payload_of(f)["issue"]["issue_id"] == issue_id
        )
        assert payload_of(appended)["text"] == "It's the navy one"

    headers = {"authorization": f"Bearer {token}"}

    async def both_messages_readable() -> dict | None:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{relay.gateway_url}/api/issues/{issue_id}", headers=headers)
        assert response.status_code == 200, response.text
        text = response.text
        return response.json() if "Is my suit ready?" in text and "It's the navy one" in text else None

    body = await eventually(both_messages_readable, what="both messages on the issue")
    assert issue_id in str(body)


async def test_webhook_with_forged_signature_is_refused(relay: Stack, demo_tenant: demo.DemoTenant) -> None:
    response = post_twilio_sms(relay, demo_tenant, from_number=JANE, body="forged", auth_token="not-the-token")
    assert response.status_code == 401
    assert "Traceback" not in response.text
