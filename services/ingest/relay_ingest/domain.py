"""Ingest's rules: tenants' provider settings, contacts, SMS keywords, delivery states. No I/O here."""

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

from relay_contracts.customer_messages import Attachment, Channel, DeliveryState, EmailThreading

TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$"
_CUSTOMER_ID = re.compile(CUSTOMER_ID_PATTERN)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[^@\s<>()\[\],;:\"]+@{_LABEL}(?:\.{_LABEL})+$")


# --- contacts -------------------------------------------------------------------------------------


class ContactKind(StrEnum):
    """How a customer can be reached: each address belongs to at most one customer of a tenant."""

    PHONE = "phone"
    EMAIL = "email"


def normalise_phone(raw: str, *, region: str) -> str:
    """A phone number in E.164 (`+14155550101`); ValueError if it is not a possible number."""
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"{raw!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"{raw!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    """An email address, trimmed and lower-cased; ValueError if it is not one address."""
    address = raw.strip().strip("<>").strip().lower()
    if not _EMAIL.match(address):
        raise ValueError(f"{raw!r} is not an email address")
    local, _, domain = address.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{raw!r} has a domain that cannot be encoded") from None
    return f"{local}@{domain}"


def contact_kind_for(channel: Channel) -> ContactKind:
    """SMS comes from a phone, email from an email address."""
    return ContactKind.PHONE if channel == Channel.SMS else ContactKind.EMAIL


def check_customer_id(customer_id: str) -> str:
    """A customer id is the point-of-sale system's own key: letters, digits and `_.:@-`."""
    if not _CUSTOMER_ID.match(customer_id):
        raise ValueError("A customer id is 1-100 letters, digits, '_', '.', ':', '@' or '-', "
                         "starting with a letter or digit.")
    return customer_id


def new_customer_id() -> str:
    """Id for a customer first met through a message (an unknown contact)."""
    return f"cus_{uuid.uuid4().hex[:16]}"


def new_message_id() -> str:
    """Ingest's id for an inbound message."""
    return f"msg_{uuid.uuid4().hex}"


# --- tenants --------------------------------------------------------------------------------------


class TwilioSettings(BaseModel):
    """A tenant's Twilio account: its auth token signs webhooks and authorises sending."""

    model_config = ConfigDict(extra="forbid")

    account_sid: str = Field(min_length=2, max_length=64)
    auth_token: str = Field(min_length=1, max_length=200)
    phone_number: str = Field(min_length=3, max_length=32)
    api_base_url: str = Field(default="https://api.twilio.com", pattern=r"^https?://[^\s]+$")

    @field_validator("api_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


class MailgunSettings(BaseModel):
    """The key Mailgun signs its webhooks with."""

    model_config = ConfigDict(extra="forbid")

    signing_key: str = Field(min_length=1, max_length=200)


class SendGridSettings(BaseModel):
    """Inbound Parse has no signature: the webhook URL carries these HTTP basic credentials."""

    model_config = ConfigDict(extra="forbid")

    basic_auth_user: str = Field(min_length=1, max_length=200)
    basic_auth_password: str = Field(min_length=8, max_length=200)


class EmailSettings(BaseModel):
    """How replies by email leave: the sender address and the SMTP relay."""

    model_config = ConfigDict(extra="forbid")

    from_address: str = Field(min_length=3, max_length=254)
    from_name: str | None = Field(default=None, max_length=200)
    smtp_host: str = Field(min_length=1, max_length=253)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = Field(default=None, max_length=200)
    smtp_password: str | None = Field(default=None, max_length=200)
    smtp_starttls: bool | None = Field(default=None, description="None: use STARTTLS when the server offers it")

    @field_validator("from_address")
    @classmethod
    def _address(cls, value: str) -> str:
        return normalise_email(value)


class TenantSettings(BaseModel):
    """A business's provider settings; every section is optional."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    twilio: TwilioSettings | None = None
    mailgun: MailgunSettings | None = None
    sendgrid: SendGridSettings | None = None
    email: EmailSettings | None = None


SECRET_FIELDS = {"auth_token", "signing_key", "basic_auth_password", "smtp_password"}


def redacted(settings: dict[str, Any]) -> dict[str, Any]:
    """Provider settings with secrets masked, for reading them back."""

    def mask(key: str, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: mask(k, v) for k, v in value.items()}
        if key in SECRET_FIELDS and isinstance(value, str):
            return "****" + value[-4:] if len(value) > 8 else "****"
        return value

    return {k: mask(k, v) for k, v in settings.items()}


# --- customers ------------------------------------------------------------------------------------


class CustomerIn(BaseModel):
    """What the point-of-sale system knows about a customer (upsert: the whole record)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    phones: list[str] = Field(default_factory=list, max_length=20)
    emails: list[str] = Field(default_factory=list, max_length=20)
    account: dict[str, Any] = Field(default_factory=dict, description="free-form summary for View Customer")


class CustomerLine(CustomerIn):
    """One line of a bulk import: a customer with its id."""

    customer_id: str = Field(min_length=1, max_length=100)

    @field_validator("customer_id")
    @classmethod
    def _id(cls, value: str) -> str:
        return check_customer_id(value)


@dataclass(frozen=True)
class Contacts:
    """A customer's normalised phone numbers and email addresses."""

    phones: list[str]
    emails: list[str]

    def pairs(self) -> list[tuple[ContactKind, str]]:
        return [(ContactKind.PHONE, p) for p in self.phones] + [(ContactKind.EMAIL, e) for e in self.emails]


def normalise_contacts(customer: CustomerIn, *, region: str) -> Contacts:
    """Phones in E.164 and emails lower-cased, duplicates dropped; ValueError naming the bad one."""
    phones = list(dict.fromkeys(normalise_phone(p, region=region) for p in customer.phones))
    emails = list(dict.fromkeys(normalise_email(e) for e in customer.emails))
    return Contacts(phones=phones, emails=emails)


def public_customer(document: dict[str, Any]) -> dict[str, Any]:
    """A customer as View Customer shows it."""
    opted_out = list(document.get("opted_out_phones") or [])
    return {
        "customer_id": document["customer_id"],
        "name": document.get("name"),
        "phones": list(document.get("phones") or []),
        "emails": list(document.get("emails") or []),
        "account": dict(document.get("account") or {}),
        "opted_out_sms": bool(opted_out),
        "opted_out_phones": opted_out,
        "unknown_contact": bool(document.get("unknown_contact")),
        "merged_into": document.get("merged_into"),
        "created_at": document.get("created_at"),
        "updated_at": document.get("updated_at"),
    }


# --- SMS keywords (what carriers require) ---------------------------------------------------------


class Keyword(StrEnum):
    """An SMS that changes the customer's subscription or asks for help, not a message to staff."""

    STOP = "stop"
    START = "start"
    HELP = "help"


STOP_WORDS = frozenset({"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
# "YES" re-subscribes only someone who opted out: from anyone else it is an ordinary answer.
START_WORDS_WHEN_OPTED_OUT = frozenset({"YES"})


def sms_keyword(text: str, *, opted_out: bool) -> Keyword | None:
    """The keyword a whole SMS body is (case, spaces and end punctuation ignored), if any."""
    word = " ".join(text.strip().rstrip(".!").upper().split())
    if word in STOP_WORDS:
        return Keyword.STOP
    if word in START_WORDS or (opted_out and word in START_WORDS_WHEN_OPTED_OUT):
        return Keyword.START
    if word in HELP_WORDS:
        return Keyword.HELP
    return None


def keyword_reply(keyword: Keyword, *, business: str) -> str:
    """The confirmation a carrier expects in answer to a keyword."""
    if keyword == Keyword.STOP:
        return (f"You have been unsubscribed from {business} and will receive no more messages. "
                "Reply START to resubscribe.")
    if keyword == Keyword.START:
        return f"You have been resubscribed to {business} messages. Reply STOP to unsubscribe, HELP for help."
    return f"{business}: reply to this number to reach our staff. Reply STOP to unsubscribe. Msg&data rates may apply."


def opted_out_reason(phone: str) -> str:
    """Why a reply to an opted-out number is refused."""
    return (f"{phone} replied STOP and has opted out of SMS; it can be texted again only after the customer "
            "replies START. Reply by email or call instead.")


# --- inbound messages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedFile:
    """A file that came in a webhook body (email attachments)."""

    field: str
    filename: str | None
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Bounce:
    """A delivery-status notification: which of our messages it refers to, and why it failed."""

    referenced_message_ids: list[str]
    reason: str
    status_code: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    """A customer's message as a provider adapter read it, before it is recorded."""

    provider: str
    channel: Channel
    provider_message_id: str
    from_address: str
    to_address: str
    text: str
    from_name: str | None = None
    subject: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    files: list[UploadedFile] = field(default_factory=list)
    threading: EmailThreading | None = None
    bounce: Bounce | None = None


@dataclass(frozen=True)
class ProviderStatus:
    """A provider's report on one of our outbound messages (a status callback)."""

    provider: str
    provider_message_id: str
    status: DeliveryState
    error_code: str | None = None
    reason: str | None = None


class InboundOutcome(StrEnum):
    """What recording an inbound message amounted to."""

    MESSAGE = "message"
    KEYWORD = "keyword"
    BOUNCE = "bounce"


@dataclass(frozen=True)
class Receipt:
    """What ingest did with a webhook, for the provider's answer."""

    outcome: InboundOutcome
    message_id: str
    duplicate: bool = False
    reply: str | None = None


def attachment_id_for(*, tenant_id: str, provider: str, provider_message_id: str, index: int) -> str:
    """A stable id for the n-th file of a message, so a provider's retry stores it once."""
    return "att_" + uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id}/{provider}/{provider_message_id}/{index}").hex


def attachment_url(*, customer_id: str, attachment_id: str) -> str:
    """Where staff fetch a stored attachment (through the gateway's /api/customers routes)."""
    return f"/api/customers/{customer_id}/attachments/{attachment_id}"


# --- outbound delivery ----------------------------------------------------------------------------


_RANK = {
    DeliveryState.QUEUED: 1,
    DeliveryState.SENDING: 2,
    DeliveryState.SENT: 3,
    DeliveryState.DELIVERED: 4,
    DeliveryState.UNDELIVERED: 4,
    DeliveryState.FAILED: 4,
    DeliveryState.BOUNCED: 5,
    DeliveryState.REFUSED: 5,
}
FINAL_STATES = frozenset({DeliveryState.DELIVERED, DeliveryState.UNDELIVERED, DeliveryState.FAILED,
                          DeliveryState.BOUNCED, DeliveryState.REFUSED})


def status_rank(status: DeliveryState) -> int:
    """How far along a state is: a report never moves an outbound message backwards."""
    return _RANK[status]


TWILIO_STATES = {
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
TWILIO_UNSUBSCRIBED_ERROR = 21610


class SendError(Exception):
    """Sending an outbound message did not work."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class TransientSendError(SendError):
    """Worth trying again: a 5xx, a timeout, a refused connection, a 4xx SMTP answer."""


class PermanentSendError(SendError):
    """Trying again will not help: the provider refused the message itself."""

    def __init__(self, reason: str, *, code: str | None = None, refused: bool = False) -> None:
        super().__init__(reason, code=code)
        self.refused = refused


@dataclass(frozen=True)
class OutgoingMessage:
    """A reply ready for a provider: addressed, threaded, with where the provider reports back."""

    tenant_id: str
    outbound_id: str
    channel: Channel
    to_address: str
    text: str
    subject: str | None = None
    email_message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    status_callback_url: str | None = None


@dataclass(frozen=True)
class SendReceipt:
    """What the provider answered when it accepted a message."""

    provider: str
    provider_message_id: str
    provider_status: str | None = None


def backoff_delays(*, attempts: int, first: float) -> list[float]:
    """Delays before each retry: doubling from `first`, capped at 30 s."""
    return [min(first * 2**n, 30.0) for n in range(max(attempts - 1, 0))]


def reply_subject(subject: str | None) -> str:
    """The subject of an email reply: the customer's, prefixed once with `Re:`."""
    subject = (subject or "").strip()
    if not subject:
        return "Re: your message"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def reply_threading(threading: EmailThreading | None) -> tuple[str | None, list[str]]:
    """In-Reply-To and References for a reply to the message `threading` describes."""
    if threading is None:
        return None, []
    parent = threading.message_id or threading.in_reply_to
    references = list(dict.fromkeys([*threading.references, *([parent] if parent else [])]))
    return parent, references


def utc_iso(moment: datetime | None) -> str | None:
    """An ISO timestamp for JSON answers."""
    return moment.isoformat() if moment else None
