"""Telnyx SMS: Ed25519-signed JSON webhooks for messages and receipts, replies through the Messages API."""

import base64
import json
import time
import uuid

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relay_contracts.customer_messages import Channel
from relay_ingest.providers import telnyx

from .conftest import PNG

CUSTOMER = "+14155550230"

# RFC 8032, section 7.1, TEST 1 and TEST 2: Ed25519 public keys, messages and signatures as published.
RFC8032 = [
    ("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe"
     "24655141438e7a100b"),
    ("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302a"
     "eeb00d291612bb0c00"),
]


def _statuses(topics, tenant, outbound_id: str) -> list[str]:
    return [e["payload"]["status"] for e in topics.of(tenant.tenant_id, "delivery.status.changed")
            if e["payload"]["outbound_id"] == outbound_id]


@pytest.fixture
def telnyx_tenant(tenant, fake_telnyx):
    """A tenant whose texts go out through (a fake) Telnyx."""
    tenant.provision(telnyx_api=fake_telnyx.url)
    return tenant


@pytest.mark.parametrize(("public_key", "message", "signature"), RFC8032)
def test_the_public_key_is_read_as_telnyx_shows_it_and_checks_published_signatures(public_key, message,
                                                                                   signature) -> None:
    key = telnyx.public_key(base64.b64encode(bytes.fromhex(public_key)).decode())
    key.verify(bytes.fromhex(signature), bytes.fromhex(message))
    tampered = bytearray(bytes.fromhex(signature))
    tampered[0] ^= 1
    with pytest.raises(InvalidSignature):
        key.verify(bytes(tampered), bytes.fromhex(message))


def test_the_signature_covers_the_timestamp_a_bar_and_the_raw_body(telnyx_events) -> None:
    key = Ed25519PrivateKey.generate()
    body = json.dumps(telnyx_events.received(from_number=CUSTOMER, to_number="+15550100099", text="hi")).encode()
    headers = telnyx_events.headers(body, key=key, timestamp=1_764_000_000)
    assert base64.b64decode(headers["telnyx-signature-ed25519"]) == key.sign(b"1764000000|" + body)
    public = telnyx_events.public_key(key)
    signed = {"key": public, "timestamp": "1764000000", "signature": headers["telnyx-signature-ed25519"]}
    assert telnyx.signature_matches(body=body, **signed)
    assert not telnyx.signature_matches(body=body.replace(b"hi", b"ho"), **signed)
    assert not telnyx.signature_matches(body=body, **{**signed, "timestamp": "1764000001"})
    another_key = telnyx_events.public_key(Ed25519PrivateKey.generate())
    assert not telnyx.signature_matches(body=body, **{**signed, "key": another_key})
    assert not telnyx.signature_matches(body=body, **{**signed, "signature": "not base64!"})


async def test_a_signed_message_is_announced_with_its_e164_sender(telnyx_tenant, topics) -> None:
    message_id = str(uuid.uuid4())
    response = telnyx_tenant.telnyx_sms(from_number="(415) 555-0230", text="Is my coat ready?", message_id=message_id)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "accepted"

    [event] = await topics.wait_for_count(telnyx_tenant.tenant_id, "inbound.message.received")
    payload = event["payload"]
    assert payload["provider"] == "telnyx" and payload["channel"] == "sms"
    assert payload["provider_message_id"] == message_id and payload["message_id"] == response.json()["message_id"]
    assert payload["from_address"] == CUSTOMER and payload["to_address"] == telnyx_tenant.telnyx_number
    assert payload["text"] == "Is my coat ready?"
    assert event["_key"] == f"{telnyx_tenant.tenant_id}:{payload['customer_id']}"
    assert telnyx_tenant.customer(payload["customer_id"]).json()["phones"] == [CUSTOMER]


async def test_mms_media_are_served_through_the_attachment_route(telnyx_tenant, topics, media_host) -> None:
    stain = media_host.put("/1/stain.jpg?X-Amz-Signature=abc", PNG, "image/jpeg")
    response = telnyx_tenant.telnyx_sms(from_number=CUSTOMER, text="See the stain", media=[(stain, "image/jpeg")])
    assert response.status_code == 200, response.text
    [event] = await topics.wait_for_count(telnyx_tenant.tenant_id, "inbound.message.received")
    [attachment] = event["payload"]["attachments"]
    assert attachment["content_type"] == "image/jpeg"
    assert attachment["url"].startswith(f"/api/customers/{event['payload']['customer_id']}/attachments/att_")
    picture = telnyx_tenant.api("GET", attachment["url"])
    assert picture.status_code == 200 and picture.content == PNG
    assert picture.headers["content-type"] == "image/jpeg"
    assert all("authorization" not in headers for _, headers in media_host.requests)  # a signed URL needs none


