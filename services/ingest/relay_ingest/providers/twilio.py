"""Twilio SMS: inbound SMS/MMS webhooks, message status callbacks, and sending through the Messages API."""

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

from pydantic import Field

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
    form_fingerprint,
    json_object,
    post_to_api,
    same_origin,
)
from relay_kit.errors import BadRequest

NAME = "twilio"
SIGNATURE_HEADER = "x-twilio-signature"
IDEMPOTENCY_HEADER = "i-twilio-idempotency-token"  # the same on every retry of one webhook delivery
IDEMPOTENCY_KEPT = timedelta(hours=24)
TWIML = "text/xml"
UNSUBSCRIBED_ERROR = 21610  # "Attempt to send to unsubscribed recipient": the customer replied STOP

STATES = {
    "accepted": DeliveryState.QUEUED,
    "scheduled": DeliveryState.QUEUED,
    "queued": DeliveryState.QUEUED,
    "sending": DeliveryState.SENDING,
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.DELIVERED,
    "undelivered": DeliveryState.UNDELIVERED,
    "failed": DeliveryState.FAILED,
    "canceled": DeliveryState.FAILED,
}
"""Twilio's MessageStatus values as Relay's delivery states."""


class TwilioSettings(SmsSettings):
    """A tenant's Twilio account: its auth token signs webhooks and authorises sending."""

    account_sid: str = Field(min_length=2, max_length=64)
    auth_token: Secret = Field(min_length=1, max_length=200)
    api_base_url: ApiBaseUrl = "https://api.twilio.com"


def signature(*, url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """Twilio's X-Twilio-Signature: base64 HMAC-SHA1, keyed by the auth token, of the full URL
    followed by each POST parameter's name and value, sorted by name (values of a repeated name sorted too)."""
    by_name: dict[str, set[str]] = {}
    for name, value in params:
        by_name.setdefault(name, set()).add(value)
    data = url + "".join(name + value for name in sorted(by_name) for value in sorted(by_name[name]))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twiml(message: str | None = None) -> str:
    """A TwiML answer: empty, or one SMS back to the sender."""
    if message is None:
        return '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(message)}</Message></Response>'


class _Signed:
    """Every Twilio webhook is a form signed with the tenant's auth token over the URL it was posted to."""

    body = BodyKind.FORM
    media_type = TWIML

    def verify(self, request: WebhookRequest, *, settings: TwilioSettings, now: datetime) -> None:
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not given:
            raise WebhookRejected("The X-Twilio-Signature header is missing.", reason="missing_signature")
        expected = signature(url=request.public_url, params=request.fields, auth_token=settings.auth_token)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookRejected("The X-Twilio-Signature does not match this request.", reason="bad_signature")

    def answer(self, receipt: Receipt | None) -> Answer:
        return Answer(body=twiml(receipt.reply if receipt else None), media_type=TWIML)

    def delivery_handle(self, request: WebhookRequest) -> DeliveryHandle | None:
        """Twilio's I-Twilio-Idempotency-Token, when it sends one, with a digest of the signed form."""
        token = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not token:
            return None
        return DeliveryHandle(handle=token, fingerprint=form_fingerprint(request), keep_for=IDEMPOTENCY_KEPT)


class TwilioSms(_Signed):
    """Inbound SMS and MMS; answered with TwiML (a keyword's confirmation, or nothing)."""

    hook = "sms"
    summary = "Twilio inbound SMS/MMS"

    def read(self, request: WebhookRequest, *, region: str) -> ProviderMessage:
        form = request.form()
        sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
        if not sid.strip():
            raise BadRequest("MessageSid is missing: this is not a Twilio message webhook.")
        try:
            from_number = domain.normalise_phone(form.get("From", ""), region=region)
        except ValueError:
            raise BadRequest(f"From {form.get('From', '')!r} is not a phone number.") from None
        try:
            to_number = domain.normalise_phone(form.get("To", ""), region=region)
        except ValueError:
            raise BadRequest(f"To {form.get('To', '')!r} is not a phone number.") from None
        try:
            media_count = int(form.get("NumMedia") or 0)
        except ValueError:
            raise BadRequest("NumMedia is not a number.") from None
        if not 0 <= media_count <= 20:
            raise BadRequest("NumMedia must be between 0 and 20.")
        attachments = []
        for n in range(media_count):
            url = form.get(f"MediaUrl{n}")
            if not url:
                raise BadRequest(f"NumMedia is {media_count} but MediaUrl{n} is missing.")
            attachments.append(Attachment(url=url, content_type=form.get(f"MediaContentType{n}") or
                                          "application/octet-stream"))
        return ProviderMessage(
            provider=NAME, channel=Channel.SMS, provider_message_id=sid.strip(), from_address=from_number,
            to_address=to_number, text=form.get("Body", ""), attachments=attachments,
        )


class TwilioStatus(_Signed):
    """Status callbacks for messages we sent (MessageStatus, ErrorCode)."""

    hook = "status"
    summary = "Twilio message status callbacks"

    def read(self, request: WebhookRequest, *, region: str) -> ProviderStatus | None:
        form = request.form()
        sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
        reported = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
        if not sid or not reported:
            raise BadRequest("A status callback needs MessageSid and MessageStatus.")
        status = STATES.get(reported)
        if status is None:
            return None
        error_code = (form.get("ErrorCode") or "").strip() or None
        reason = form.get("ErrorMessage") or (f"Twilio error {error_code}" if error_code else None)
        return ProviderStatus(provider=NAME, provider_message_id=sid, status=status, error_code=error_code,
                              reason=reason)


class TwilioSender:
    """Sends SMS through Twilio's REST Messages API, asking for status callbacks."""

    def __init__(self, context: SenderContext) -> None:
        self.context = context

    async def send(self, message: OutgoingMessage, *, settings: TwilioSettings) -> SendReceipt:
        form = {"To": message.to_address, "From": settings.phone_number, "Body": message.text}
        if message.status_callback_url:
            form["StatusCallback"] = message.status_callback_url
        response = await post_to_api(
            self.context, title="Twilio", data=form, auth=(settings.account_sid, settings.auth_token),
            url=f"{settings.api_base_url}/2010-04-01/Accounts/{settings.account_sid}/Messages.json",
        )
        body = json_object(response)
        if response.is_success:
            sid = body.get("sid")
            if not isinstance(sid, str) or not sid:
                raise PermanentSendError("Twilio accepted the message but returned no message sid.")
            return SendReceipt(provider=NAME, provider_message_id=sid, provider_status=body.get("status"))
        code = body.get("code")
        reason = body.get("message") or f"Twilio refused the message ({response.status_code})."
        raise PermanentSendError(f"Twilio refused the message: {reason}", code=str(code) if code is not None else None,
                                 refused=code == UNSUBSCRIBED_ERROR)


class TwilioMedia(MediaFetcher):
    """MMS media at Twilio's API (MediaUrlN): fetched with the account's credentials when the account requires
    HTTP basic authentication for media; Twilio redirects to its CDN, where the credentials are not sent."""

    title = "Twilio"

    def credentials(self, url: str, *, settings: TwilioSettings | None) -> tuple[str, str] | None:
        if settings is None or not same_origin(url, settings.api_base_url):
            return None
        return settings.account_sid, settings.auth_token


PROVIDER = Provider(
    name=NAME, title="Twilio", channel=Channel.SMS, settings=TwilioSettings,
    webhooks=lambda _: (TwilioSms(), TwilioStatus()), sender=TwilioSender, status_hook=TwilioStatus.hook,
    media=TwilioMedia,
)
