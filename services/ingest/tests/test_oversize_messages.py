"""A message no carrier delivers and no broker takes is refused at the edge, before anything is recorded."""

import httpx

from relay_stack.processes import ServiceProcess
from relay_stack.signing import twilio_signature

from .conftest import ADMIN_TOKEN, JWT_SECRET, Tenant


async def test_an_sms_far_beyond_any_carrier_is_refused_before_recording(tenant, topics) -> None:
    response = tenant.sms(from_number="+14155550180", body="x" * 200_000)
    assert response.status_code == 413, response.text
    assert tenant.sms(from_number="+14155550181", body="barrier").status_code == 200
    await topics.wait_for_count(tenant.tenant_id, "inbound.message.received", lambda p: p["text"] == "barrier")
    assert [e["payload"]["text"] for e in topics.of(tenant.tenant_id)] == ["barrier"]
    assert tenant.search("+14155550180") == []


async def test_a_3_mb_signed_sms_or_a_huge_email_is_refused_and_the_next_one_goes_through(kafka_bootstrap, topics, tmp_path) -> None:
    process = ServiceProcess("ingest", env={
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "RELAY_ADMIN_TOKEN": ADMIN_TOKEN, "RELAY_JWT_SECRET": JWT_SECRET,
        "RELAY_OUTBOX_SWEEP_SECONDS": "0.5", "RELAY_LOG_JSON": "false", "RELAY_MONGODB_DATABASE": "relay_ingest_big",
    }, log_dir=tmp_path)  # the default body limit (10 MB), as in the embedded stack
    process.env["RELAY_PUBLIC_URL"] = process.url
    process.start()
    try:
        process.wait_ready(timeout=60)
        tenant = Tenant(ingest=process)
        tenant.provision()
        url = tenant.webhook_url("twilio", "sms")
        form = tenant.sms_form(from_number="+14155550182", body="x" * 3_000_000)
        response = httpx.post(url, data=form, timeout=60, headers={
            "X-Twilio-Signature": twilio_signature(url=url, params=form, auth_token=tenant.twilio_token)})
        assert response.status_code == 413, response.text
        email = {"sender": "huge@example.com", "recipient": "help@sunrise-cleaners.example", "subject": "Hi",
                 "body-plain": "é" * 260_000}  # 520 kB of UTF-8 text: its event would not fit the broker
        assert tenant.post_mailgun(email).status_code == 413
        assert tenant.search("huge@example.com") == []
        assert tenant.sms(from_number="+14155550183", body="behind the big one").status_code == 200
        await topics.wait_for_count(tenant.tenant_id, "inbound.message.received",
                                    lambda p: p["text"] == "behind the big one")
        assert [e["payload"]["text"] for e in topics.of(tenant.tenant_id)] == ["behind the big one"]
    finally:
        process.stop()
