"""Telnyx SMS: messages and delivery receipts on one webhook (JSON, signed with Ed25519); replies by the Messages API.

A messaging profile posts every event to one URL, `/webhooks/{tenant}/telnyx/sms`: `message.received` for a
customer's text, `message.sent` and `message.finalized` for the replies we sent (their `to[].status` and
`errors[]`). Each is signed with Telnyx's Ed25519 key over `{telnyx-timestamp}|{raw body}`; the signature is
base64 in `telnyx-signature-ed25519`. A timestamp further from now than the tolerance is refused as a replay.
"""

import base64
import binascii
import json
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import Field, field_validator

from relay_contracts.customer_messages import Attachment, Channel, DeliveryState
from relay_ingest import domain
from relay_ingest.providers.base import (
    Answer,
    ApiBaseUrl,
    BodyKind,
    DeliveryHandle,
    MediaFetcher,
    OutgoingMessage,
    PermanentSendError,
    Provider,
    ProviderMessage,
    ProviderStatus,
    Receipt,
    Secret,
    SenderContext,
    SendReceipt,
    SmsSettings,
    WebhookRejected,
    WebhookRequest,
    fingerprint,
    json_object,
    json_value,
    post_to_api,
)
from relay_kit.errors import BadRequest

NAME = "telnyx"
SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
BLOCKED_BY_STOP = "40300"  # "Blocked due to STOP message": the customer opted out at Telnyx
RECEIVED = "message.received"
RECEIPTS = frozenset({"message.sent", "message.finalized"})

STATES = {
    "queued": DeliveryState.QUEUED,
    "sending": DeliveryState.SENDING,
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "delivery_unconfirmed": DeliveryState.SENT,  # handed to the carrier, which never confirmed: nothing more known
    "delivery_failed": DeliveryState.UNDELIVERED,  # the carrier could not deliver it
    "expired": DeliveryState.UNDELIVERED,
    "sending_failed": DeliveryState.FAILED,  # it never left Telnyx
}
"""A recipient's status in Telnyx's message records as Relay's delivery states."""


class TelnyxSettings(SmsSettings):
    """A tenant's Telnyx account: its API key sends, Telnyx's public key proves the webhooks came from Telnyx."""

    api_key: Secret = Field(min_length=1, max_length=400, description="a Telnyx API key (V2), for sending")
    public_key: str = Field(min_length=40, max_length=100,
                            description="Telnyx's webhook signing public key, base64 (Mission Control: Keys & "
                                        "Credentials, Public Key)")
    messaging_profile_id: str | None = Field(default=None, max_length=100)
    api_base_url: ApiBaseUrl = "https://api.telnyx.com"

    @field_validator("public_key")
    @classmethod
    def _ed25519_key(cls, value: str) -> str:
        public_key(value.strip())
        return value.strip()


def public_key(encoded: str) -> Ed25519PublicKey:
    """Telnyx's public key from its base64 form (32 bytes); ValueError if it is not one."""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("The Telnyx public key is not base64.") from None
    if len(raw) != 32:
        raise ValueError("The Telnyx public key must be 32 bytes (base64 of an Ed25519 key).")
    return Ed25519PublicKey.from_public_bytes(raw)


def signed_payload(*, timestamp: str, body: bytes) -> bytes:
    """What Telnyx signs: the timestamp header, a `|`, then the raw body."""
    return timestamp.encode() + b"|" + body