async def test_a_retried_webhook_is_recorded_once(telnyx_tenant, topics, telnyx_events) -> None:
    event = telnyx_events.received(from_number=CUSTOMER, to_number=telnyx_tenant.telnyx_number, text="only once")
    first, retry = telnyx_tenant.post_telnyx(event), telnyx_tenant.post_telnyx(event)  # re-signed, later timestamp
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.json() == {"status": "duplicate", "message_id": first.json()["message_id"]}
    assert telnyx_tenant.telnyx_sms(from_number=CUSTOMER, text="barrier").status_code == 200
    await topics.wait_for_count(telnyx_tenant.tenant_id, "inbound.message.received", lambda p: p["text"] == "barrier")
    assert [e["payload"]["text"] for e in topics.of(telnyx_tenant.tenant_id)] == ["only once", "barrier"]


async def test_stale_forged_tampered_and_unsigned_webhooks_are_refused_and_publish_nothing(
        telnyx_tenant, topics, telnyx_events) -> None:
    def event(text: str) -> dict:
        return telnyx_events.received(from_number=CUSTOMER, to_number=telnyx_tenant.telnyx_number, text=text)

    stale = telnyx_tenant.post_telnyx(event("stale"), timestamp=time.time() - 301)
    assert stale.status_code == 401
    assert "replay" in stale.json()["error"]["message"]
    assert telnyx_tenant.post_telnyx(event("future"), timestamp=time.time() + 600).status_code == 401
    assert telnyx_tenant.post_telnyx(event("forged"), key=Ed25519PrivateKey.generate()).status_code == 401
    body = json.dumps(event("original")).encode()
    signed_for_original = telnyx_events.headers(body, key=telnyx_tenant.telnyx_key)
    tampered = body.replace(b"original", b"changed!")
    assert telnyx_tenant.post_telnyx(tampered, headers=signed_for_original).status_code == 401
    unsigned = telnyx_tenant.post_telnyx(event("unsigned"), headers={"content-type": "application/json"})
    assert unsigned.status_code == 401
    assert "telnyx-signature-ed25519" in unsigned.json()["error"]["message"]
    assert telnyx_tenant.post_telnyx(event("in time"), timestamp=time.time() - 200).status_code == 200

    await topics.wait_for_count(telnyx_tenant.tenant_id, "inbound.message.received")
    assert [e["payload"]["text"] for e in topics.of(telnyx_tenant.tenant_id)] == ["in time"]
    metrics = httpx.get(f"{telnyx_tenant.ingest.url}/metrics").text
    for reason in ("stale_signature", "bad_signature", "missing_signature"):
        assert f'relay_webhooks_rejected_total{{provider="telnyx",reason="{reason}"}}' in metrics


def test_bodies_that_are_not_telnyx_json_are_refused(telnyx_tenant, telnyx_events) -> None:
    form = httpx.post(telnyx_tenant.webhook_url("telnyx", "sms"), data={"text": "hi"}, timeout=15)
    assert form.status_code == 415
    assert telnyx_tenant.post_telnyx(b"{not json").status_code == 400
    no_id = telnyx_events.received(from_number=CUSTOMER, to_number=telnyx_tenant.telnyx_number, text="x")
    no_id["data"]["payload"].pop("id")
    assert telnyx_tenant.post_telnyx(no_id).status_code == 400
    bad_sender = telnyx_events.received(from_number="not-a-number", to_number=telnyx_tenant.telnyx_number, text="x")
    refused = telnyx_tenant.post_telnyx(bad_sender)
    assert refused.status_code == 400 and "from" in refused.json()["error"]["message"]
    other = {"data": {"event_type": "number_order.complete", "payload": {"id": "x"}, "record_type": "event"}}
    assert telnyx_tenant.post_telnyx(other).status_code == 200  # not ours to track: acknowledged
    assert telnyx_tenant.search(CUSTOMER) == []


