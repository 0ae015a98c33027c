"""What ingest stores and answers: tenants' provider settings, customers and contacts, messages in and out."""

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, computed_field, create_model, field_validator, model_validator

from relay_contracts.customer_messages import Attachment, Channel, DeliveryState, EmailThreading
from relay_contracts.tenants import TenantId
from relay_ingest import domain
from relay_ingest.domain import ContactKind
from relay_ingest.providers import PROVIDERS, senders_on
from relay_ingest.providers.base import InboundOutcome, ProviderSettings

_STORED = ConfigDict(extra="ignore", populate_by_name=True)

# --- tenants --------------------------------------------------------------------------------------

SMS_SENDERS = senders_on(Channel.SMS)
EMAIL_SENDERS = senders_on(Channel.EMAIL)


class TenantChoices(BaseModel):
    """A business's name and which provider sends its replies on each channel."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    sms_provider: Literal[SMS_SENDERS] | None = Field(
        default=None, description="which provider sends this tenant's texts; defaults to the one set up")
    email_sender: Literal[EMAIL_SENDERS] | None = Field(
        default=None, description="which provider sends this tenant's emails; defaults to the one set up")

    def section(self, provider: str) -> ProviderSettings | None:
        """The tenant's settings for one provider, or None if it is not set up."""
        return getattr(self, PROVIDERS[provider].key)

    def sender_for(self, channel: Channel) -> str | None:
        """The provider that sends this tenant's replies on a channel, or None."""
        return self.sms_provider if channel == Channel.SMS else self.email_sender

    @model_validator(mode="after")
    def _choose_senders(self) -> Self:
        self.sms_provider = domain.chosen_sender(choice="sms_provider", named=self.sms_provider,
                                                 set_up=self._set_up(SMS_SENDERS))
        self.email_sender = domain.chosen_sender(choice="email_sender", named=self.email_sender,
                                                 set_up=self._set_up(EMAIL_SENDERS))
        return self

    def _set_up(self, providers: tuple[str, ...]) -> list[str]:
        return [name for name in providers if self.section(name) is not None]


TenantSettings = create_model(
    "TenantSettings", __base__=TenantChoices, __module__=__name__,
    __doc__="A business's provider settings: its name, each provider's section (all optional), its senders.",
    **{p.key: (p.settings | None, None) for p in PROVIDERS.values()},
)


class TenantView(TenantSettings):
    """A tenant's settings as the admin API answers them: every secret masked."""

    tenant_id: TenantId
    updated_at: datetime | None = None


class Tenant(BaseModel):
    """A tenant as ingest keeps it."""

    model_config = _STORED

    tenant_id: TenantId
    settings: TenantSettings
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def business(self) -> str:
        """How the business is named to its customers."""
        return self.settings.name

    def view(self) -> TenantView:
        """What the admin API answers (secrets are masked when it is serialised)."""
        return TenantView(tenant_id=self.tenant_id, updated_at=self.updated_at, **self.settings.model_dump())


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
        return domain.check_customer_id(value)

    def customer(self) -> CustomerIn:
        """The record without its id."""
        return CustomerIn(**self.model_dump(exclude={"customer_id"}))


class Customer(BaseModel):
    """A customer as View Customer shows it: phones in E.164, emails, the point-of-sale account, SMS opt-out."""

    model_config = _STORED

    customer_id: str
    name: str | None = None
    phones: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    account: dict[str, Any] = Field(default_factory=dict)
    opted_out_phones: list[str] = Field(default_factory=list, description="numbers that replied STOP")
    unknown_contact: bool = Field(default=False, description="first met through a message, not from the point of sale")
    merged_into: str | None = Field(default=None, description="the known customer its addresses moved to")
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @computed_field
    @property
    def opted_out_sms(self) -> bool:
        """Whether any of the customer's numbers opted out of SMS."""
        return bool(self.opted_out_phones)


class CustomerList(BaseModel):
    """Customers found by a search."""

    customers: list[Customer]


class Contact(BaseModel):
    """Who one phone number or email address belongs to (the unique claim that keeps customers from doubling)."""

    model_config = _STORED

    tenant_id: str
    kind: ContactKind
    address: str
    customer_id: str


class ImportProblem(BaseModel):
    """A line of an import that was not applied, and why."""

    line: int
    customer_id: str | None = None
    error: str


class ImportReport(BaseModel):
    """What a bulk import applied and what it refused."""

    applied: int
    failed: int
    errors: list[ImportProblem]


class StoredAttachment(BaseModel):
    """A file that came with an email, kept in ingest's database."""

    model_config = _STORED

    tenant_id: str
    attachment_id: str
    customer_id: str
    filename: str | None = None
    content_type: str = "application/octet-stream"
    size: int
    content: bytes


# --- inbound messages -----------------------------------------------------------------------------


class BounceRecord(BaseModel):
    """What a bounce said and which of our emails it marked."""

    reason: str
    status_code: str | None = None
    outbound_ids: list[str] = Field(default_factory=list)


class InboundMessage(BaseModel):
    """A provider's webhook as recorded, once per provider message id: a message, a keyword or a bounce."""

    model_config = _STORED

    message_id: str = Field(alias="_id")
    tenant_id: str
    kind: InboundOutcome = InboundOutcome.MESSAGE
    customer_id: str | None = None
    provider: str
    channel: Channel
    provider_message_id: str
    from_address: str
    to_address: str
    subject: str | None = None
    text: str = ""
    threading: EmailThreading | None = None
    received_at: datetime
    attachments: list[Attachment] = Field(default_factory=list)
    keyword: domain.Keyword | None = None
    reply: str | None = None
    bounce: BounceRecord | None = None
    pending_since: datetime | None = Field(default=None, exclude=True,
                                           description="when its oldest unpublished event was stored")


# --- outbound delivery ----------------------------------------------------------------------------


class DeliveryStep(BaseModel):
    """One state an outbound message reached."""

    model_config = _STORED

    status: DeliveryState
    at: datetime
    reason: str | None = None
    error_code: str | None = None


class OutboundDelivery(BaseModel):
    """A staff reply in the delivery log: claimed before it is sent (so it goes once), then followed."""

    model_config = _STORED

    document_id: Any = Field(default=None, alias="_id", exclude=True)
    tenant_id: str
    outbound_id: str
    issue_id: str
    customer_id: str
    channel: Channel
    to_address: str
    text: str
    subject: str | None = None
    requested_by: str
    threading: EmailThreading | None = None
    provider: str | None = Field(default=None, description="the provider chosen to send it")
    email_message_id: str | None = Field(default=None, description="our Message-ID, to match bounces")
    status: DeliveryState = DeliveryState.SENDING
    attempts: int = 0
    correlation_id: str | None = None
    causation_id: str | None = None
    provider_message_id: str | None = None
    sent_at: datetime | None = None
    last_error: str | None = None
    reason: str | None = None
    error_code: str | None = None
    history: list[DeliveryStep] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    has_pending_events: bool = Field(default=False, exclude=True)
