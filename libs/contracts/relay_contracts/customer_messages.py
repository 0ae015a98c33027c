"""Events about customers and their messages: inbound from providers, outbound replies, delivery status,
SMS consent and the directory's profile changes; and how a customer is named to staff."""

import re
from datetime import datetime
from enum import StrEnum

import phonenumbers
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from relay_contracts.envelope import EventPayload, register
from relay_contracts.topics import DELIVERY_STATUS, INBOUND_MESSAGES, OUTBOUND_MESSAGES, customer_key


class Channel(StrEnum):
    """How a customer reached us, and how a reply goes back."""

    SMS = "sms"
    EMAIL = "email"


class Attachment(BaseModel):
    """A file that came with a message, kept by reference."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    url: str
    content_type: str = "application/octet-stream"
    filename: str | None = None
    size: int | None = None


class EmailThreading(BaseModel):
    """Headers that keep an email conversation threaded in the customer's mail client."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = Field(default_factory=list)


UNKNOWN_CUSTOMER = "Unknown customer"


def customer_label(*, name: str | None, phone: str | None, email: str | None, country: str = "US") -> str:
    """How staff see a customer, never by an internal id: the name, else the phone number, else the email.

    A number of the tenant's `country` (ISO 3166 alpha-2) is shown in its national format ("(202) 555-0143"),
    any other in the international one ("+44 20 7946 0958"); a number that cannot be read is shown as given.
    """
    if name and name.strip():
        return " ".join(name.split())
    if phone and phone.strip():
        return _phone_label(phone.strip(), country=country.upper())
    if email and email.strip():
        return email.strip()
    return UNKNOWN_CUSTOMER


def _phone_label(phone: str, *, country: str) -> str:
    try:
        number = phonenumbers.parse(phone, country)
    except phonenumbers.NumberParseException:
        return phone
    if phonenumbers.region_code_for_number(number) == country:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


class _CustomerEvent(EventPayload):
    customer_id: str = Field(min_length=1)

    def partition_key(self, tenant_id: str) -> bytes:
        return customer_key(tenant_id=tenant_id, customer_id=self.customer_id)


@register
class InboundMessageReceived(_CustomerEvent):
    """A customer's text or email arrived and was recorded by ingest."""

    event_type = "inbound.message.received"
    topic = INBOUND_MESSAGES

    message_id: str = Field(min_length=1, description="ingest's id for this inbound message")
    customer_name: str | None = None
    customer_label: str | None = None  # how staff see the customer (`customer_label`); absent from older producers
    channel: Channel
    provider: str = Field(min_length=1)
    provider_message_id: str = Field(min_length=1)
    from_address: str
    to_address: str
    subject: str | None = None
    text: str
    attachments: list[Attachment] = Field(default_factory=list)
    threading: EmailThreading | None = None
    received_at: AwareDatetime
    unknown_contact: bool = False  # the sender was not in the directory: a customer was created for them


class ConsentSource(StrEnum):
    """What changed a customer's SMS consent."""

    KEYWORD = "keyword"  # the customer texted STOP / START
    STAFF = "staff"
    MERGE = "merge"  # an opted-out number moved to this customer when a contact was linked into it


@register
class CustomerConsentChanged(_CustomerEvent):
    """A customer's phone number opted out of SMS (texted STOP) or back in (START); replies by SMS follow it."""

    event_type = "customer.consent_changed"
    topic = INBOUND_MESSAGES

    phone: str = Field(min_length=1, description="the number, E.164")
    opted_out: bool
    at: AwareDatetime
    source: str = Field(min_length=1, description="keyword | staff | merge (other values may be added)")


@register
class CustomerProfileChanged(_CustomerEvent):
    """How a customer is named changed: staff named an unknown contact, or linked it into another customer.

    With `merged_into_customer_id` the customer's addresses now belong to that customer, and `customer_name` /
    `customer_label` are that customer's: what the merged customer's messages should now show.
    """

    event_type = "customer.profile_changed"
    topic = INBOUND_MESSAGES

    customer_name: str | None = None
    customer_label: str = Field(min_length=1)
    merged_into_customer_id: str | None = None


@register
class OutboundMessageRequested(_CustomerEvent):
    """Staff replied to a customer; ingest sends it on the customer's channel."""

    event_type = "outbound.message.requested"
    topic = OUTBOUND_MESSAGES

    outbound_id: str = Field(min_length=1)
    issue_id: str = Field(min_length=1)
    channel: Channel
    to_address: str = Field(min_length=1)
    text: str = Field(min_length=1)
    subject: str | None = None
    threading: EmailThreading | None = None
    requested_by: str


class DeliveryState(StrEnum):
    """Where an outbound message is on its way to the customer."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    BOUNCED = "bounced"
    REFUSED = "refused"


# How far along each state is. A report that does not move a message further along changes nothing, so late
# or repeated provider callbacks never move it backwards. A failure outranks "delivered" (a carrier can report
# a failure after a delivery receipt; an email can bounce after it was accepted), and a bounce or refusal
# outranks a plain failure (it is the more specific, later word on the same message).
_DELIVERY_RANK = {
    DeliveryState.QUEUED: 1,
    DeliveryState.SENDING: 2,
    DeliveryState.SENT: 3,
    DeliveryState.DELIVERED: 4,
    DeliveryState.UNDELIVERED: 5,
    DeliveryState.FAILED: 5,
    DeliveryState.BOUNCED: 6,
    DeliveryState.REFUSED: 6,
}
FINAL_DELIVERY_STATES = frozenset({DeliveryState.DELIVERED, DeliveryState.UNDELIVERED, DeliveryState.FAILED,
                                   DeliveryState.BOUNCED, DeliveryState.REFUSED})


def delivery_rank(state: DeliveryState | str) -> int:
    """How far along a delivery state is (queued lowest, bounced and refused highest)."""
    return _DELIVERY_RANK[DeliveryState(state)]


def advances_delivery(*, current: DeliveryState | str | None, new: DeliveryState | str) -> bool:
    """Whether a reported state moves a message further along than the one it has (so it should be recorded)."""
    return current is None or delivery_rank(new) > delivery_rank(current)


def reply_subject(subject: str | None) -> str:
    """The subject of an email reply: the customer's, white space folded, prefixed once with "Re: "."""
    subject = " ".join((subject or "").split())
    if not subject:
        return "Re: your message"
    return subject if re.match(r"(?i)^re\s*:", subject) else f"Re: {subject}"


def reply_threading(threading: EmailThreading | None) -> EmailThreading | None:
    """How a reply threads under the email `threading` describes: In-Reply-To its id, References the chain + it."""
    if threading is None:
        return None
    parent = threading.message_id or threading.in_reply_to
    if not parent:
        return None
    references = list(dict.fromkeys([r for r in threading.references if r] + [parent]))
    return EmailThreading(in_reply_to=parent, references=references)


@register
class DeliveryStatusChanged(_CustomerEvent):
    """An outbound message's delivery state changed (provider callback, bounce or refusal)."""

    event_type = "delivery.status.changed"
    topic = DELIVERY_STATUS

    outbound_id: str = Field(min_length=1)
    issue_id: str = Field(min_length=1)
    status: DeliveryState
    error_code: str | None = None
    reason: str | None = None
    provider_message_id: str | None = None
    at: datetime | None = None
    channel: Channel | None = None  # how the reply went out (sms / email)
