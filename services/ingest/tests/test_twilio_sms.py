"""Inbound SMS from Twilio: the documented signature, E.164 senders, MMS media, and refusals that publish nothing."""

import base64
import re
from datetime import UTC, datetime

import httpx
import pytest

from relay_ingest.providers.twilio import signature
from relay_stack.signing import twilio_signature

from .conftest import PNG

# Twilio's own worked examples ("Validating requests"): auth token 12345, this URL and these parameters.
EXAMPLE_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
EXAMPLE_TOKEN = "12345"


def _example_params(caller: str) -> dict[str, str]:
    return {"CallSid": "CA1234567890ABCDE", "Caller": caller, "Digits": "1234", "From": caller, "To": "+18005551212"}


@pytest.mark.parametrize(("caller", "published"), [
    ("+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc="),  # the security docs' current example
    ("+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),  # the helper libraries' validation docs
    ("+12349013030", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),  # the older security docs
])
def test_signature_matches_twilios_published_examples(caller: str, published: str) -> None:
    params = list(_example_params(caller).items())
    assert signature(url=EXAMPLE_URL, params=params, auth_token=EXAMPLE_TOKEN) == published
    assert signature(url=EXAMPLE_URL, params=list(reversed(params)), auth_token=EXAMPLE_TOKEN) == published
    assert signature(url=EXAMPLE_URL.replace("foo=1", "foo=2"), params=params, auth_token=EXAMPLE_TOKEN) != published


async def test_signed_sms_is_announced_with_e164_sender_and_arrival_time(tenant, topics) -> None:
    before = datetime.now(UTC)
    response = tenant.sms(from_number="(415) 555-0101", body="Is my suit ready?")
    after = datetime.now(UTC)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text.endswith("<Response/>")
    # answered only after the broker acknowledged: the event is already on the topic
    [event] = topics.of(tenant.tenant_id, "inbound.message.received") or await topics.wait_for_count(
        tenant.tenant_id, "inbound.message.received")
    payload = event["payload"]
    assert payload["from_address"] == "+14155550101"
    assert payload["to_address"] == tenant.phone_number
    assert payload["channel"] == "sms" and payload["provider"] == "twilio"
    assert payload["text"] == "Is my suit ready?"
    assert payload["unknown_contact"] is True
    assert before <= datetime.fromisoformat(payload["received_at"]) <= after
    assert event["_key"] == f"{tenant.tenant_id}:{payload['customer_id']}"
    customer = tenant.customer(payload["customer_id"]).json()
    assert customer["phones"] == ["+14155550101"] and customer["unknown_contact"] is True


async def test_mms_pictures_are_announced_by_the_attachment_route_and_served_to_staff(tenant, topics,
                                                                                      media_host) -> None:
    tenant.provision(twilio_api=media_host.url)  # media URLs are Twilio's API, which wants the account's credentials
    stain = media_host.put(f"/2010-04-01/Accounts/{tenant.account_sid}/Messages/MM1/Media/ME1", PNG, "image/png")
    response = tenant.sms(from_number="+14155550177", body="The stain, see photo", media=[(stain, "image/png")])
    assert response.status_code == 200, response.text

    [event] = await topics.wait_for_count(tenant.tenant_id, "inbound.message.received")
    payload = event["payload"]
    [attachment] = payload["attachments"]
    assert attachment["content_type"] == "image/png"
    assert re.fullmatch(rf"/api/customers/{payload['customer_id']}/attachments/att_[0-9a-f]{{32}}", attachment["url"])

    picture = tenant.api("GET", attachment["url"])
    assert picture.status_code == 200, picture.text
    assert picture.headers["content-type"].startswith("image/") and picture.content == PNG
    assert picture.headers["content-disposition"].startswith("inline")
    fetched_with = {headers.get("authorization") for path, headers in media_host.requests}
    expected = "Basic " + base64.b64encode(f"{tenant.account_sid}:{tenant.twilio_token}".encode()).decode()
    assert fetched_with == {expected}
    assert tenant.api("GET", attachment["url"], headers=tenant.staff("another-tenant")).status_code == 404
    assert httpx.get(f"{tenant.ingest.url}{attachment['url']}").status_code == 401


async def test_a_picture_the_provider_no_longer_has_is_404_and_an_unreachable_one_502(tenant, topics,
                                                                                      media_host) -> None:
    tenant.provision(twilio_api=media_host.url)
    gone, away = f"{media_host.url}/Media/deleted", "http://127.0.0.1:9/Media/ME2"
    response = tenant.sms(from_number="+14155550178", body="photos", media=[(gone, "image/jpeg"), (away, "image/jpeg")])
    assert response.status_code == 200, response.text
    [event] = await topics.wait_for_count(tenant.tenant_id, "inbound.message.received")
    first, second = (a["url"] for a in event["payload"]["attachments"])
    assert tenant.api("GET", first).json()["error"]["code"] == "media_gone"
    unreachable = tenant.api("GET", second)
    assert unreachable.status_code == 502 and unreachable.json()["error"]["code"] == "media_unavailable"


async def test_forged_tampered_and_missing_signatures_are_refused_and_publish_nothing(tenant, topics) -> None:
    form = tenant.sms_form(from_number="+14155550123", body="forged")
    assert tenant.post_sms(form, auth_token="not-the-tenants-token").status_code == 401
    tampered = tenant.sms_form(from_number="+14155550123", body="original")
    signed_for_original = twilio_signature(url=tenant.webhook_url("twilio", "sms"), params=tampered,
                                           auth_token=tenant.twilio_token)
    tampered["Body"] = "changed after signing"
    assert tenant.post_sms(tampered, signature=signed_for_original).status_code == 401
    missing = tenant.post_sms(tenant.sms_form(from_number="+14155550123", body="unsigned"), signature="")
    assert missing.status_code == 401
    assert "X-Twilio-Signature" in missing.json()["error"]["message"]
    assert "Traceback" not in missing.text

    barrier = tenant.sms(from_number="+14155550123", body="the real one")  # same customer, same partition
    assert barrier.status_code == 200
    await topics.wait_for_count(tenant.tenant_id, "inbound.message.received", lambda p: p["text"] == "the real one")
    assert [e["payload"]["text"] for e in topics.of(tenant.tenant_id)] == ["the real one"]
    metrics = httpx.get(f"{tenant.ingest.url}/metrics").text
    assert 'relay_webhooks_rejected_total{provider="twilio",reason="bad_signature"}' in metrics
    assert 'relay_webhooks_rejected_total{provider="twilio",reason="missing_signature"}' in metrics


async def test_signature_over_another_url_is_refused(tenant, topics) -> None:
    form = tenant.sms_form(from_number="+14155550124", body="signed for the wrong address")
    wrong_url = "http://127.0.0.1:8000" + f"/webhooks/{tenant.tenant_id}/twilio/sms?x=1"
    forged = twilio_signature(url=wrong_url, params=form, auth_token=tenant.twilio_token)
    assert tenant.post_sms(form, signature=forged).status_code == 401


def test_webhook_for_an_unknown_tenant_is_404_and_stores_nothing(tenant) -> None:
    form = tenant.sms_form(from_number="+14155550125", body="hello")
    response = tenant.post_sms(form, tenant_id="no-such-tenant")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_tenant"
    assert "no-such-tenant" in response.json()["error"]["message"]
