"""STOP / START / HELP as carriers require: opt-out recorded, no issue opened, replies refused until START."""

import pytest

from relay_contracts.customer_messages import Channel
from relay_ingest.domain import Keyword, sms_keyword

PHONE = "+14155550160"


@pytest.mark.parametrize(("text", "opted_out", "expected"), [
    ("STOP", False, Keyword.STOP), (" stop. ", False, Keyword.STOP), ("Unsubscribe", False, Keyword.STOP),
    ("stopall", False, Keyword.STOP), ("Cancel", False, Keyword.STOP), ("end", False, Keyword.STOP),
    ("QUIT!", False, Keyword.STOP), ("start", True, Keyword.START), ("UNSTOP", False, Keyword.START),
    ("yes", True, Keyword.START), ("help", False, Keyword.HELP), ("Info", False, Keyword.HELP),
    ("yes", False, None), ("please stop by at noon", False, None), ("Stop the press!", False, None),
    ("revoke", False, Keyword.STOP), ("OPTOUT", False, Keyword.STOP), ("opt out", False, Keyword.STOP),
    ("Stop All", False, Keyword.STOP), ("un stop", False, Keyword.START), ("IN FO", False, Keyword.HELP),
])
def test_keywords_are_whole_messages_and_yes_resubscribes_only_the_opted_out(text, opted_out, expected) -> None:
    assert sms_keyword(text, opted_out=opted_out) == expected


async def test_stop_opts_out_opens_nothing_and_refuses_replies_until_start(tenant, topics, fake_twilio, reply) -> None:
    tenant.provision(twilio_api=fake_twilio.url)
    first = tenant.sms(from_number=PHONE, body="Is the dress ready?")
    assert first.status_code == 200
    [opened] = await topics.wait_for_count(tenant.tenant_id, "inbound.message.received")
    customer_id = opened["payload"]["customer_id"]

    stop = tenant.sms(from_number=PHONE, body="Stop")
    assert stop.status_code == 200
    assert stop.headers["content-type"].startswith("text/xml")
    assert "<Message>You have been unsubscribed from Sunrise Dry Cleaners" in stop.text
    assert tenant.customer(customer_id).json()["opted_out_sms"] is True

    refused = await reply(tenant_id=tenant.tenant_id, customer_id=customer_id, channel=Channel.SMS,
                          to_address=PHONE, text="Yes, ready since Monday")
    [status] = await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed",
                                     lambda p: p["outbound_id"] == refused.outbound_id)
    assert status["payload"]["status"] == "refused"
    assert "STOP" in status["payload"]["reason"] and "START" in status["payload"]["reason"]
    assert fake_twilio.requests == []

    start = tenant.sms(from_number=PHONE, body="START")
    assert start.status_code == 200 and "resubscribed" in start.text
    assert tenant.customer(customer_id).json()["opted_out_sms"] is False
    allowed = await reply(tenant_id=tenant.tenant_id, customer_id=customer_id, channel=Channel.SMS,
                          to_address=PHONE, text="Welcome back!")
    [sent] = await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed",
                                   lambda p: p["outbound_id"] == allowed.outbound_id)
    assert sent["payload"]["status"] == "sent"
    assert [r["form"]["Body"] for r in fake_twilio.accepted] == ["Welcome back!"]

    # the keywords themselves opened nothing: only the first message was announced
    inbound = topics.of(tenant.tenant_id, "inbound.message.received")
    assert [e["payload"]["text"] for e in inbound] == ["Is the dress ready?"]


async def test_help_is_answered_and_a_plain_yes_is_an_ordinary_message(tenant, topics) -> None:
    help_answer = tenant.sms(from_number=PHONE, body="HELP")
    assert help_answer.status_code == 200
    assert "Reply STOP to unsubscribe" in help_answer.text
    yes = tenant.sms(from_number=PHONE, body="Yes")
    assert yes.status_code == 200 and yes.text.endswith("<Response/>")
    [event] = await topics.wait_for_count(tenant.tenant_id, "inbound.message.received")
    assert event["payload"]["text"] == "Yes"
    assert len(topics.of(tenant.tenant_id)) == 1


def test_a_retried_stop_gets_the_same_answer(tenant) -> None:
    form = tenant.sms_form(from_number=PHONE, body="STOP")
    first, retry = tenant.post_sms(form), tenant.post_sms(form)
    assert first.status_code == retry.status_code == 200
    assert first.text == retry.text and "unsubscribed" in retry.text
