"""No secret in any log: a full stack is signed in to, its WebSocket opened with `?token=`, signed webhooks of
every kind posted, and then every log file of the run is searched for the tokens, passwords and secrets used."""

import asyncio
import base64
import json
import time
import uuid
from pathlib import Path

import httpx
import websockets

from relay_stack import demo
from relay_stack.polling import eventually
from relay_stack.signing import mailgun_signature
from relay_stack.stack import Stack
from tests.support import post_twilio_sms, sign_in


def _logs(relay: Stack) -> dict[str, str]:
    assert relay.log_dir is not None, "the stack must write its logs to files for this test"
    files = sorted(Path(relay.log_dir).rglob("*.log"))
    assert {f.stem for f in files} >= {"gateway", "notify", "ingest", "issues", "chat"}, files
    return {str(f): f.read_text(errors="replace") for f in files}


async def test_no_token_password_or_provider_secret_appears_in_any_log(
    relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    token = sign_in(relay, tenant=demo_tenant.tenant_id, username="alice")
    wrong_password = f"wrong-{uuid.uuid4().hex}"
    assert httpx.post(f"{relay.gateway_url}/api/session", json={
        "tenant": demo_tenant.tenant_id, "username": "alice", "password": wrong_password}).status_code == 401

    ws = relay.gateway_url.replace("http", "ws")
    async with websockets.connect(f"{ws}/ws?token={token}") as tab:
        assert json.loads(await asyncio.wait_for(tab.recv(), 15))["kind"] == "hello"
        marker = f"Do you have my coat {uuid.uuid4().hex[:6]}?"
        assert post_twilio_sms(relay, demo_tenant, from_number=f"+1415555{uuid.uuid4().int % 10000:04d}", body=marker).status_code == 200

        async def pushed() -> bool:
            frame = json.loads(await asyncio.wait_for(tab.recv(), 15))
            return marker in json.dumps(frame)

        await eventually(pushed, timeout=30, what="the SMS pushed to the tab")

    secrets = demo_tenant.secrets
    sender = f"log-check-{uuid.uuid4().hex[:8]}@example.com"  # a stranger: no demo customer's issue is touched
    timestamp, mail_token = str(int(time.time())), uuid.uuid4().hex
    mailgun = httpx.post(f"{relay.gateway_url}/webhooks/{demo_tenant.tenant_id}/mailgun/inbound", data={
        "sender": sender, "recipient": secrets.email_from, "from": sender,
        "subject": "Coat", "body-plain": "Is it ready?", "Message-Id": f"<{uuid.uuid4().hex}@mail.example>",
        "timestamp": timestamp, "token": mail_token,
        "signature": mailgun_signature(timestamp=timestamp, token=mail_token, signing_key=secrets.mailgun_signing_key),
    }, timeout=15)
    assert mailgun.status_code < 500
    basic = base64.b64encode(f"{secrets.sendgrid_user}:{secrets.sendgrid_password}".encode()).decode()
    sendgrid = httpx.post(f"{relay.gateway_url}/webhooks/{demo_tenant.tenant_id}/sendgrid/inbound", data={
        "from": sender, "to": secrets.email_from, "subject": "Hi", "text": "Hello",
        "envelope": json.dumps({"from": sender, "to": [secrets.email_from]})},
        headers={"authorization": f"Basic {basic}"}, timeout=15)
    assert sendgrid.status_code < 500
    forged = httpx.get(f"{relay.gateway_url}/api/issues?token={token}", headers={"authorization": "Bearer nope"})
    assert forged.status_code == 401

    never_logged = {
        "the session token": token,
        "the session token's signature": token.rsplit(".", 1)[1],
        "the demo staff password": demo.PASSWORD,
        "a wrong password": wrong_password,
        "the admin token": relay.admin_token,
        "the token signing secret": relay.jwt_secret,
        "the Twilio auth token": secrets.twilio_auth_token,
        "the Mailgun signing key": secrets.mailgun_signing_key,
        "the Mailgun signature": mailgun_signature(timestamp=timestamp, token=mail_token,
                                                   signing_key=secrets.mailgun_signing_key),
        "the SendGrid password": secrets.sendgrid_password,
        "the SendGrid basic credentials": basic,
    }
    logs = _logs(relay)
    found = [f"{what} in {name}" for name, text in logs.items()
             for what, secret in never_logged.items() if secret in text]
    assert not found, found
    assert any("/ws?token=[redacted]" in text for text in logs.values())  # the line is there, redacted
