"""A captured signature is accepted once: a replay with another body is refused, a true provider retry is not."""

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from relay_stack.signing import mailgun_signature, twilio_signature


def _signed_mailgun(tenant: Any, fields: dict[str, str]) -> dict[str, str]:
    """Mailgun fields with one fresh timestamp/token/signature, as a captured request would carry them."""
    stamp, token = str(int(time.time())), uuid.uuid4().hex
    return {**fields, "timestamp": stamp, "token": token,
            "signature": mailgun_signature(timestamp=stamp, token=token, signing_key=tenant.mailgun_key)}


def _email(text: str, *, sender: str = "replay@example.com") -> dict[str, str]:
    return {"sender": sender, "recipient": "help@sunrise-cleaners.example", "subject": "Hello",
            "body-plain": text, "Message-Id": f"<{uuid.uuid4().hex}@example.com>"}


async def _texts_after_barrier(tenant: Any, topics: Any, send_barrier: Any) -> list[str]:
    assert send_barrier().status_code == 200
    await topics.wait_for_count(tenant.tenant_id, "inbound.message.received", lambda p: p["text"] == "barrier")
    return [e["payload"]["text"] for e in topics.of(tenant.tenant_id, "inbound.message.received")]


async def test_a_captured_mailgun_signature_is_accepted_once_with_one_body(tenant, topics) -> None:
    signed = _signed_mailgun(tenant, _email("the real message"))
    url = tenant.webhook_url("mailgun", "inbound")
    first = httpx.post(url, data=signed, timeout=15)
    assert first.status_code == 200, first.text

    for forged in ("send the refund to me", "and again"):
        replay = httpx.post(url, data={**signed, **_email(forged, sender="attacker@example.com")}, timeout=15)
        assert replay.status_code == 401, replay.text
        assert replay.json()["error"]["code"] == "unauthorized"
        assert "replay" in replay.json()["error"]["message"]

    texts = await _texts_after_barrier(tenant, topics, lambda: tenant.post_mailgun(_email("barrier")))
    assert texts == ["the real message", "barrier"]
    assert tenant.search("attacker@example.com") == []


async def test_a_mailgun_retry_of_the_same_signed_post_is_answered_and_recorded_once(tenant, topics) -> None:
    signed = _signed_mailgun(tenant, _email("are my shirts ready?"))
    url = tenant.webhook_url("mailgun", "inbound")
    first, retry = httpx.post(url, data=signed, timeout=15), httpx.post(url, data=signed, timeout=15)
    assert (first.status_code, retry.status_code) == (200, 200), retry.text
    assert retry.json() == {"status": "duplicate", "message_id": first.json()["message_id"]}
    texts = await _texts_after_barrier(tenant, topics, lambda: tenant.post_mailgun(_email("barrier")))
    assert texts == ["are my shirts ready?", "barrier"]


async def test_a_mailgun_retry_framed_as_multipart_is_still_a_retry(tenant, topics) -> None:
    signed = _signed_mailgun(tenant, _email("framing differs"))
    url = tenant.webhook_url("mailgun", "inbound")
    assert httpx.post(url, data=signed, timeout=15).status_code == 200
    multipart = httpx.post(url, files=[(name, (None, value)) for name, value in signed.items()], timeout=15)
    assert multipart.status_code == 200, multipart.text
    assert multipart.json()["status"] == "duplicate"


@pytest.fixture
def telnyx_tenant(tenant, fake_telnyx):
    tenant.provision(telnyx_api=fake_telnyx.url)
    return tenant


async def test_a_telnyx_retry_with_a_new_attempt_number_is_recorded_once(telnyx_tenant, telnyx_events,
                                                                         topics) -> None:
    tenant = telnyx_tenant
    event = telnyx_events.received(from_number="+14155550170", to_number=tenant.telnyx_number, text="telnyx once")
    first = tenant.post_telnyx(event)
    event["meta"]["attempt"] = 2  # Telnyx retries the same event, counting its attempts
    retry = tenant.post_telnyx(event)
    assert (first.status_code, retry.status_code) == (200, 200), retry.text
    assert retry.json()["status"] == "duplicate"
    texts = await _texts_after_barrier(tenant, topics, lambda: tenant.telnyx_sms(from_number="+14155550170",
                                                                                 text="barrier"))
    assert texts == ["telnyx once", "barrier"]