def signature_matches(*, key: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether the base64 Ed25519 signature is Telnyx's over this timestamp and body."""
    try:
        public_key(key).verify(base64.b64decode(signature, validate=True),
                               signed_payload(timestamp=timestamp, body=body))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


class TelnyxMessaging:
    """The messaging profile's webhook: customers' texts, and delivery receipts for our replies."""

    hook = "sms"
    body = BodyKind.JSON
    media_type = "application/json"
    summary = "Telnyx messaging webhooks (message.received, message.sent, message.finalized)"

    def __init__(self, *, max_skew_seconds: int) -> None:
        self.max_skew_seconds = max_skew_seconds

    def verify(self, request: WebhookRequest, *, settings: TelnyxSettings, now: datetime) -> None:
        given, timestamp = request.headers.get(SIGNATURE_HEADER, ""), request.headers.get(TIMESTAMP_HEADER, "")
        if not (given and timestamp):
            raise WebhookRejected(f"The {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers are needed.",
                                  reason="missing_signature")
        if not signature_matches(key=settings.public_key, timestamp=timestamp, body=request.body, signature=given):
            raise WebhookRejected("The Telnyx signature does not match this request.", reason="bad_signature")
        try:
            skew = abs(now.timestamp() - int(timestamp))
        except ValueError:
            raise WebhookRejected("The telnyx-timestamp is not a number.", reason="bad_signature") from None
        if skew > self.max_skew_seconds:
            raise WebhookRejected(f"The telnyx-timestamp is more than {self.max_skew_seconds} seconds away from now: "
                                  "refused as a possible replay.", reason="stale_signature")

    def read(self, request: WebhookRequest, *, region: str) -> ProviderMessage | ProviderStatus | None:
        data = _event(request.body)
        event_type, payload = data.get("event_type"), data.get("payload")
        if not isinstance(payload, dict) or not isinstance(event_type, str):
            raise BadRequest("A Telnyx event needs data.event_type and data.payload.")
        if event_type == RECEIVED:
            return _message(payload, region=region)
        if event_type in RECEIPTS:
            return _receipt(payload)
        return None

    def answer(self, receipt: Receipt | None) -> Answer:
        return Answer.json(receipt)

    def delivery_handle(self, request: WebhookRequest) -> DeliveryHandle | None:
        """The event's `data.id`, with a digest of `data` (a retry changes only `meta.attempt`)."""
        data = _event(request.body)
        event_id = data.get("id")
        if not isinstance(event_id, str) or not event_id.strip():
            return None
        return DeliveryHandle(handle=event_id.strip(), fingerprint=fingerprint(json.dumps(data, sort_keys=True)),
                              keep_for=timedelta(seconds=2 * self.max_skew_seconds))


def _event(body: bytes) -> dict[str, Any]:
    event = json_value(body, what="The Telnyx webhook body")
    data = event.get("data") if isinstance(event, dict) else None
    if not isinstance(data, dict):
        raise BadRequest("A Telnyx webhook body is an object with `data`.")
    return data


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _phone(value: Any, *, field: str, region: str) -> str:
    number = _text(value.get("phone_number")) if isinstance(value, dict) else ""
    try:
        return domain.normalise_phone(number, region=region)
    except ValueError:
        raise BadRequest(f"{field} {number!r} is not a phone number.") from None


def _message(payload: dict[str, Any], *, region: str) -> ProviderMessage:
    message_id = _text(payload.get("id"))
    if not message_id:
        raise BadRequest("data.payload.id is missing: this is not a Telnyx message.")
    recipients = payload.get("to")
    if not isinstance(recipients, list) or not recipients:
        raise BadRequest("data.payload.to names no recipient.")
    attachments = []
    for media in payload.get("media") or []:
        url = _text(media.get("url")) if isinstance(media, dict) else ""
        if not url:
            raise BadRequest("Every data.payload.media entry needs a url.")
        attachments.append(Attachment(url=url, content_type=_text(media.get("content_type")) or
                                      "application/octet-stream", size=media.get("size")))
    text = payload.get("text")
    return ProviderMessage(
        provider=NAME, channel=Channel.SMS, provider_message_id=message_id,
        from_address=_phone(payload.get("from"), field="data.payload.from", region=region),
        to_address=_phone(recipients[0], field="data.payload.to", region=region),
        text=text if isinstance(text, str) else "", attachments=attachments,
    )


def _receipt(payload: dict[str, Any]) -> ProviderStatus | None:
    message_id = _text(payload.get("id"))
    recipients = payload.get("to")
    first = recipients[0] if isinstance(recipients, list) and recipients else None
    reported = _text(first.get("status")).lower() if isinstance(first, dict) else ""
    if not message_id or not reported:
        raise BadRequest("A Telnyx delivery receipt needs data.payload.id and data.payload.to[].status.")
    status = STATES.get(reported)
    if status is None:
        return None
    code, reason = _first_error(payload.get("errors"))
    return ProviderStatus(provider=NAME, provider_message_id=message_id, status=status, error_code=code,
                          reason=reason)


def _first_error(errors: Any) -> tuple[str | None, str | None]:
    """The code and words of a Telnyx `errors` list's first entry (`{code, title, detail}`)."""
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else None
    if first is None:
        return None, None
    code = str(first["code"]) if first.get("code") not in (None, "") else None
    words = [w for w in (_text(first.get("title")), _text(first.get("detail"))) if w]
    return code, ": ".join(words) or (f"Telnyx error {code}" if code else None)


class TelnyxSender:
    """Sends SMS with `POST /v2/messages`, asking for the receipts at the tenant's Telnyx webhook."""

    def __init__(self, context: SenderContext) -> None:
        self.context = context

    async def send(self, message: OutgoingMessage, *, settings: TelnyxSettings) -> SendReceipt:
        body: dict[str, Any] = {"from": settings.phone_number, "to": message.to_address, "text": message.text}
        if message.status_callback_url:
            body["webhook_url"] = message.status_callback_url
        if settings.messaging_profile_id:
            body["messaging_profile_id"] = settings.messaging_profile_id
        response = await post_to_api(self.context, title="Telnyx", url=f"{settings.api_base_url}/v2/messages",
                                     json=body, headers={"authorization": f"Bearer {settings.api_key}"})
        answer = json_object(response)
        if response.is_success:
            data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
            message_id = data.get("id")
            if not isinstance(message_id, str) or not message_id:
                raise PermanentSendError("Telnyx accepted the message but returned no message id.")
            recipients = data.get("to")
            first = recipients[0] if isinstance(recipients, list) and recipients else {}
            return SendReceipt(provider=NAME, provider_message_id=message_id,
                               provider_status=first.get("status") if isinstance(first, dict) else None)
        code, reason = _first_error(answer.get("errors"))
        raise PermanentSendError(f"Telnyx refused the message: {reason or response.status_code}", code=code,
                                 refused=code == BLOCKED_BY_STOP)


class TelnyxMedia(MediaFetcher):
    """MMS media Telnyx keeps: its `media[].url` is a time-limited signed address that needs no credentials."""

    title = "Telnyx"


PROVIDER = Provider(
    name=NAME, title="Telnyx", channel=Channel.SMS, settings=TelnyxSettings,
    webhooks=lambda settings: (TelnyxMessaging(max_skew_seconds=settings.telnyx_max_skew_seconds),),
    sender=TelnyxSender, status_hook=TelnyxMessaging.hook, media=TelnyxMedia,
)
