"""Replies by SMS through Twilio's Messages API: sent once, retried on 5xx, followed by status callbacks."""

import pytest

from relay_contracts import new_event
from relay_contracts.customer_messages import Channel

PHONE = "+14155550170"


def _statuses(topics, tenant, outbound_id: str) -> list[str]:
    return [e["payload"]["status"] for e in topics.of(tenant.tenant_id, "delivery.status.changed")
            if e["payload"]["outbound_id"] == outbound_id]


async def test_reply_goes_to_twilio_and_its_status_callbacks_flow_back(tenant, topics, fake_twilio, reply) -> None:
    tenant.provision(twilio_api=fake_twilio.url)
    request = await reply(tenant_id=tenant.tenant_id, customer_id="cus_jane", channel=Channel.SMS,
                          to_address="(415) 555-0170", text="Your suit is ready.")
    [sent] = await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed", lambda p: p["status"] == "sent")
    [accepted] = fake_twilio.accepted
    assert accepted["path"] == f"/2010-04-01/Accounts/{tenant.account_sid}/Messages.json"
    assert accepted["auth"] == f"{tenant.account_sid}:{tenant.twilio_token}"
    assert accepted["form"]["To"] == PHONE and accepted["form"]["From"] == tenant.phone_number
    assert accepted["form"]["Body"] == "Your suit is ready."
    assert accepted["form"]["StatusCallback"] == tenant.webhook_url("twilio", "status")
    payload = sent["payload"]
    assert (payload["outbound_id"], payload["issue_id"]) == (request.outbound_id, request.issue_id)
    assert payload["provider_message_id"] == accepted["sid"] and payload["channel"] == "sms"
    assert sent["_key"] == f"{tenant.tenant_id}:cus_jane"

    assert fake_twilio.report(accepted, status="sent", auth_token=tenant.twilio_token).status_code == 200
    delivered = fake_twilio.report(accepted, status="delivered", auth_token=tenant.twilio_token)
    assert delivered.status_code == 200 and delivered.text.endswith("<Response/>")
    await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed", lambda p: p["status"] == "delivered")
    forged = fake_twilio.report(accepted, status="failed", auth_token="not-the-token")
    assert forged.status_code == 401
    late_queued = fake_twilio.report(accepted, status="queued", auth_token=tenant.twilio_token)
    assert late_queued.status_code == 200  # out of order: acknowledged, changes nothing
    assert tenant.sms(from_number="+14155550199", body="barrier").status_code == 200
    await topics.wait_for_count(tenant.tenant_id, "inbound.message.received")
    assert _statuses(topics, tenant, request.outbound_id) == ["sent", "delivered"]


async def test_a_callback_that_beats_the_send_answer_is_applied_after_it(tenant, topics, fake_twilio, reply) -> None:
    fake_twilio.report_before_answer = "delivered"
    tenant.provision(twilio_api=fake_twilio.url)
    request = await reply(tenant_id=tenant.tenant_id, customer_id="cus_fast", channel=Channel.SMS,
                          to_address=PHONE, text="Quick one")
    await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed", lambda p: p["status"] == "delivered")
    assert fake_twilio.early_answers == [200]
    assert _statuses(topics, tenant, request.outbound_id) == ["sent", "delivered"]


async def test_undelivered_callback_carries_the_error_code(tenant, topics, fake_twilio, reply) -> None:
    tenant.provision(twilio_api=fake_twilio.url)
    request = await reply(tenant_id=tenant.tenant_id, customer_id="cus_x", channel=Channel.SMS,
                          to_address=PHONE, text="Hello")
    await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed", lambda p: p["status"] == "sent")
    fake_twilio.report(fake_twilio.accepted[0], status="undelivered", error_code="30003",
                       auth_token=tenant.twilio_token)
    [undelivered] = await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed",
                                          lambda p: p["status"] == "undelivered")
    assert undelivered["payload"]["error_code"] == "30003"
    assert undelivered["payload"]["outbound_id"] == request.outbound_id


async def test_a_failure_reported_after_delivered_is_recorded(tenant, topics, fake_twilio, reply) -> None:
    """A carrier can report a failure after its delivery receipt: that is the later word, never dropped."""
    tenant.provision(twilio_api=fake_twilio.url)
    request = await reply(tenant_id=tenant.tenant_id, customer_id="cus_late", channel=Channel.SMS,
                          to_address=PHONE, text="Ready tomorrow")
    await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed", lambda p: p["status"] == "sent")
    [accepted] = fake_twilio.accepted
    assert fake_twilio.report(accepted, status="delivered", auth_token=tenant.twilio_token).status_code == 200
    failed = fake_twilio.report(accepted, status="undelivered", error_code="30005", auth_token=tenant.twilio_token)
    assert failed.status_code == 200
    [undelivered] = await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed",
                                                lambda p: p["status"] == "undelivered")
    assert undelivered["payload"]["error_code"] == "30005"
    assert _statuses(topics, tenant, request.outbound_id) == ["sent", "delivered", "undelivered"]


async def test_5xx_is_retried_until_accepted_and_the_reply_is_sent_once(tenant, topics, fake_twilio, reply,
                                                                       publish_event) -> None:
    fake_twilio.failures = 2
    tenant.provision(twilio_api=fake_twilio.url)
    request = await reply(tenant_id=tenant.tenant_id, customer_id="cus_retry", channel=Channel.SMS,
                          to_address=PHONE, text="Third time lucky", outbound_id="out_retry_1")
    await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed", lambda p: p["status"] == "sent")
    assert len(fake_twilio.requests) == 3
    assert [a["form"]["Body"] for a in fake_twilio.accepted] == ["Third time lucky"]

    # the same request delivered again (a redelivery, or a second publish) is not sent again
    await publish_event(new_event(request, tenant_id=tenant.tenant_id, producer="issues"))
    barrier = await reply(tenant_id=tenant.tenant_id, customer_id="cus_retry", channel=Channel.SMS,
                          to_address=PHONE, text="barrier")  # same customer: same partition, handled after
    await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed", lambda p: p["outbound_id"] ==
                          barrier.outbound_id)
    assert [a["form"]["Body"] for a in fake_twilio.accepted] == ["Third time lucky", "barrier"]
    assert _statuses(topics, tenant, request.outbound_id) == ["sent"]


@pytest.mark.parametrize("status_code", [400])
async def test_a_refusal_by_twilio_fails_the_reply_with_its_reason(tenant, topics, fake_twilio, reply,
                                                                   status_code) -> None:
    fake_twilio.refuse_with = (status_code, 21211, "The 'To' number +14155550170 is not a valid phone number.")
    tenant.provision(twilio_api=fake_twilio.url)
    await reply(tenant_id=tenant.tenant_id, customer_id="cus_y", channel=Channel.SMS, to_address=PHONE, text="Hi")
    [failed] = await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed")
    assert failed["payload"]["status"] == "failed"
    assert failed["payload"]["error_code"] == "21211"
    assert "not a valid phone number" in failed["payload"]["reason"]
    assert len(fake_twilio.requests) == 1  # a 4xx is not retried


async def test_an_unreachable_twilio_fails_after_bounded_attempts(tenant, topics, reply) -> None:
    tenant.provision(twilio_api="http://127.0.0.1:9")  # nothing listens
    await reply(tenant_id=tenant.tenant_id, customer_id="cus_z", channel=Channel.SMS, to_address=PHONE, text="Hi")
    [failed] = await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed")
    assert failed["payload"]["status"] == "failed"
    assert "Gave up after 4 attempts" in failed["payload"]["reason"]
