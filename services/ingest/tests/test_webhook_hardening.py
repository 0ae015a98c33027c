"""Hostile webhook bodies and paths answer 4xx and store nothing (never a 500)."""

import time
import uuid
from typing import Any

import httpx
import pytest

from relay_stack.signing import mailgun_signature

DEEP = 5000  # far deeper than Python's JSON decoder recurses


def _mailgun(tenant: Any, fields: dict[str, str]) -> httpx.Response:
    stamp, token = str(int(time.time())), uuid.uuid4().hex
    signed = {**fields, "timestamp": stamp, "token": token,
              "signature": mailgun_signature(timestamp=stamp, token=token, signing_key=tenant.mailgun_key)}
    return httpx.post(tenant.webhook_url("mailgun", "inbound"), data=signed, timeout=15)


async def _nothing_recorded(tenant: Any, topics: Any, *, sender: str) -> None:
    """Only the barrier after the refused post reached the topic, and the refused sender is nobody's contact."""
    assert tenant.sms(from_number="+14155550190", body="barrier").status_code == 200
    await topics.wait_for_count(tenant.tenant_id, "inbound.message.received", lambda p: p["text"] == "barrier")
    assert [e["payload"]["text"] for e in topics.of(tenant.tenant_id)] == ["barrier"]
    assert tenant.search(sender) == []


@pytest.mark.parametrize("headers", ["[[" * 500, "[" * DEEP, '{"a":' * DEEP])
async def test_mailgun_message_headers_nested_too_deep_is_refused(tenant, topics, headers) -> None:
    response = _mailgun(tenant, {"sender": "deep@example.com", "recipient": "help@sunrise-cleaners.example",
                                 "body-plain": "hi", "message-headers": headers})
    assert response.status_code == 400, response.text
    await _nothing_recorded(tenant, topics, sender="deep@example.com")


async def test_mailgun_message_headers_that_are_not_json_still_fall_back_to_fields(tenant) -> None:
    response = _mailgun(tenant, {"sender": "plain@example.com", "recipient": "help@sunrise-cleaners.example",
                                 "body-plain": "hi", "message-headers": "not json"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("field", ["envelope", "attachment-info"])
async def test_sendgrid_json_fields_nested_too_deep_are_refused(tenant, topics, field) -> None:
    fields = {"from": "grid@example.com", "to": "help@sunrise-cleaners.example", "text": "hi",
              "envelope": '{"from": "grid@example.com", "to": ["help@sunrise-cleaners.example"]}',
              field: "[" * DEEP}
    response = tenant.post_sendgrid(fields)
    assert response.status_code == 400, response.text
    await _nothing_recorded(tenant, topics, sender="grid@example.com")


@pytest.mark.parametrize("envelope", ['{"from": {"x": 1}, "to": {"y": 2}}', '{"from": 5, "to": 7}'])
async def test_sendgrid_envelope_with_wrong_types_is_not_a_500(tenant, envelope) -> None:
    response = tenant.post_sendgrid({"from": "typed@example.com", "to": "help@sunrise-cleaners.example",
                                     "text": "hi", "envelope": envelope})
    assert response.status_code < 500, response.text


async def test_telnyx_body_nested_too_deep_is_refused(tenant, fake_telnyx, topics) -> None:
    tenant.provision(telnyx_api=fake_telnyx.url)
    for body in (b'{"data":' * DEEP, b"[" * DEEP):
        response = tenant.post_telnyx(body)
        assert response.status_code == 400, response.text
    assert tenant.sms(from_number="+14155550191", body="barrier").status_code == 200
    await topics.wait_for_count(tenant.tenant_id, "inbound.message.received", lambda p: p["text"] == "barrier")
    assert [e["payload"]["text"] for e in topics.of(tenant.tenant_id)] == ["barrier"]


@pytest.mark.parametrize("tenant_part", ["demo%00", "demo%0a", "de%2e%2e", "%2e%2e", "demo%2Fx"])
async def test_a_tenant_path_with_control_or_separator_characters_is_a_4xx(ingest, tenant_part) -> None:
    for provider, hook in (("twilio", "sms"), ("mailgun", "inbound"), ("telnyx", "sms"), ("sendgrid", "inbound")):
        response = httpx.post(f"{ingest.url}/webhooks/{tenant_part}/{provider}/{hook}", data={"a": "b"}, timeout=15)
        assert 400 <= response.status_code < 500, (tenant_part, provider, response.status_code, response.text)


def _raw_sendgrid(tenant: Any, raw: bytes | str) -> httpx.Response:
    return httpx.post(tenant.webhook_url("sendgrid", "inbound"), auth=(tenant.sendgrid_user, tenant.sendgrid_password),
                      files=[("email", (None, raw)), ("envelope", (None, '{"from": "mime@example.com", '
                                                                       '"to": ["help@sunrise-cleaners.example"]}'))],
                      timeout=60)


async def test_a_raw_mime_email_nested_too_deep_is_refused(tenant, topics) -> None:
    nested = "".join(f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n" for i in range(3000))
    raw = ("From: mime@example.com\r\nTo: help@sunrise-cleaners.example\r\nMessage-ID: <deep@example.com>\r\n"
           + nested + "Content-Type: text/plain\r\n\r\nhi\r\n")
    response = _raw_sendgrid(tenant, raw)
    assert response.status_code == 400, response.text
    await _nothing_recorded(tenant, topics, sender="mime@example.com")


@pytest.mark.parametrize("raw", [
    b"From: mime@example.com\r\nContent-Type: text/plain; charset=x-bogus\r\n\r\ncaf\xe9",
    b"From: mime@example.com\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n!!",
    b"From: mime@example.com\r\nContent-Type: text/plain; charset=\"\x00\"\r\n\r\nhi",
])
async def test_a_raw_mime_email_with_a_bogus_charset_or_encoding_is_not_a_500(tenant, raw) -> None:
    assert _raw_sendgrid(tenant, raw).status_code < 500


async def test_a_sendgrid_part_in_another_charset_is_not_a_500(tenant) -> None:
    response = httpx.post(tenant.webhook_url("sendgrid", "inbound"),
                          auth=(tenant.sendgrid_user, tenant.sendgrid_password), timeout=15, files=[
                              ("from", (None, "latin@example.com")), ("to", (None, "help@sunrise-cleaners.example")),
                              ("text", (None, "caf\xe9".encode("latin-1"), "text/plain; charset=iso-8859-1")),
                              ("charsets", (None, '{"text": "iso-8859-1"}'))])
    assert response.status_code < 500, response.text
