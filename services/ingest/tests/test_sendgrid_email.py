"""Inbound email through SendGrid Inbound Parse: basic credentials, parsed headers, attachments kept by reference."""

import json
import uuid

import httpx

PHOTO = b"\x89PNG\r\n\x1a\n" + b"stain photo" * 100


def _parse_fields(*, message_id: str, sender: str = "omar@example.com", text: str = "Is my coat ready?") -> dict:
    headers = (f"Received: by mx.sendgrid.net\r\nMessage-ID: {message_id}\r\n"
               "In-Reply-To: <relay.out_9.demo@sunrise-cleaners.example>\r\n"
               "References: <relay.out_9.demo@sunrise-cleaners.example>\r\n"
               f"From: =?utf-8?q?Omar_Hadd=C3=A1d?= <{sender}>\r\nTo: help@sunrise-cleaners.example\r\n"
               "Subject: Coat\r\nContent-Type: multipart/mixed; boundary=xyz\r\n")
    return {
        "headers": headers, "from": f"=?utf-8?q?Omar_Hadd=C3=A1d?= <{sender}>",
        "to": "help@sunrise-cleaners.example", "subject": "Coat", "text": text,
        "html": f"<p>{text}</p>", "envelope": json.dumps({"to": ["help@sunrise-cleaners.example"], "from": sender}),
        "charsets": json.dumps({"to": "UTF-8", "subject": "UTF-8", "from": "UTF-8", "text": "UTF-8"}),
        "SPF": "pass", "attachments": "0",
    }


async def test_inbound_parse_needs_the_tenants_basic_credentials(tenant, topics) -> None:
    sender = f"{uuid.uuid4().hex[:8]}@example.com"
    missing = tenant.post_sendgrid(_parse_fields(message_id="<a@x>", sender=sender), auth=False)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Basic")
    wrong = tenant.post_sendgrid(_parse_fields(message_id="<b@x>", sender=sender), auth=("parse", "wrong-password"))
    assert wrong.status_code == 401

    good = tenant.post_sendgrid(_parse_fields(message_id="<c@x>", sender=sender, text="the real one"))
    assert good.status_code == 200, good.text
    await topics.wait_for_count(tenant.tenant_id, "inbound.message.received")
    assert [e["payload"]["text"] for e in topics.of(tenant.tenant_id)] == ["the real one"]


async def test_parsed_email_keeps_headers_and_attachments_by_reference(tenant, make_tenant, topics) -> None:
    message_id = f"<{uuid.uuid4().hex}@mail.example.com>"
    fields = _parse_fields(message_id=message_id)
    fields.update({"attachments": "1", "attachment-info": json.dumps(
        {"attachment1": {"filename": "stain.png", "name": "stain.png", "type": "image/png"}})})
    response = tenant.post_sendgrid(fields, files=[("attachment1", ("stain.png", PHOTO, "image/png"))])
    assert response.status_code == 200, response.text

    [event] = await topics.wait_for_count(tenant.tenant_id, "inbound.message.received")
    payload = event["payload"]
    assert payload["from_address"] == "omar@example.com"
    assert payload["customer_name"] == "Omar Haddád"  # encoded words decoded by the email package
    assert payload["threading"]["message_id"] == message_id
    assert payload["threading"]["in_reply_to"] == "<relay.out_9.demo@sunrise-cleaners.example>"
    [attachment] = payload["attachments"]
    assert attachment["filename"] == "stain.png" and attachment["content_type"] == "image/png"
    assert attachment["size"] == len(PHOTO)
    assert attachment["url"].startswith(f"/api/customers/{payload['customer_id']}/attachments/")

    download = httpx.get(tenant.ingest.url + attachment["url"], headers=tenant.staff())
    assert download.status_code == 200
    assert download.content == PHOTO and download.headers["content-type"] == "image/png"
    other = make_tenant()
    assert httpx.get(tenant.ingest.url + attachment["url"], headers=other.staff()).status_code == 404
    assert httpx.get(tenant.ingest.url + attachment["url"]).status_code == 401


async def test_html_only_email_becomes_plain_text(tenant, topics) -> None:
    fields = _parse_fields(message_id=f"<{uuid.uuid4().hex}@x>")
    fields.pop("text")
    fields["html"] = "<html><head><style>p{}</style></head><body><p>Hello&nbsp;there,</p><p>is it <b>ready</b>?</p>"
    assert tenant.post_sendgrid(fields).status_code == 200
    [event] = await topics.wait_for_count(tenant.tenant_id, "inbound.message.received")
    assert event["payload"]["text"] == "Hello there,\n\nis it ready?"
