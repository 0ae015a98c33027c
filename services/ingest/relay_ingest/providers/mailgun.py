"""Mailgun routes: emails forwarded as forms, signed with HMAC-SHA256 of timestamp + token."""

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any, ClassVar

from relay_contracts.customer_messages import Channel
from relay_ingest import mail
from relay_ingest.domain import InboundMessage, Receipt
from relay_ingest.providers.base import Answer, WebhookRejected, WebhookRequest, provider_settings
from relay_kit.errors import NotFound

NAME = "mailgun"


def signature(*, timestamp: str, token: str, signing_key: str) -> str:
    """Mailgun's webhook signature: hex HMAC-SHA256, keyed by the signing key, of timestamp followed by token."""
    return hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


class MailgunInbound:
    """A route's `forward()` to our URL (fields: sender, recipient, body-plain, stripped-text, ...)."""

    name: ClassVar[str] = NAME
    hook: ClassVar[str] = "inbound"
    channel: ClassVar[Channel] = Channel.EMAIL

    def __init__(self, *, max_skew_seconds: int) -> None:
        self.max_skew_seconds = max_skew_seconds

    def verify(self, request: WebhookRequest, *, tenant: dict[str, Any], now: datetime) -> None:
        settings = provider_settings(tenant, "mailgun")
        if not settings:
            raise NotFound(f"Mailgun is not set up for tenant {request.tenant_id!r}.", code="provider_not_configured")
        timestamp, token, given = (request.get(k) or "" for k in ("timestamp", "token", "signature"))
        if not (timestamp and token and given):
            raise WebhookRejected("The Mailgun signature (timestamp, token, signature) is missing.",
                                  reason="missing_signature")
        expected = signature(timestamp=timestamp, token=token, signing_key=settings["signing_key"])
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookRejected("The Mailgun signature does not match.", reason="bad_signature")
        try:
            skew = abs(now.timestamp() - float(timestamp))
        except ValueError:
            raise WebhookRejected("The Mailgun timestamp is not a number.", reason="bad_signature") from None
        if skew > self.max_skew_seconds:
            raise WebhookRejected(
                f"The Mailgun timestamp is more than {self.max_skew_seconds // 60} minutes away from now: "
                "refused as a possible replay.", reason="stale_signature")

    def parse(self, request: WebhookRequest, *, tenant: dict[str, Any], region: str) -> InboundMessage:
        form = request.form()
        headers = _headers(form.get("message-headers"))
        text = form.get("stripped-text") or form.get("body-plain")
        return mail.inbound_email(
            provider=NAME, from_header=form.get("from") or headers.get("from"), envelope_from=form.get("sender"),
            to_header=form.get("To") or headers.get("to"), envelope_to=form.get("recipient"),
            subject=form.get("subject") or headers.get("subject"), text=text,
            html=form.get("stripped-html") or form.get("body-html"),
            message_id=form.get("Message-Id") or headers.get("message-id"),
            in_reply_to=form.get("In-Reply-To") or headers.get("in-reply-to"),
            references=form.get("References") or headers.get("references"),
            content_type=form.get("Content-Type") or headers.get("content-type"), files=list(request.files),
            extra_bounce_texts=[form.get("body-plain") or "", form.get("message-headers") or ""],
        )

    def answer(self, receipt: Receipt) -> Answer:
        return Answer(body=json.dumps({"status": "duplicate" if receipt.duplicate else "accepted",
                                       "message_id": receipt.message_id}), media_type="application/json")


def _headers(raw: str | None) -> dict[str, str]:
    """Mailgun's `message-headers`: a JSON list of [name, value] pairs (names lower-cased here)."""
    if not raw:
        return {}
    try:
        pairs = json.loads(raw)
    except ValueError:
        return {}
    found: dict[str, str] = {}
    for pair in pairs if isinstance(pairs, list) else []:
        if isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair):
            found.setdefault(pair[0].lower(), pair[1])
    return found
