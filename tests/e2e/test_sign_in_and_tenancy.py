"""Staff sign-in through the gateway, and that no tenant ever sees another's data."""

import httpx
import pytest
import websockets

from relay_stack import demo
from relay_stack.polling import eventually
from relay_stack.stack import Stack
from tests.support import post_twilio_sms, sign_in


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(
    relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    for credentials in ({"username": "alice", "password": "wrong-password"},
                        {"username": "nobody", "password": demo.PASSWORD}):
        response = httpx.post(f"{relay.gateway_url}/api/session", json={"tenant": demo_tenant.tenant_id, **credentials})
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "The tenant, username or password is not right."


def test_session_token_names_the_staff_member(relay: Stack, demo_tenant: demo.DemoTenant) -> None:
    token = sign_in(relay, tenant=demo_tenant.tenant_id, username="alice")
    me = httpx.get(f"{relay.gateway_url}/api/session", headers={"authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["staff"]["display_name"] == "Alice Martin"
    staff = httpx.get(f"{relay.gateway_url}/api/staff", headers={"authorization": f"Bearer {token}"}).json()["staff"]
    assert {s["username"] for s in staff} == {"alice", "bob", "carol"}


@pytest.mark.parametrize("path", ["/api/issues", "/api/issues/mine", "/api/chat/conversations", "/api/staff"])
def test_staff_api_without_a_valid_token_is_401(relay: Stack, demo_tenant: demo.DemoTenant, path: str) -> None:
    assert httpx.get(f"{relay.gateway_url}{path}").status_code == 401
    forged = httpx.get(f"{relay.gateway_url}{path}", headers={"authorization": "Bearer not.a.token"})
    assert forged.status_code == 401


async def test_websocket_without_a_session_is_refused(relay: Stack, demo_tenant: demo.DemoTenant) -> None:
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(relay.gateway_url.replace("http", "ws") + "/ws?token=bad"):
            pass


async def test_another_tenants_issue_is_never_returned(relay: Stack, demo_tenant: demo.DemoTenant) -> None:
    admin = {"authorization": f"Bearer {relay.admin_token}"}
    assert httpx.put(f"{relay.gateway_url}/api/admin/tenants/rival", json={"name": "Rival Laundry"},
                     headers=admin).status_code == 200
    assert httpx.put(f"{relay.gateway_url}/api/admin/tenants/rival/staff/eve",
                     json={"display_name": "Eve", "password": "rival-pass-123"}, headers=admin).status_code == 200
    demo_token = sign_in(relay, tenant=demo_tenant.tenant_id, username="carol")
    rival_token = sign_in(relay, tenant="rival", username="eve", password="rival-pass-123")

    assert post_twilio_sms(relay, demo_tenant, from_number="+14155550102", body="Do you press shirts?").status_code == 200

    async def omar_issue() -> dict | None:
        async with httpx.AsyncClient() as client:
            listing = await client.get(f"{relay.gateway_url}/api/issues",
                                       headers={"authorization": f"Bearer {demo_token}"})
        assert listing.status_code == 200, listing.text
        found = [i for i in _issues(listing.json()) if i.get("customer_id") == "cus_omar"]
        return found[0] if found else None

    issue = await eventually(omar_issue, what="Omar's issue listed for demo staff")
    rival = {"authorization": f"Bearer {rival_token}"}
    assert httpx.get(f"{relay.gateway_url}/api/issues/{issue['issue_id']}", headers=rival).status_code == 404
    rival_listing = httpx.get(f"{relay.gateway_url}/api/issues", headers=rival)
    assert rival_listing.status_code == 200
    assert _issues(rival_listing.json()) == []


def _issues(body: dict | list) -> list[dict]:
    return body if isinstance(body, list) else body.get("issues", body.get("items", []))


def test_provider_settings_are_provisioned_through_the_gateway_with_the_admin_token_only(
    relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    url = f"{relay.gateway_url}/api/admin/tenants/{demo_tenant.tenant_id}"
    staff = sign_in(relay, tenant=demo_tenant.tenant_id, username="alice")
    for headers in ({}, {"authorization": f"Bearer {staff}"}):
        assert httpx.get(url, headers=headers).status_code == 403
    settings = httpx.get(url, headers={"authorization": f"Bearer {relay.admin_token}"})
    assert settings.status_code == 200
    assert settings.json()["name"] == demo.TENANT_NAME
    assert settings.json()["providers"]["twilio"]["phone_number"] == demo_tenant.secrets.twilio_phone_number
    assert demo_tenant.secrets.twilio_auth_token not in settings.text, "secrets are masked"


def test_the_public_tenants_path_no_longer_reaches_ingest(relay: Stack, demo_tenant: demo.DemoTenant) -> None:
    admin = {"authorization": f"Bearer {relay.admin_token}"}
    assert httpx.get(f"{relay.gateway_url}/api/tenants/{demo_tenant.tenant_id}", headers=admin).status_code == 404


def test_provider_settings_ingest_refuses_come_back_unchanged_and_store_nothing(
    relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    admin = {"authorization": f"Bearer {relay.admin_token}"}
    body = {"name": "Half Configured", "providers": {"twilio": {"account_sid": "AC1", "phone_number": "+15550100001"}}}
    through_gateway = httpx.put(f"{relay.gateway_url}/api/admin/tenants/half-configured", json=body, headers=admin)
    direct = httpx.put(f"{relay.url('ingest')}/api/tenants/half-configured",
                       json={"name": body["name"], **body["providers"]}, headers=admin)
    assert 400 <= through_gateway.status_code < 500
    assert (through_gateway.status_code, through_gateway.json()) == (direct.status_code, direct.json())
    assert httpx.get(f"{relay.gateway_url}/api/admin/tenants/half-configured", headers=admin).status_code == 404
    assert httpx.get(f"{relay.url('ingest')}/api/tenants/half-configured", headers=admin).status_code == 404
