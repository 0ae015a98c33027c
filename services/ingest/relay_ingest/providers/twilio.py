"""Twilio: inbound SMS/MMS webhooks, message status callbacks, and sending through the Messages API."""

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar
from xml.sax.saxutils import escape

import httpx

from relay_contracts.customer_messages import Attachment, Channel
from relay_ingest import domain
from relay_ingest.domain import InboundMessage, OutgoingMessage, ProviderStatus, Receipt, SendReceipt
from relay_ingest.providers.base import Answer, WebhookRejected, WebhookRequest, provider_settings
from relay_kit.errors import BadRequest, NotFound

NAME = "twilio"
SIGNATURE_HEADER = "x-twilio-signature"
TWIML = "text/xml"


def signature(*, url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """Twilio's X-Twilio-Signature: base64 HMAC-SHA1, keyed by the auth token, of the full URL
    followed by each POST parameter's name and value, sorted by name (values of a repeated name sorted too)."""
    by_name: dict[str, set[str]] = {}
    for name, value in params:
        by_name.setdefault(name, set()).add(value)
    data = url + "".join(name + value for name in sorted(by_name) for value in sorted(by_name[name]))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _verify(request: WebhookRequest, *, tenant: dict[str, Any]) -> dict[str, Any]:
    settings = provider_settings(tenant, "twilio")
    if not settings:
        raise NotFound(f"Twilio is not set up for tenant {request.tenant_id!r}.", code="provider_not_configured")
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not given:
        raise WebhookRejected("The X-Twilio-Signature header is missing.", reason="missing_signature")
    expected = signature(url=request.public_url, params=request.fields, auth_token=settings["auth_token"])
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise WebhookRejected("The X-Twilio-Signature does not match this request.", reason="bad_signature")
    return settings


def twiml(message: str | None = None) -> str:
    """A TwiML answer: empty, or one SMS back to the sender."""
    if message is None:
        return '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(message)}</Message></Response>'


class TwilioSms:
    """Inbound SMS and MMS (form-encoded, signed with the tenant's auth token)."""

    name: ClassVar[str] = NAME
    hook: ClassVar[str] = "sms"
    channel: ClassVar[Channel] = Channel.SMS

    def verify(self, request: WebhookRequest, *, tenant: dict[str, Any], now: datetime) -> None:
        _verify(request, tenant=tenant)

    def parse(self, request: WebhookRequest, *, tenant: dict[str, Any], region: str) -> InboundMessage:
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
        return InboundMessage(
            provider=NAME, channel=Channel.SMS, provider_message_id=sid.strip(), from_address=from_number,
            to_address=to_number, text=form.get("Body", ""), attachments=attachments,
        )

    def answer(self, receipt: Receipt) -> Answer:
        return Answer(body=twiml(receipt.reply), media_type=TWIML)


class TwilioStatus:
    """Status callbacks for messages we sent (MessageStatus, ErrorCode), signed like every Twilio webhook."""

    name: ClassVar[str] = NAME
    hook: ClassVar[str] = "status"

    def verify(self, request: WebhookRequest, *, tenant: dict[str, Any], now: datetime) -> None:
        _verify(request, tenant=tenant)

    def parse_status(self, request: WebhookRequest) -> ProviderStatus | None:
        form = request.form()
        sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
        reported = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
        if not sid or not reported:
            raise BadRequest("A status callback needs MessageSid and MessageStatus.")
        status = domain.TWILIO_STATES.get(reported)
        if status is None:
            return None
        error_code = (form.get("ErrorCode") or "").strip() or None
        reason = form.get("ErrorMessage") or (f"Twilio error {error_code}" if error_code else None)
        return ProviderStatus(provider=NAME, provider_message_id=sid, status=status, error_code=error_code,
                              reason=reason)

    def answer(self) -> Answer:
        return Answer(body=twiml(), media_type=TWIML)


class TwilioSender:
    """Sends SMS through Twilio's REST Messages API, asking for status callbacks."""

    name: ClassVar[str] = NAME
    channel: ClassVar[Channel] = Channel.SMS

    def __init__(self, *, client: httpx.AsyncClient, timeout: float) -> None:
        self.client = client
        self.timeout = timeout

    def problem(self, tenant: dict[str, Any]) -> str | None:
        if not provider_settings(tenant, "twilio"):
            return "Twilio is not set up for this tenant, so SMS replies cannot be sent."
        return None

    async def send(self, message: OutgoingMessage, *, tenant: dict[str, Any]) -> SendReceipt:
        settings = provider_settings(tenant, "twilio") or {}
        url = f"{settings['api_base_url']}/2010-04-01/Accounts/{settings['account_sid']}/Messages.json"
        form = {"To": message.to_address, "From": settings["phone_number"], "Body": message.text}
        if message.status_callback_url:
            form["StatusCallback"] = message.status_callback_url
        try:
            response = await self.client.post(
                url, data=form, auth=(settings["account_sid"], settings["auth_token"]), timeout=self.timeout
            )
        except httpx.TimeoutException:
            raise domain.TransientSendError("Twilio did not answer in time.") from None
        except httpx.TransportError as error:
            raise domain.TransientSendError(f"Could not reach Twilio: {type(error).__name__}.") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise domain.TransientSendError(f"Twilio answered {response.status_code}.")
        body = _json(response)
        if response.is_success:
            sid = body.get("sid")
            if not isinstance(sid, str) or not sid:
                raise domain.PermanentSendError("Twilio accepted the message but returned no message sid.")
            return SendReceipt(provider=NAME, provider_message_id=sid, provider_status=body.get("status"))
        code = body.get("code")
        reason = body.get("message") or f"Twilio refused the message ({response.status_code})."
        raise domain.PermanentSendError(
            f"Twilio refused the message: {reason}", code=str(code) if code is not None else None,
            refused=code == domain.TWILIO_UNSUBSCRIBED_ERROR,
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