def test_a_tenant_without_telnyx_gets_404(tenant, telnyx_events) -> None:
    response = tenant.post_telnyx(telnyx_events.received(from_number=CUSTOMER, to_number="+15550100099", text="hi"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "provider_not_configured"


async def test_reply_goes_out_by_the_messages_api_and_receipts_flow_back(telnyx_tenant, topics, fake_telnyx,
                                                                         reply, telnyx_events) -> None:
    request = await reply(tenant_id=telnyx_tenant.tenant_id, customer_id="cus_omar", channel=Channel.SMS,
                          to_address="(415) 555-0230", text="Your coat is ready.")
    [sent] = await topics.wait_for_count(telnyx_tenant.tenant_id, "delivery.status.changed",
                                         lambda p: p["status"] == "sent")
    [accepted] = fake_telnyx.accepted
    assert fake_telnyx.requests[0]["path"] == "/v2/messages"
    assert fake_telnyx.requests[0]["authorization"] == f"Bearer {telnyx_tenant.telnyx_api_key}"
    assert accepted["json"] == {"from": telnyx_tenant.telnyx_number, "to": CUSTOMER, "text": "Your coat is ready.",
                                "webhook_url": telnyx_tenant.webhook_url("telnyx", "sms")}
    assert sent["payload"]["provider_message_id"] == accepted["id"]
    assert sent["payload"]["outbound_id"] == request.outbound_id and sent["payload"]["channel"] == "sms"

    assert telnyx_tenant.post_telnyx(telnyx_events.receipt(accepted, status="sent", event_type="message.sent")) \
        .status_code == 200
    delivered = telnyx_events.receipt(accepted, status="delivered")
    first, retried = telnyx_tenant.post_telnyx(delivered), telnyx_tenant.post_telnyx(delivered)
    assert (first.status_code, retried.status_code) == (200, 200)
    assert first.json() == {"status": "accepted"}
    await topics.wait_for_count(telnyx_tenant.tenant_id, "delivery.status.changed",
                                lambda p: p["status"] == "delivered")
    forged = telnyx_tenant.post_telnyx(telnyx_events.receipt(accepted, status="delivery_failed"),
                                       key=Ed25519PrivateKey.generate())
    assert forged.status_code == 401
    assert telnyx_tenant.telnyx_sms(from_number="+14155550299", text="barrier").status_code == 200
    await topics.wait_for_count(telnyx_tenant.tenant_id, "inbound.message.received")
    assert _statuses(topics, telnyx_tenant, request.outbound_id) == ["sent", "delivered"]


async def test_a_failed_delivery_receipt_carries_telnyx_error_code(telnyx_tenant, topics, fake_telnyx,
                                                                    reply, telnyx_events) -> None:
    request = await reply(tenant_id=telnyx_tenant.tenant_id, customer_id="cus_x", channel=Channel.SMS,
                          to_address=CUSTOMER, text="Hello")
    await topics.wait_for_count(telnyx_tenant.tenant_id, "delivery.status.changed", lambda p: p["status"] == "sent")
    receipt = telnyx_events.receipt(fake_telnyx.accepted[0], status="delivery_failed", errors=[
        {"code": "40008", "title": "Undeliverable", "detail": "The recipient carrier did not accept the message."}])
    assert telnyx_tenant.post_telnyx(receipt).status_code == 200
    [undelivered] = await topics.wait_for_count(telnyx_tenant.tenant_id, "delivery.status.changed",
                                                lambda p: p["status"] == "undelivered")
    assert undelivered["payload"]["outbound_id"] == request.outbound_id
    assert undelivered["payload"]["error_code"] == "40008"
    assert "Undeliverable" in undelivered["payload"]["reason"]


async def test_5xx_is_retried_and_a_stop_block_refuses_the_reply(telnyx_tenant, topics, fake_telnyx, reply) -> None:
    fake_telnyx.failures = 2
    retried = await reply(tenant_id=telnyx_tenant.tenant_id, customer_id="cus_r", channel=Channel.SMS,
                          to_address=CUSTOMER, text="Third time lucky")
    await topics.wait_for_count(telnyx_tenant.tenant_id, "delivery.status.changed",
                                lambda p: p["outbound_id"] == retried.outbound_id)
    assert len(fake_telnyx.requests) == 3
    assert [a["json"]["text"] for a in fake_telnyx.accepted] == ["Third time lucky"]

    fake_telnyx.refuse_with = (409, "40300", "Blocked due to STOP message",
                               f"Messages cannot be sent from '{telnyx_tenant.telnyx_number}' to '{CUSTOMER}' due to "
                               "an existing block rule.")
    blocked = await reply(tenant_id=telnyx_tenant.tenant_id, customer_id="cus_r", channel=Channel.SMS,
                          to_address=CUSTOMER, text="Are you there?")
    [refused] = await topics.wait_for_count(telnyx_tenant.tenant_id, "delivery.status.changed",
                                            lambda p: p["outbound_id"] == blocked.outbound_id)
    assert refused["payload"]["status"] == "refused" and refused["payload"]["error_code"] == "40300"
    assert "Blocked due to STOP message" in refused["payload"]["reason"]
    assert len(fake_telnyx.requests) == 4  # a 4xx is not retried


async def test_stop_and_start_by_telnyx_change_the_subscription_and_open_nothing(telnyx_tenant, topics, fake_telnyx,
                                                                                 reply) -> None:
    assert telnyx_tenant.telnyx_sms(from_number=CUSTOMER, text="Is it ready?").status_code == 200
    [opened] = await topics.wait_for_count(telnyx_tenant.tenant_id, "inbound.message.received")
    customer_id = opened["payload"]["customer_id"]

    stop = telnyx_tenant.telnyx_sms(from_number=CUSTOMER, text="STOP")
    assert stop.status_code == 200 and stop.json()["status"] == "accepted"
    assert telnyx_tenant.customer(customer_id).json()["opted_out_sms"] is True
    refused = await reply(tenant_id=telnyx_tenant.tenant_id, customer_id=customer_id, channel=Channel.SMS,
                          to_address=CUSTOMER, text="Yes, since Monday")
    [status] = await topics.wait_for_count(telnyx_tenant.tenant_id, "delivery.status.changed",
                                           lambda p: p["outbound_id"] == refused.outbound_id)
    assert status["payload"]["status"] == "refused" and "START" in status["payload"]["reason"]
    assert fake_telnyx.requests == []

    assert telnyx_tenant.telnyx_sms(from_number=CUSTOMER, text="start").status_code == 200
    assert telnyx_tenant.customer(customer_id).json()["opted_out_sms"] is False
    assert [e["payload"]["text"] for e in topics.of(telnyx_tenant.tenant_id, "inbound.message.received")] == [
        "Is it ready?"]


async def test_two_tenants_reply_through_their_own_sms_provider(make_tenant, topics, fake_twilio, fake_telnyx,
                                                                reply) -> None:
    on_twilio, on_telnyx = make_tenant(), make_tenant()
    on_twilio.provision(twilio_api=fake_twilio.url)
    shown = on_telnyx.provision(twilio_api=fake_twilio.url, telnyx_api=fake_telnyx.url)
    assert shown["sms_provider"] == "telnyx"
    assert httpx.get(f"{on_twilio.ingest.url}/api/tenants/{on_twilio.tenant_id}",
                     headers=on_twilio.admin).json()["sms_provider"] == "twilio"

    for tenant, text in ((on_twilio, "via Twilio"), (on_telnyx, "via Telnyx")):
        await reply(tenant_id=tenant.tenant_id, customer_id="cus_both", channel=Channel.SMS, to_address=CUSTOMER,
                    text=text)
        [sent] = await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed")
        assert sent["payload"]["status"] == "sent"
    assert [a["form"]["Body"] for a in fake_twilio.accepted] == ["via Twilio"]
    assert [a["json"]["text"] for a in fake_telnyx.accepted] == ["via Telnyx"]


def test_telnyx_settings_are_checked_and_their_secret_masked(tenant, fake_telnyx, telnyx_events) -> None:
    url = f"{tenant.ingest.url}/api/tenants/{tenant.tenant_id}"
    shown = tenant.provision(telnyx_api=fake_telnyx.url)
    assert shown["telnyx"]["api_key"].startswith("****") and tenant.telnyx_api_key not in json.dumps(shown)
    assert shown["telnyx"]["public_key"] == telnyx_events.public_key(tenant.telnyx_key)
    assert shown["telnyx"]["phone_number"] == tenant.telnyx_number

    telnyx_section = {"api_key": "KEY1", "public_key": telnyx_events.public_key(tenant.telnyx_key),
                      "phone_number": "+15550100099"}
    twilio_section = {"account_sid": "AC1", "auth_token": "t", "phone_number": "+15550100000"}
    for body in (
        {"name": "X", "telnyx": {**telnyx_section, "public_key": base64.b64encode(b"short").decode()}},
        {"name": "X", "telnyx": telnyx_section, "twilio": twilio_section},  # both set up: which one sends?
        {"name": "X", "twilio": twilio_section, "sms_provider": "telnyx"},  # chosen but not set up
        {"name": "X", "sms_provider": "carrier-pigeon"},
    ):
        assert httpx.put(url, json=body, headers=tenant.admin).status_code == 422, body
    only_telnyx = httpx.put(url, json={"name": "X", "telnyx": telnyx_section}, headers=tenant.admin)
    assert only_telnyx.status_code == 200 and only_telnyx.json()["sms_provider"] == "telnyx"