async def test_a_telnyx_event_id_seen_with_other_content_is_refused(telnyx_tenant, telnyx_events, topics) -> None:
    tenant = telnyx_tenant
    event = telnyx_events.received(from_number="+14155550171", to_number=tenant.telnyx_number, text="original")
    assert tenant.post_telnyx(event).status_code == 200
    other = json.loads(json.dumps(event))
    other["data"]["payload"]["id"] = str(uuid.uuid4())
    other["data"]["payload"]["text"] = "a different message under the same event id"
    refused = tenant.post_telnyx(other)
    assert refused.status_code == 401, refused.text
    texts = await _texts_after_barrier(tenant, topics, lambda: tenant.telnyx_sms(from_number="+14155550171",
                                                                                 text="barrier"))
    assert texts == ["original", "barrier"]


def _post_twilio(tenant: Any, form: dict[str, str], *, idempotency_token: str) -> httpx.Response:
    url = tenant.webhook_url("twilio", "sms")
    headers = {"X-Twilio-Signature": twilio_signature(url=url, params=form, auth_token=tenant.twilio_token),
               "I-Twilio-Idempotency-Token": idempotency_token}
    return httpx.post(url, data=form, headers=headers, timeout=15)


async def test_twilio_idempotency_token_tells_a_retry_from_other_content(tenant, topics) -> None:
    token = str(uuid.uuid4())
    form = tenant.sms_form(from_number="+14155550172", body="twilio once")
    first, retry = _post_twilio(tenant, form, idempotency_token=token), _post_twilio(tenant, form,
                                                                                   idempotency_token=token)
    assert (first.status_code, retry.status_code) == (200, 200), retry.text
    other = tenant.sms_form(from_number="+14155550172", body="other content, same token")
    assert _post_twilio(tenant, other, idempotency_token=token).status_code == 401
    texts = await _texts_after_barrier(tenant, topics, lambda: tenant.sms(from_number="+14155550172", body="barrier"))
    assert texts == ["twilio once", "barrier"]


async def test_the_same_token_is_independent_per_tenant(make_tenant, topics) -> None:
    first, second = make_tenant(), make_tenant()
    stamp, token = str(int(time.time())), uuid.uuid4().hex
    for tenant in (first, second):
        fields = {**_email("each tenant its own"), "timestamp": stamp, "token": token,
                  "signature": mailgun_signature(timestamp=stamp, token=token, signing_key=tenant.mailgun_key)}
        response = httpx.post(tenant.webhook_url("mailgun", "inbound"), data=fields, timeout=15)
        assert response.status_code == 200, response.text


async def test_a_mailgun_token_is_remembered_across_a_kill_and_restart(kafka_bootstrap, tmp_path) -> None:
    from relay_stack.processes import ServiceProcess

    from .conftest import ADMIN_TOKEN, JWT_SECRET, Tenant

    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "RELAY_ADMIN_TOKEN": ADMIN_TOKEN,
           "RELAY_JWT_SECRET": JWT_SECRET, "RELAY_LOG_JSON": "false", "RELAY_DATA_DIR": str(tmp_path / "data"),
           "RELAY_OUTBOX_SWEEP_SECONDS": "0.5"}
    process = ServiceProcess("ingest", env=env, log_dir=tmp_path)
    process.env["RELAY_PUBLIC_URL"] = process.url
    try:
        process.start().wait_ready(timeout=60)
        tenant = Tenant(ingest=process)
        tenant.provision()
        signed = _signed_mailgun(tenant, _email("before the crash"))
        url = tenant.webhook_url("mailgun", "inbound")
        assert httpx.post(url, data=signed, timeout=15).status_code == 200
        process.process.kill()  # kill -9: no drain, no shutdown hook
        process.process.wait(timeout=15)
        process.start().wait_ready(timeout=60)
        replay = httpx.post(url, data={**signed, **_email("after the crash", sender="attacker@example.com")},
                            timeout=15)
        assert replay.status_code == 401, replay.text
        retry = httpx.post(url, data=signed, timeout=15)
        assert retry.status_code == 200 and retry.json()["status"] == "duplicate", retry.text
    finally:
        process.stop()
