"""What ingest stores and answers: tenants' provider settings, customers and contacts, messages in and out."""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    computed_field,
    create_model,
    field_validator,
    model_validator,
)

from relay_contracts.customer_messages import Attachment, Channel, DeliveryState, EmailThreading, customer_label
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
    country: str = Field(
        default="US", min_length=2, max_length=2,
        description="ISO 3166 alpha-2 code of the shop's country: its customers' numbers are shown in their national "
                    "format, others in the international one")

    @field_validator("country", mode="before")
    @classmethod
    def _country(cls, value: Any) -> Any:
        return domain.check_country(value) if isinstance(value, str) else value

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

    @property
    def country(self) -> str:
        """The shop's country (ISO 3166 alpha-2): how its customers' numbers are written."""
        return self.settings.country

    def view(self) -> TenantView:
        """What the admin API answers (secrets are masked when it is serialised)."""
        return TenantView(tenant_id=self.tenant_id, updated_at=self.updated_at, **self.settings.model_dump())


# --- customers ------------------------------------------------------------------------------------


def _amount(value: Any) -> Any:
    if value is None or isinstance(value, Decimal):
        return value
    return domain.money_amount(value)


Money = Annotated[Decimal, BeforeValidator(_amount), PlainSerializer(lambda amount: f"{amount:.2f}", return_type=str)]
"""An amount of money: given as a number or text ("12.5", "$12.50"), kept and answered as "12.50"."""


def _utc(value: Any) -> Any:
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value


class Order(BaseModel):
    """One of the customer's orders as the point of sale knows it (every field optional; others are kept too)."""

    model_config = ConfigDict(extra="allow")

    ticket: str | None = Field(default=None, max_length=60, description="the ticket number on the customer's stub")
    status: str | None = Field(default=None, max_length=60,
                               description="e.g. in progress, ready; picked up / completed / cancelled close it")
    rack: str | None = Field(default=None, max_length=60, description="where the finished order hangs")
    balance: Money | None = Field(default=None, description="what is still to pay on it")
    due_date: date | None = None
    placed_at: datetime | None = Field(
        default=None, description="when it was dropped off (the latest open order is the current one)")

    @field_validator("placed_at", mode="after")
    @classmethod
    def _placed_at(cls, value: datetime | None) -> datetime | None:
        return _utc(value)

    @field_validator("ticket", "status", "rack", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    def facts(self) -> domain.OrderFacts:
        """What a reply template can say about this order."""
        return domain.OrderFacts(ticket=self.ticket, rack=self.rack, balance=self.balance, due_date=self.due_date,
                                 status=self.status)


class CustomerIn(BaseModel):
    """What the point-of-sale system knows about a customer (upsert: the whole record)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    phones: list[str] = Field(default_factory=list, max_length=20)
    emails: list[str] = Field(default_factory=list, max_length=20)
    account: dict[str, Any] = Field(default_factory=dict, description="free-form summary for View Customer")
    orders: list[Order] = Field(default_factory=list, max_length=200,
                                description="the customer's orders; quick replies use the most recent open one")


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

    document_id: Any = Field(default=None, alias="_id", exclude=True)
    customer_id: str
    name: str | None = None
    label: str | None = Field(default=None, description="how staff see the customer: the name, else the phone "
                                                        "number (national format), else the email; never an id")
    phones: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    account: dict[str, Any] = Field(default_factory=dict)
    orders: list[Order] = Field(default_factory=list)
    opted_out_phones: list[str] = Field(default_factory=list, description="numbers that replied STOP")
    opted_out_at: datetime | None = Field(default=None, exclude=True)
    unknown_contact: bool = Field(default=False, description="first met through a message, not from the point of sale")
    merged_into: str | None = Field(default=None, description="the customer its addresses moved to")
    merging_into: str | None = Field(default=None, exclude=True)
    linked_phones: list[str] = Field(default_factory=list, exclude=True)
    linked_emails: list[str] = Field(default_factory=list, exclude=True)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @computed_field
    @property
    def opted_out_sms(self) -> bool:
        """Whether any of the customer's numbers opted out of SMS."""
        return bool(self.opted_out_phones)

    @computed_field
    @property
    def sms_opted_out_at(self) -> datetime | None:
        """When the customer texted STOP, while they stay opted out (None once they texted START)."""
        if not self.opted_out_phones:
            return None
        return _utc(self.opted_out_at or self.updated_at)

    def labelled(self, *, country: str) -> "Customer":
        """The customer with its label for a shop in `country`."""
        return self.model_copy(update={"label": self.label_in(country=country)})

    def label_in(self, *, country: str) -> str:
        """How staff of a shop in `country` see this customer."""
        return customer_label(name=self.name, phone=next(iter(self.phones), None),
                              email=next(iter(self.emails), None), country=country)

    def current_order(self) -> Order | None:
        """The most recent open order, if any."""
        return domain.current_order(self.orders)


class CustomerList(BaseModel):
    """Customers found by a search."""

    customers: list[Customer]


def _name(value: Any) -> Any:
    """White space folded, control characters dropped."""
    return "".join(c for c in " ".join(value.split()) if c.isprintable()) if isinstance(value, str) else value


class CustomerNameIn(BaseModel):
    """Staff naming a contact the point of sale does not know."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, BeforeValidator(_name)] = Field(min_length=1, max_length=120)


class CustomerLinkIn(BaseModel):
    """Staff linking a contact to the customer it really is."""

    model_config = ConfigDict(extra="forbid")

    into_customer_id: str = Field(min_length=1, max_length=100, pattern=domain.CUSTOMER_ID_PATTERN)


# --- reply templates ------------------------------------------------------------------------------


class ReplyTemplateIn(BaseModel):
    """A quick reply as a manager writes it: variables in braces (`{first_name}`, `{ticket}`, …)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, BeforeValidator(_name)] = Field(min_length=1, max_length=60)
    body: str = Field(min_length=1, max_length=1600)

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("The body is blank.")
        return value


class ReplyTemplate(BaseModel):
    """A tenant's quick reply."""

    model_config = _STORED

    template_id: str
    name: str
    body: str
    updated_at: datetime | None = None


class ReplyTemplateList(BaseModel):
    """A tenant's quick replies, by name."""

    templates: list[ReplyTemplate]


class QuickReply(BaseModel):
    """A template filled for one customer: what is inserted in the reply box, and what had no value."""

    template_id: str
    name: str
    body: str
    text: str = Field(description="the body with every variable that has a value filled in")
    missing: list[str] = Field(description="variables with no value for this customer, left as written in text")


class QuickReplies(BaseModel):
    """Every template of the tenant, filled for one customer."""

    quick_replies: list[QuickReply]


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
    """A file that came with a message: an email's, kept as it came; an MMS picture, fetched from its provider."""

    model_config = _STORED

    tenant_id: str
    attachment_id: str
    customer_id: str
    filename: str | None = None
    content_type: str = "application/octet-stream"
    size: int | None = None
    content: bytes | None = None
    provider: str | None = Field(default=None, description="for MMS media: the provider it is fetched from")
    source_url: str | None = Field(default=None, description="for MMS media: where the provider keeps it")


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
