"""SendGrid Inbound Parse: emails posted as multipart forms, protected by per-tenant HTTP basic auth.

Inbound Parse signs nothing, so the documented protection is credentials in the webhook URL
(`https://user:password@host/webhooks/{tenant}/sendgrid/inbound`), checked here.
"""

import base64
import binascii
import hmac
from datetime import datetime
from typing import Any

from pydantic import Field

from relay_contracts.customer_messages import Channel
from relay_ingest.providers import mail
from relay_ingest.providers.base import (
    Answer,
    BodyKind,
    ProviderMessage,
    ProviderSettings,
    Provider,
    Receipt,
    Secret,
    UploadedFile,
    WebhookRejected,
    WebhookRequest,
    json_value,
)
from relay_kit.errors import BadRequest

NAME = "sendgrid"
CHALLENGE = 'Basic realm="relay-webhooks"'


class SendGridSettings(ProviderSettings):
    """Inbound Parse has no signature: the webhook URL carries these HTTP basic credentials."""

    basic_auth_user: str = Field(min_length=1, max_length=200)
    basic_auth_password: Secret = Field(min_length=8, max_length=200)


class SendGridInbound:
    """Inbound Parse in its default (parsed fields) or raw (`email` field with the whole MIME) mode."""

    hook = "inbound"
    body = BodyKind.FORM
    media_type = "application/json"
    summary = "SendGrid Inbound Parse (parsed or raw mode)"

    def verify(self, request: WebhookRequest, *, settings: SendGridSettings, now: datetime) -> None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            raise WebhookRejected("This webhook needs HTTP basic credentials.", reason="missing_credentials",
                                  challenge=CHALLENGE)
        try:
            user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise WebhookRejected("The basic credentials are not readable.", reason="bad_credentials",
                                  challenge=CHALLENGE) from None
        good_user = hmac.compare_digest(user.encode(), settings.basic_auth_user.encode())
        good_password = hmac.compare_digest(password.encode(), settings.basic_auth_password.encode())
        if not (good_user and good_password):
            raise WebhookRejected("The basic credentials are wrong.", reason="bad_credentials", challenge=CHALLENGE)

    def read(self, request: WebhookRequest, *, region: str) -> ProviderMessage:
        form = request.form()
        envelope = _envelope(form.get("envelope"))
        envelope_to = ", ".join(envelope.get("to") or []) or None
        envelope_from = envelope.get("from") or None
        if form.get("email"):
            return mail.inbound_email_from_mime(provider=NAME, raw=form["email"].encode("utf-8", "surrogateescape"),
                                                envelope_from=envelope_from, envelope_to=envelope_to)
        if "from" not in form:
            raise BadRequest("This is not an Inbound Parse post: the 'from' field is missing.")
        headers = mail.parse_header_block(form.get("headers", ""))
        files = _named_files(request.files, form.get("attachment-info"))
        return mail.inbound_email(
            provider=NAME, from_header=form.get("from"), envelope_from=envelope_from, to_header=form.get("to"),
            envelope_to=envelope_to, subject=form.get("subject"), text=form.get("text"), html=form.get("html"),
            message_id=headers.get("Message-ID"), in_reply_to=headers.get("In-Reply-To"),
            references=headers.get("References"), content_type=headers.get("Content-Type"), files=files,
            extra_bounce_texts=[form.get("headers", "")],
        )

    def answer(self, receipt: Receipt | None) -> Answer:
        return Answer.json(receipt)

    def delivery_handle(self, request: WebhookRequest) -> None:
        """Inbound Parse sends no per-delivery handle (retries are told apart by Message-ID)."""
        return None


def _envelope(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    envelope = json_value(raw, what="The 'envelope' field")
    if not isinstance(envelope, dict):
        raise BadRequest("The 'envelope' field is not a JSON object.")
    to = envelope.get("to")
    if isinstance(to, str):
        envelope["to"] = [to]
    else:
        envelope["to"] = [t for t in to if isinstance(t, str)] if isinstance(to, list) else []
    if not isinstance(envelope.get("from"), str):
        envelope["from"] = None
    return envelope


def _named_files(files: list[UploadedFile], info_raw: str | None) -> list[UploadedFile]:
    """Attachments with the filename and type that `attachment-info` gives them."""
    info = json_value(info_raw, what="The 'attachment-info' field") if info_raw else {}
    named = []
    for upload in files:
        meta = info.get(upload.field) if isinstance(info, dict) else None
        meta = meta if isinstance(meta, dict) else {}
        filename, content_type = meta.get("filename"), meta.get("type")
        named.append(UploadedFile(
            field=upload.field, filename=filename if isinstance(filename, str) and filename else upload.filename,
            content_type=content_type if isinstance(content_type, str) and content_type else upload.content_type,
            content=upload.content,
        ))
    return named


PROVIDER = Provider(name=NAME, title="SendGrid", channel=Channel.EMAIL, settings=SendGridSettings,
                    webhooks=lambda _: (SendGridInbound(),))
