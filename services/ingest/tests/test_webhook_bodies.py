"""Malformed and oversize webhook bodies: a clear 4xx, nothing stored, nothing published."""

import httpx

from relay_stack.signing import twilio_signature

SENDER = "+14155550140"


def _signed_post(tenant, form: dict[str, str], **kwargs) -> httpx.Response:
    return tenant.post_sms(form, **kwargs)


async def _only_the_barrier_was_published(tenant, topics) -> None:
    """Send a good message from the same sender (same partition) and check it is all that arrived."""
    assert tenant.sms(from_number=SENDER, body="barrier").status_code == 200
    await topics.wait_for_count(tenant.tenant_id, "inbound.message.received", lambda p: p["text"] == "barrier")
    assert [e["payload"]["text"] for e in topics.of(tenant.tenant_id)] == ["barrier"]


async def test_malformed_twilio_bodies_are_refused_and_store_nothing(tenant, topics) -> None:
    no_sid = tenant.sms_form(from_number=SENDER, body="no sid")
    no_sid.pop("MessageSid")
    assert _signed_post(tenant, no_sid).status_code == 400

    bad_sender = tenant.sms_form(from_number="not-a-number", body="bad sender")
    response = _signed_post(tenant, bad_sender)
    assert response.status_code == 400
    assert "From" in response.json()["error"]["message"]

    missing_media = tenant.sms_form(from_number=SENDER, body="media promised")
    missing_media["NumMedia"] = "2"
    assert _signed_post(tenant, missing_media).status_code == 400

    url = tenant.webhook_url("twilio", "sms")
    as_json = httpx.post(url, json=tenant.sms_form(from_number=SENDER, body="json"),
                         headers={"X-Twilio-Signature": "x"})
    assert as_json.status_code == 415
    garbage = httpx.post(url, content=b"\xff\xfe\x00not form", headers={
        "content-type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"})
    assert garbage.status_code == 400
    for refused in (as_json, garbage):
        assert refused.json()["error"]["message"] and "Traceback" not in refused.text

    assert tenant.search(SENDER) == []  # no customer was created
    await _only_the_barrier_was_published(tenant, topics)


async def test_malformed_multipart_is_refused(tenant) -> None:
    response = httpx.post(
        tenant.webhook_url("sendgrid", "inbound"), auth=(tenant.sendgrid_user, tenant.sendgrid_password),
        content=b"--nope\r\nContent-Disposition: form-data\r\n\r\nbroken",
        headers={"content-type": "multipart/form-data; boundary=other"},
    )
    assert response.status_code == 400
    bad_envelope = tenant.post_sendgrid({"from": "a@example.com", "to": "help@x.example", "text": "hi",
                                         "envelope": "{not json"})
    assert bad_envelope.status_code == 400
    assert "envelope" in bad_envelope.json()["error"]["message"]


async def test_oversize_bodies_are_refused_with_413_whether_announced_or_streamed(tenant, topics) -> None:
    form = tenant.sms_form(from_number=SENDER, body="x" * 400_000)
    url = tenant.webhook_url("twilio", "sms")
    signed = twilio_signature(url=url, params=form, auth_token=tenant.twilio_token)
    announced = httpx.post(url, data=form, headers={"X-Twilio-Signature": signed})
    assert announced.status_code == 413
    assert announced.json()["error"]["code"] == "payload_too_large"

    body = httpx.QueryParams(form).__str__().encode()

    def chunks():
        for start in range(0, len(body), 64_000):
            yield body[start:start + 64_000]

    streamed = httpx.post(url, content=chunks(), headers={
        "content-type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signed})
    assert streamed.status_code == 413

    assert tenant.search(SENDER) == []
    await _only_the_barrier_was_published(tenant, topics)
