"""Mailgun routes: emails forwarded as forms, signed with HMAC-SHA256 of timestamp + token."""

import hashlib
import hmac
import json
from datetime import datetime, timedelta

from pydantic import Field

from relay_contracts.customer_messages import Channel
from relay_ingest.providers import mail
from relay_ingest.providers.base import (
    Answer,
    BodyKind,
    DeliveryHandle,
    Provider,
    ProviderMessage,
    ProviderSettings,
    Receipt,
    Secret,
    WebhookRejected,
    WebhookRequest,
    form_fingerprint,
)
from relay_kit.errors import BadRequest

NAME = "mailgun"


def signature(*, timestamp: str, token: str, signing_key: str) -> str:
    """Mailgun's webhook signature: hex HMAC-SHA256, keyed by the signing key, of timestamp followed by token."""
    return hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


class MailgunSettings(ProviderSettings):
    """The key Mailgun signs its webhooks with."""

    signing_key: Secret = Field(min_length=1, max_length=200)


class MailgunInbound:
    """A route's `forward()` to our URL (fields: sender, recipient, body-plain, stripped-text, ...)."""

    hook = "inbound"
    body = BodyKind.FORM
    media_type = "application/json"
    summary = "Mailgun route forward()"

    def __init__(self, *, max_skew_seconds: int) -> None:
        self.max_skew_seconds = max_skew_seconds

    def verify(self, request: WebhookRequest, *, settings: MailgunSettings, now: datetime) -> None:
        timestamp, token, given = (request.get(k) or "" for k in ("timestamp", "token", "signature"))
        if not (timestamp and token and given):
            raise WebhookRejected("The Mailgun signature (timestamp, token, signature) is missing.",
                                  reason="missing_signature")
        expected = signature(timestamp=timestamp, token=token, signing_key=settings.signing_key)
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

    def read(self, request: WebhookRequest, *, region: str) -> ProviderMessage:
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

    def answer(self, receipt: Receipt | None) -> Answer:
        return Answer.json(receipt)

    def delivery_handle(self, request: WebhookRequest) -> DeliveryHandle:
        """Mailgun signs only timestamp + token, not the body: each token is accepted with one content only.

        It is kept for twice the freshness window (a timestamp may be that far from now either way), after which
        its signature is refused as stale anyway.
        """
        return DeliveryHandle(handle=request.get("token") or "", fingerprint=form_fingerprint(request),
                              keep_for=timedelta(seconds=2 * self.max_skew_seconds))


def _headers(raw: str | None) -> dict[str, str]:
    """Mailgun's `message-headers`: a JSON list of [name, value] pairs (names lower-cased here)."""
    if not raw:
        return {}
    try:
        pairs = json.loads(raw)
    except RecursionError:
        raise BadRequest("The 'message-headers' field nests too deeply to be read.") from None
    except ValueError:
        return {}  # not JSON: the headers also come as their own fields
    found: dict[str, str] = {}
    for pair in pairs if isinstance(pairs, list) else []:
        if isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair):
            found.setdefault(pair[0].lower(), pair[1])
    return found


PROVIDER = Provider(
    name=NAME, title="Mailgun", channel=Channel.EMAIL, settings=MailgunSettings,
    webhooks=lambda settings: (MailgunInbound(max_skew_seconds=settings.mailgun_max_skew_seconds),),
)
