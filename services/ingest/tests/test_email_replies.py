"""Replies by email over SMTP, threaded under the customer's message; bounces mark them, opening nothing."""

import json
import uuid

from relay_contracts.customer_messages import Channel, EmailThreading

CUSTOMER = "mei.tanaka@example.com"


def _customer_email(tenant, *, message_id: str) -> None:
    response = tenant.post_mailgun({
        "sender": CUSTOMER, "from": f"Mei Tanaka <{CUSTOMER}>", "recipient": tenant.email_from,
        "subject": "Hemming my trousers", "body-plain": "How long does hemming take?\n\n-- \nMei",
        "Message-Id": message_id, "References": "<order-123@shop.example>",
    })
    assert response.status_code == 200, response.text


def _dsn(*, returned_message_id: str, recipient: str) -> str:
    """A delivery-status notification (RFC 3464) as a mail server sends it back."""
    return (
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.com>\r\n"
        f"To: help@sunrise-cleaners.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@mx.example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"\r\n\r\n'
        "--BOUNDARY\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\r\n"
        "--BOUNDARY\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 The email account that you tried to reach does not exist\r\n\r\n"
        "--BOUNDARY\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: help@sunrise-cleaners.example\r\nTo: {recipient}\r\nSubject: Re: Hemming my trousers\r\n"
        f"Message-ID: {returned_message_id}\r\n\r\n--BOUNDARY--\r\n"
    )


async def test_email_reply_threads_under_the_customers_message(tenant, topics, smtp_sink, reply) -> None:
    tenant.provision(smtp_port=smtp_sink.port)
    message_id = f"<{uuid.uuid4().hex}@mail.example.com>"
    _customer_email(tenant, message_id=message_id)
    [inbound] = await topics.wait_for_count(tenant.tenant_id, "inbound.message.received")
    assert inbound["payload"]["text"] == "How long does hemming take?"
    threading = EmailThreading.model_validate(inbound["payload"]["threading"])

    request = await reply(tenant_id=tenant.tenant_id, customer_id=inbound["payload"]["customer_id"],
                          channel=Channel.EMAIL, to_address=CUSTOMER, text="About two days.", threading=threading)
    [sent] = await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed", lambda p: p["status"] == "sent")
    [email] = smtp_sink.messages
    assert smtp_sink.envelopes == [(tenant.email_from, [CUSTOMER])]
    assert email["In-Reply-To"] == message_id
    assert email["References"].split() == ["<order-123@shop.example>", message_id]
    assert email["Subject"] == "Re: Hemming my trousers"
    assert email["From"] == f"Sunrise Dry Cleaners <{tenant.email_from}>"
    assert email.get_content().strip() == "About two days."
    assert sent["payload"]["provider_message_id"] == email["Message-ID"]
    assert sent["payload"]["outbound_id"] == request.outbound_id and sent["payload"]["channel"] == "email"


async def test_reply_without_threading_threads_under_the_latest_email(tenant, topics, smtp_sink, reply) -> None:
    tenant.provision(smtp_port=smtp_sink.port)
    message_id = f"<{uuid.uuid4().hex}@mail.example.com>"
    _customer_email(tenant, message_id=message_id)
    [inbound] = await topics.wait_for_count(tenant.tenant_id, "inbound.message.received")
    await reply(tenant_id=tenant.tenant_id, customer_id=inbound["payload"]["customer_id"], channel=Channel.EMAIL,
                to_address=CUSTOMER, text="Two days.")
    await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed", lambda p: p["status"] == "sent")
    [email] = smtp_sink.messages
    assert email["In-Reply-To"] == message_id
    assert email["Subject"] == "Re: Hemming my trousers"


async def test_bounce_marks_the_reply_bounced_and_opens_nothing(tenant, topics, smtp_sink, reply) -> None:
    tenant.provision(smtp_port=smtp_sink.port)
    request = await reply(tenant_id=tenant.tenant_id, customer_id="cus_mei", channel=Channel.EMAIL,
                          to_address="nobody@example.com", text="Your order is ready", subject="Your order")
    await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed", lambda p: p["status"] == "sent")
    [email] = smtp_sink.messages

    raw = _dsn(returned_message_id=email["Message-ID"], recipient="nobody@example.com")
    response = tenant.post_sendgrid({"email": raw, "to": tenant.email_from, "from": "MAILER-DAEMON@mx.example.com",
                                     "envelope": json.dumps({"to": [tenant.email_from], "from": ""})})
    assert response.status_code == 200, response.text
    [bounced] = await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed",
                                      lambda p: p["status"] == "bounced")
    assert bounced["payload"]["outbound_id"] == request.outbound_id
    assert "550 5.1.1" in bounced["payload"]["reason"]
    assert bounced["payload"]["error_code"] == "5.1.1"
    assert topics.of(tenant.tenant_id, "inbound.message.received") == []
    assert tenant.search("mailer-daemon") == []  # the mailer daemon did not become a customer


async def test_unreachable_smtp_server_fails_the_reply_after_bounded_attempts(tenant, topics, reply) -> None:
    await reply(tenant_id=tenant.tenant_id, customer_id="cus_z", channel=Channel.EMAIL, to_address=CUSTOMER,
                text="Hello")
    [failed] = await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed")
    assert failed["payload"]["status"] == "failed"
    assert "Gave up after 4 attempts" in failed["payload"]["reason"]
