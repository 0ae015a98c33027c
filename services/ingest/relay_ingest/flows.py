"""Multi-step work: recording a provider's message, keeping the directory, sending a reply, following its delivery,
filling quick replies, fetching pictures."""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from relay_contracts import Envelope, new_event
from relay_contracts.customer_messages import (
    Attachment,
    Channel,
    ConsentSource,
    CustomerConsentChanged,
    CustomerProfileChanged,
    DeliveryState,
    DeliveryStatusChanged,
    InboundMessageReceived,
    OutboundMessageRequested,
    advances_delivery,
    customer_label,
    reply_subject,
    reply_threading,
)
from relay_ingest import domain, metrics, store
from relay_ingest.domain import ContactKind, Keyword
from relay_ingest.models import (
    BounceRecord,
    Customer,
    CustomerIn,
    CustomerLine,
    ImportProblem,
    ImportReport,
    InboundMessage,
    OutboundDelivery,
    QuickReplies,
    QuickReply,
    ReplyTemplate,
    ReplyTemplateIn,
    StoredAttachment,
    Tenant,
    TenantSettings,
)
from relay_ingest.providers import PROVIDERS, mail
from relay_ingest.providers.base import (
    DeliveryHandle,
    EmailSenderSettings,
    InboundOutcome,
    MediaFetcher,
    MediaUnavailable,
    OutgoingMessage,
    PermanentSendError,
    ProviderMessage,
    ProviderStatus,
    Receipt,
    Sender,
    SmsSettings,
    TransientSendError,
    WebhookRejected,
)
from relay_ingest.settings import IngestSettings
from relay_kit.errors import BadRequest, Conflict, NotFound, PayloadTooLarge, RelayError, Unprocessable
from relay_kit.store import Database
from relay_kit.unit_of_work import OnPublishFailure, UnitOfWork

log = logging.getLogger(__name__)
PRODUCER = "ingest"
RETRY_GRACE_SECONDS = 1.0  # how long a retry waits for a concurrent try to publish before publishing itself

# A provider's webhook is answered 2xx only once the broker has its event: otherwise 503, and the provider retries.
WEBHOOK = OnPublishFailure.ANSWER_UNAVAILABLE
# Sending a reply stores each state it reaches; nobody waits on the answer, so the sweeper publishes what failed.
SENDING = OnPublishFailure.LEAVE_TO_SWEEPER


# Staff actions (naming, linking) and the point of sale's saves succeed once stored; the sweeper publishes late events.
STAFF_ACTION = OnPublishFailure.LEAVE_TO_SWEEPER


class MediaUnreachable(RelayError):
    """The provider keeping a picture did not hand it over (try again later)."""

    status_code = 502
    code = "media_unavailable"


@dataclass
class Desk:
    """What the flows work with: the service's database, its unit of work, settings, senders and media fetchers
    by provider, and the background fetches under way."""

    database: Database
    uow: UnitOfWork
    settings: IngestSettings
    senders: dict[str, Sender] = field(default_factory=dict)
    media: dict[str, MediaFetcher] = field(default_factory=dict)
    background: set["asyncio.Task[None]"] = field(default_factory=set)


def _now() -> datetime:
    return datetime.now(UTC)


async def _country(desk: Desk, tenant_id: str) -> str:
    """The tenant's country (how its customers' numbers are written); US for a tenant ingest does not know."""
    tenant = await store.get_tenant(desk.database, tenant_id=tenant_id)
    return tenant.country if tenant else "US"


# --- tenants --------------------------------------------------------------------------------------


async def save_tenant(*, desk: Desk, tenant_id: str, settings: TenantSettings) -> Tenant:
    """Create a tenant or replace its provider settings, every SMS provider's number in E.164."""
    for name, provider in PROVIDERS.items():
        section = settings.section(name)
        if isinstance(section, SmsSettings):
            try:
                section.phone_number = domain.normalise_phone(section.phone_number,
                                                              region=desk.settings.default_region)
            except ValueError as error:
                raise BadRequest(f"{provider.key}.phone_number: {error}") from None
    return await store.save_tenant(desk.database, tenant_id=tenant_id, settings=settings)


# --- customers ------------------------------------------------------------------------------------


async def resolve_customer(
    *, desk: Desk, tenant_id: str, kind: ContactKind, address: str, name: str | None = None
) -> Customer:
    """The customer this phone or email belongs to; a new "unknown contact" if nobody has it yet."""
    contact = await store.find_contact(desk.database, tenant_id=tenant_id, kind=kind, address=address)
    if contact:
        owner = contact.customer_id
    else:
        owner, _ = await store.claim_contact(desk.database, tenant_id=tenant_id, kind=kind, address=address,
                                             customer_id=domain.new_customer_id())
    return await store.ensure_unknown_contact(desk.database, tenant_id=tenant_id, customer_id=owner, kind=kind,
                                              address=address, name=name)


async def save_customer(*, desk: Desk, tenant_id: str, customer_id: str, customer: CustomerIn) -> Customer:
    """Upsert a customer from the point-of-sale system, claiming its phones and emails.

    An address held by an unknown contact moves to this customer (later messages land here, an opt-out goes
    with it, and the contact is announced as merged); one held by another known customer is a conflict and
    nothing changes. Addresses staff linked to this customer stay with it.
    """
    try:
        contacts = domain.normalise_contacts(phones=customer.phones, emails=customer.emails,
                                             region=desk.settings.default_region)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    existing = await store.get_customer(desk.database, tenant_id=tenant_id, customer_id=customer_id)
    claimed_now: list[tuple[ContactKind, str]] = []
    moved: list[tuple[Customer, ContactKind, str]] = []
    for kind, address in contacts.pairs():
        owner, claimed = await store.claim_contact(desk.database, tenant_id=tenant_id, kind=kind, address=address,
                                                   customer_id=customer_id)
        if claimed:
            claimed_now.append((kind, address))
        if owner == customer_id:
            continue
        holder = await store.get_customer(desk.database, tenant_id=tenant_id, customer_id=owner)
        if holder is None or holder.unknown_contact:
            if await store.move_contact(desk.database, tenant_id=tenant_id, kind=kind, address=address,
                                        from_customer=owner, to_customer=customer_id):
                if holder is not None:
                    moved.append((holder, kind, address))
                continue
        for claimed_kind, claimed_address in claimed_now:
            await store.unclaim_contact(desk.database, tenant_id=tenant_id, kind=claimed_kind,
                                        address=claimed_address, customer_id=customer_id)
        for holder, moved_kind, moved_address in moved:  # give back what this save took from unknown contacts
            await store.move_contact(desk.database, tenant_id=tenant_id, kind=moved_kind, address=moved_address,
                                     from_customer=customer_id, to_customer=holder.customer_id)
        raise Conflict(f"{address} already belongs to customer {owner!r}; remove it there first.")
    if existing is not None:  # what staff linked here stays, whatever the point of sale lists
        contacts = domain.Contacts(
            phones=list(dict.fromkeys([*contacts.phones, *existing.linked_phones])),
            emails=list(dict.fromkeys([*contacts.emails, *existing.linked_emails])))
    await store.release_contacts(desk.database, tenant_id=tenant_id, customer_id=customer_id, keep=contacts.pairs())
    country = await _country(desk, tenant_id)
    label = customer_label(name=customer.name, phone=next(iter(contacts.phones), None),
                           email=next(iter(contacts.emails), None), country=country)
    events = []
    if existing is not None and existing.name != customer.name:
        events.append(_profile_event(tenant_id=tenant_id, customer_id=customer_id, name=customer.name, label=label))
    orders = [order.model_dump(mode="json") for order in customer.orders]
    write = store.save_customer(desk.database, tenant_id=tenant_id, customer_id=customer_id, name=customer.name,
                                contacts=contacts, account=customer.account, orders=orders, events=events)
    if events:  # a renamed customer: its messages and issues show the new name
        assert existing is not None
        saved = await desk.uow.commit(write, collection=store.CUSTOMERS, document_id=existing.document_id,
                                      on_publish_failure=STAFF_ACTION)
    else:
        saved = await write
    for holder, kind, address in moved:
        if kind == ContactKind.PHONE and address in holder.opted_out_phones:
            saved = await _carry_opt_out(desk, tenant_id=tenant_id, into=saved, phone=address,
                                         at=holder.sms_opted_out_at or _now())
        event = _profile_event(tenant_id=tenant_id, customer_id=holder.customer_id, name=customer.name,
                               label=label, merged_into=customer_id)
        await desk.uow.commit(
            store.detach_contact(desk.database, tenant_id=tenant_id, customer_id=holder.customer_id, kind=kind,
                                 address=address, merged_into=customer_id, events=[event]),
            collection=store.CUSTOMERS, document_id=holder.document_id, on_publish_failure=STAFF_ACTION)
    return saved.labelled(country=country)


def _profile_event(*, tenant_id: str, customer_id: str, name: str | None, label: str,
                   merged_into: str | None = None) -> Envelope[CustomerProfileChanged]:
    return new_event(CustomerProfileChanged(customer_id=customer_id, customer_name=name, customer_label=label,
                                            merged_into_customer_id=merged_into),
                     tenant_id=tenant_id, producer=PRODUCER)


def _consent_event(*, tenant_id: str, customer_id: str, phone: str, opted_out: bool, at: datetime,
                   source: ConsentSource, correlation_id: str | None = None) -> Envelope[CustomerConsentChanged]:
    return new_event(CustomerConsentChanged(customer_id=customer_id, phone=phone, opted_out=opted_out,
                                            at=domain.as_stored(at), source=source.value),
                     tenant_id=tenant_id, producer=PRODUCER, correlation_id=correlation_id)


async def _carry_opt_out(desk: Desk, *, tenant_id: str, into: Customer, phone: str, at: datetime) -> Customer:
    """An opted-out number moved to another customer: it stays opted out there, announced for that customer."""
    at = domain.as_stored(at)
    event = _consent_event(tenant_id=tenant_id, customer_id=into.customer_id, phone=phone, opted_out=True, at=at,
                           source=ConsentSource.MERGE)
    await desk.uow.commit(
        store.set_sms_opt_out(desk.database, tenant_id=tenant_id, customer_id=into.customer_id, phone=phone, at=at,
                              events=[event]),
        collection=store.CUSTOMERS, document_id=into.document_id, on_publish_failure=STAFF_ACTION)
    return await store.get_customer(desk.database, tenant_id=tenant_id, customer_id=into.customer_id) or into


async def get_customer(*, desk: Desk, tenant_id: str, customer_id: str) -> Customer:
    """One customer of the tenant, labelled for its staff; NotFound if there is none."""
    customer = await store.get_customer(desk.database, tenant_id=tenant_id, customer_id=customer_id)
    if customer is None:
        raise NotFound(f"No customer {customer_id!r}.")
    return customer.labelled(country=await _country(desk, tenant_id))


async def search_customers(*, desk: Desk, tenant_id: str, query: str) -> list[Customer]:
    """The tenant's customers matching a name, email or phone number, labelled for its staff."""
    country = await _country(desk, tenant_id)
    phone = None
    if query:
        try:
            phone = domain.normalise_phone(query, region=desk.settings.default_region)
        except ValueError:
            phone = None
    found = await store.search_customers(desk.database, tenant_id=tenant_id, query=query, phone=phone)
    return [customer.labelled(country=country) for customer in found]


async def name_customer(*, desk: Desk, tenant_id: str, customer_id: str, name: str) -> Customer:
    """Staff name a contact the point of sale does not know; its messages and issues show the name from now on."""
    customer = await _customer_or_404(desk, tenant_id=tenant_id, customer_id=customer_id)
    _check_can_be_changed(customer)
    country = await _country(desk, tenant_id)
    label = customer_label(name=name, phone=None, email=None, country=country)
    event = _profile_event(tenant_id=tenant_id, customer_id=customer_id, name=name, label=label)
    named = await desk.uow.commit(
        store.name_customer(desk.database, tenant_id=tenant_id, customer_id=customer_id, name=name, events=[event]),
        collection=store.CUSTOMERS, document_id=customer.document_id, on_publish_failure=STAFF_ACTION)
    if named is None:  # it had that name already, or changed meanwhile: answer what it is now
        current = await _customer_or_404(desk, tenant_id=tenant_id, customer_id=customer_id)
        _check_can_be_changed(current)
        return current.labelled(country=country)
    return named.labelled(country=country)


async def link_customer(*, desk: Desk, tenant_id: str, customer_id: str, into_customer_id: str) -> Customer:
    """Staff link a contact the point of sale does not know to the customer it is: its phones and emails (and an
    opt-out) move there, it records `merged_into`, and CustomerProfileChanged announces it. Answers that customer."""
    if into_customer_id == customer_id:
        raise Conflict("A customer cannot be linked into itself: choose another customer.", code="link_into_itself")
    source = await _customer_or_404(desk, tenant_id=tenant_id, customer_id=customer_id)
    into = await store.get_customer(desk.database, tenant_id=tenant_id, customer_id=into_customer_id)
    if into is None:
        raise NotFound(f"No customer {into_customer_id!r} to link {customer_id!r} into.")
    country = await _country(desk, tenant_id)
    if source.merged_into == into_customer_id:
        return into.labelled(country=country)  # done before: the same answer again
    _check_can_be_changed(source)
    _check_can_take_a_link(into)
    if not await store.start_merge(desk.database, tenant_id=tenant_id, customer_id=customer_id,
                                   into_customer_id=into_customer_id):
        raise Conflict(f"{customer_id!r} is being linked into another customer.", code="customer_merged")
    into = await store.get_customer(desk.database, tenant_id=tenant_id, customer_id=into_customer_id) or into
    if into.merged_into or into.merging_into:  # the target began a link of its own meanwhile: neither goes on
        await store.abandon_merge(desk.database, tenant_id=tenant_id, customer_id=customer_id,
                                  into_customer_id=into_customer_id)
        _check_can_take_a_link(into)
    claims = await store.contacts_of(desk.database, tenant_id=tenant_id, customer_id=customer_id)
    phones = [c.address for c in claims if c.kind == ContactKind.PHONE]
    emails = [c.address for c in claims if c.kind == ContactKind.EMAIL]
    await store.add_linked_addresses(desk.database, tenant_id=tenant_id, customer_id=into_customer_id,
                                     phones=phones, emails=emails)
    for phone in source.opted_out_phones:
        into = await _carry_opt_out(desk, tenant_id=tenant_id, into=into, phone=phone,
                                    at=source.sms_opted_out_at or _now())
    for claim in claims:
        await store.move_contact(desk.database, tenant_id=tenant_id, kind=claim.kind, address=claim.address,
                                 from_customer=customer_id, to_customer=into_customer_id)
    into = await store.get_customer(desk.database, tenant_id=tenant_id, customer_id=into_customer_id) or into
    event = _profile_event(tenant_id=tenant_id, customer_id=customer_id, name=into.name,
                           label=into.label_in(country=country), merged_into=into_customer_id)
    await desk.uow.commit(
        store.finish_merge(desk.database, tenant_id=tenant_id, customer_id=customer_id,
                           into_customer_id=into_customer_id, events=[event]),
        collection=store.CUSTOMERS, document_id=source.document_id, on_publish_failure=STAFF_ACTION)
    return into.labelled(country=country)


async def _customer_or_404(desk: Desk, *, tenant_id: str, customer_id: str) -> Customer:
    customer = await store.get_customer(desk.database, tenant_id=tenant_id, customer_id=customer_id)
    if customer is None:
        raise NotFound(f"No customer {customer_id!r}.")
    return customer


def _check_can_take_a_link(into: Customer) -> None:
    """A contact is linked only into a customer that is not itself linked (or being linked) elsewhere."""
    if into.merged_into or into.merging_into:
        raise Conflict(f"{into.customer_id!r} was itself linked into {into.merged_into or into.merging_into!r}: "
                       "link into that customer instead.", code="customer_merged")


def _check_can_be_changed(customer: Customer) -> None:
    """Staff name and link only contacts the point of sale does not know, and not once they were linked."""
    if customer.merged_into:
        raise Conflict(f"{customer.customer_id!r} was linked into {customer.merged_into!r}: change that customer "
                       "instead.", code="customer_merged")
    if not customer.unknown_contact:
        raise Conflict(f"{customer.customer_id!r} comes from the point of sale: change it there.",
                       code="customer_from_point_of_sale")


async def import_customers(*, desk: Desk, tenant_id: str,
                           lines: list[tuple[int, CustomerLine | str]]) -> ImportReport:
    """Apply every good line of a bulk import (a line number with a customer, or with why it was unreadable)."""
    applied, problems = 0, []
    for number, line in lines:
        if isinstance(line, str):
            problems.append(ImportProblem(line=number, error=line))
            continue
        try:
            await save_customer(desk=desk, tenant_id=tenant_id, customer_id=line.customer_id, customer=line.customer())
            applied += 1
        except RelayError as error:
            problems.append(ImportProblem(line=number, customer_id=line.customer_id, error=error.message))
    if applied == 0 and not problems:
        raise BadRequest("The import has no customers in it.")
    return ImportReport(applied=applied, failed=len(problems), errors=problems)


# --- inbound --------------------------------------------------------------------------------------


def check_fits(message: ProviderMessage) -> None:
    """Refuse (413) a message no carrier delivers or whose event the broker would not take, before recording it."""
    too_large = domain.oversize_reason(channel=message.channel, text=message.text, subject=message.subject)
    if too_large:
        raise PayloadTooLarge(too_large)


async def check_not_replayed(*, desk: Desk, tenant_id: str, provider: str, delivery: DeliveryHandle | None,
                             received_at: datetime) -> None:
    """Refuse a signed delivery handle seen before with other content: a captured signature on a forged body.

    The same handle with the same content is the provider retrying, and goes on to be recorded once.
    """
    if delivery is None:
        return
    if not delivery.handle:
        raise WebhookRejected("The delivery carries an empty handle.", reason="bad_signature")
    if not await store.remember_delivery(desk.database, tenant_id=tenant_id, provider=provider, delivery=delivery,
                                         now=received_at):
        raise WebhookRejected("This signature was already used for another request: refused as a replay.",
                              reason="replayed_signature")


async def receive(*, desk: Desk, tenant: Tenant, message: ProviderMessage, received_at: datetime) -> Receipt:
    """Record a provider's message once and announce it; keywords and bounces change state but open no issue."""
    tenant_id = tenant.tenant_id
    check_fits(message)
    existing = await store.find_inbound(desk.database, tenant_id=tenant_id, provider=message.provider,
                                        provider_message_id=message.provider_message_id)
    if existing:
        return await _already_recorded(desk, existing)
    if message.bounce is not None:
        return await _record_bounce(desk, tenant_id=tenant_id, message=message, received_at=received_at)
    customer = await resolve_customer(desk=desk, tenant_id=tenant_id, kind=domain.contact_kind_for(message.channel),
                                      address=message.from_address, name=message.from_name)
    if message.channel == Channel.SMS:
        opted_out = await store.is_sms_opted_out(desk.database, tenant_id=tenant_id, phone=message.from_address)
        keyword = domain.sms_keyword(message.text, opted_out=opted_out)
        if keyword is not None:
            return await _record_keyword(desk, tenant=tenant, customer=customer, message=message, keyword=keyword,
                                         received_at=received_at)
    message_id = domain.new_message_id()
    attachments = [*await _keep_media(desk, tenant_id=tenant_id, customer=customer, message=message),
                   *await _store_files(desk, tenant_id=tenant_id, customer=customer, message=message)]
    record = _inbound_record(tenant_id=tenant_id, message_id=message_id, message=message, received_at=received_at,
                             kind=InboundOutcome.MESSAGE, customer_id=customer.customer_id, attachments=attachments)
    name = customer.name or message.from_name
    is_sms = message.channel == Channel.SMS
    label = customer_label(name=name, phone=message.from_address if is_sms else next(iter(customer.phones), None),
                           email=next(iter(customer.emails), None) if is_sms else message.from_address,
                           country=tenant.country)
    event = new_event(
        InboundMessageReceived(
            customer_id=customer.customer_id, message_id=message_id, customer_name=name, customer_label=label,
            channel=message.channel, provider=message.provider, provider_message_id=message.provider_message_id,
            from_address=message.from_address, to_address=message.to_address, subject=message.subject,
            text=message.text, attachments=attachments, threading=message.threading, received_at=received_at,
            unknown_contact=customer.unknown_contact,
        ),
        tenant_id=tenant_id, producer=PRODUCER, correlation_id=message_id,
    )

    async def record_once() -> bool:
        inserted = await store.insert_inbound(desk.database, message=record, events=[event])
        if inserted:
            metrics.INBOUND_MESSAGES.labels(message.provider, message.channel.value).inc()
        return inserted

    if not await desk.uow.commit(record_once(), collection=store.INBOUND, document_id=message_id,
                                 on_publish_failure=WEBHOOK):
        return await _retry_of(desk, tenant_id=tenant_id, message=message)
    if message.attachments:
        _prefetch_media(desk, tenant_id=tenant_id, customer_id=customer.customer_id, attachments=attachments)
    return Receipt(outcome=InboundOutcome.MESSAGE, message_id=message_id)


def _inbound_record(*, tenant_id: str, message_id: str, message: ProviderMessage, received_at: datetime,
                    kind: InboundOutcome, customer_id: str | None, attachments: list[Attachment] | None = None,
                    **details: object) -> InboundMessage:
    return InboundMessage.model_validate({
        "message_id": message_id, "tenant_id": tenant_id, "kind": kind, "customer_id": customer_id,
        "provider": message.provider, "channel": message.channel, "provider_message_id": message.provider_message_id,
        "from_address": message.from_address, "to_address": message.to_address, "subject": message.subject,
        "text": message.text, "threading": message.threading, "received_at": received_at,
        "attachments": attachments or [], **details,
    })


async def _already_recorded(desk: Desk, existing: InboundMessage) -> Receipt:
    """A provider's retry: answer as before once the event is out, publishing it if an earlier try could not."""
    current: InboundMessage | None = existing
    while current is not None and current.pending_since is not None:
        # A try still in flight publishes it in a moment; once the event is older than that, this retry does.
        if (_now() - current.pending_since.replace(tzinfo=UTC)).total_seconds() >= RETRY_GRACE_SECONDS:
            await desk.uow.publish_pending(collection=store.INBOUND, document_id=existing.message_id,
                                           on_publish_failure=WEBHOOK)
            break
        await asyncio.sleep(0.05)
        current = await store.get_inbound(desk.database, tenant_id=existing.tenant_id, message_id=existing.message_id)
    return Receipt(outcome=existing.kind, message_id=existing.message_id, duplicate=True, reply=existing.reply)


async def _retry_of(desk: Desk, *, tenant_id: str, message: ProviderMessage) -> Receipt:
    existing = await store.find_inbound(desk.database, tenant_id=tenant_id, provider=message.provider,
                                        provider_message_id=message.provider_message_id)
    assert existing is not None, "a duplicate key means the message is recorded"
    return await _already_recorded(desk, existing)


async def _record_without_event(desk: Desk, *, record: InboundMessage, message: ProviderMessage) -> Receipt | None:
    """Record a webhook that announces nothing (a keyword, a bounce); the earlier try's receipt on a retry."""
    if await store.insert_inbound(desk.database, message=record, events=[]):
        return None
    return await _retry_of(desk, tenant_id=record.tenant_id, message=message)


async def _record_keyword(desk: Desk, *, tenant: Tenant, customer: Customer, message: ProviderMessage,
                          keyword: Keyword, received_at: datetime) -> Receipt:
    """STOP / START / HELP: change the customer's SMS subscription first, then record the keyword once."""
    tenant_id = tenant.tenant_id
    message_id = domain.new_message_id()
    if keyword == Keyword.STOP:
        await _opt_out(desk, tenant_id=tenant_id, customer=customer, phone=message.from_address, at=received_at,
                       correlation_id=message_id)
    elif keyword == Keyword.START:
        await _opt_in(desk, tenant_id=tenant_id, phone=message.from_address, at=received_at,
                      correlation_id=message_id)
    reply = domain.keyword_reply(keyword, business=tenant.business)
    record = _inbound_record(tenant_id=tenant_id, message_id=message_id, message=message, received_at=received_at,
                             kind=InboundOutcome.KEYWORD, customer_id=customer.customer_id, keyword=keyword,
                             reply=reply)
    if retried := await _record_without_event(desk, record=record, message=message):
        return retried
    log.info("SMS keyword %s from a customer of %s", keyword.value, tenant_id)
    return Receipt(outcome=InboundOutcome.KEYWORD, message_id=message_id, reply=reply)


async def _opt_out(desk: Desk, *, tenant_id: str, customer: Customer, phone: str, at: datetime,
                   correlation_id: str) -> None:
    """The number texted STOP: opt it out with CustomerConsentChanged (webhook: answered once the event is out)."""
    at = domain.as_stored(at)
    event = _consent_event(tenant_id=tenant_id, customer_id=customer.customer_id, phone=phone, opted_out=True, at=at,
                           source=ConsentSource.KEYWORD, correlation_id=correlation_id)
    changed = await desk.uow.commit(
        store.set_sms_opt_out(desk.database, tenant_id=tenant_id, customer_id=customer.customer_id, phone=phone,
                              at=at, events=[event]),
        collection=store.CUSTOMERS, document_id=customer.document_id, on_publish_failure=WEBHOOK)
    if not changed:  # opted out already: finish announcing it if an earlier try could not
        await desk.uow.publish_pending(collection=store.CUSTOMERS, document_id=customer.document_id,
                                       on_publish_failure=WEBHOOK)


async def _opt_in(desk: Desk, *, tenant_id: str, phone: str, at: datetime, correlation_id: str) -> None:
    """The number texted START: opt it back in on every customer it was out on, each announced."""
    for customer in await store.customers_opted_out(desk.database, tenant_id=tenant_id, phone=phone):
        event = _consent_event(tenant_id=tenant_id, customer_id=customer.customer_id, phone=phone, opted_out=False,
                               at=at, source=ConsentSource.KEYWORD, correlation_id=correlation_id)
        await desk.uow.commit(
            store.clear_sms_opt_out(desk.database, tenant_id=tenant_id, customer_id=customer.customer_id,
                                    phone=phone, at=at, events=[event]),
            collection=store.CUSTOMERS, document_id=customer.document_id, on_publish_failure=WEBHOOK)


async def _record_bounce(desk: Desk, *, tenant_id: str, message: ProviderMessage, received_at: datetime) -> Receipt:
    """A delivery-status notification: mark the outbound emails it names as bounced; open no issue."""
    assert message.bounce is not None
    matched = await store.find_outbound_by_email_ids(desk.database, tenant_id=tenant_id,
                                                     message_ids=message.bounce.referenced_message_ids)
    for outbound in matched:
        await advance_delivery(desk, outbound=outbound, status=DeliveryState.BOUNCED, reason=message.bounce.reason,
                               error_code=message.bounce.status_code, on_publish_failure=WEBHOOK)
    message_id = domain.new_message_id()
    bounce = BounceRecord(reason=message.bounce.reason, status_code=message.bounce.status_code,
                          outbound_ids=[o.outbound_id for o in matched])
    record = _inbound_record(tenant_id=tenant_id, message_id=message_id, message=message, received_at=received_at,
                             kind=InboundOutcome.BOUNCE, customer_id=None, bounce=bounce)
    if retried := await _record_without_event(desk, record=record, message=message):
        return retried
    log.info("bounce for %d outbound message(s) of %s", len(matched), tenant_id)
    return Receipt(outcome=InboundOutcome.BOUNCE, message_id=message_id)


async def _store_files(desk: Desk, *, tenant_id: str, customer: Customer,
                       message: ProviderMessage) -> list[Attachment]:
    """Keep an email's files in ingest's database; the message refers to them by URL."""
    attachments = []
    for index, upload in enumerate(message.files):
        attachment_id = domain.attachment_id_for(tenant_id=tenant_id, provider=message.provider,
                                                 provider_message_id=message.provider_message_id, index=index)
        await store.save_attachment(desk.database, attachment=StoredAttachment(
            tenant_id=tenant_id, attachment_id=attachment_id, customer_id=customer.customer_id,
            filename=upload.filename, content_type=upload.content_type, size=len(upload.content),
            content=upload.content,
        ))
        attachments.append(Attachment(
            url=domain.attachment_url(customer_id=customer.customer_id, attachment_id=attachment_id),
            content_type=upload.content_type, filename=upload.filename, size=len(upload.content),
        ))
    return attachments


async def _keep_media(desk: Desk, *, tenant_id: str, customer: Customer,
                      message: ProviderMessage) -> list[Attachment]:
    """Note where an MMS's media are kept at the provider; staff fetch them through ingest's attachment route."""
    attachments = []
    for index, media in enumerate(message.attachments):
        attachment_id = domain.attachment_id_for(tenant_id=tenant_id, provider=message.provider,
                                                 provider_message_id=message.provider_message_id, index=index,
                                                 media=True)
        await store.save_attachment(desk.database, attachment=StoredAttachment(
            tenant_id=tenant_id, attachment_id=attachment_id, customer_id=customer.customer_id,
            filename=media.filename, content_type=media.content_type, size=media.size, provider=message.provider,
            source_url=media.url,
        ))
        attachments.append(Attachment(
            url=domain.attachment_url(customer_id=customer.customer_id, attachment_id=attachment_id),
            content_type=media.content_type, filename=media.filename, size=media.size,
        ))
    return attachments


def _prefetch_media(desk: Desk, *, tenant_id: str, customer_id: str, attachments: list[Attachment]) -> None:
    """Fetch a message's media from its provider in the background, so staff see them at once (and after the
    provider's links expire); what fails here is fetched again when staff open it."""

    async def fetch_all() -> None:
        for attachment in attachments:
            attachment_id = attachment.url.rsplit("/", 1)[-1]
            try:
                await attachment_file(desk=desk, tenant_id=tenant_id, customer_id=customer_id,
                                      attachment_id=attachment_id)
            except RelayError as error:
                log.info("media %s of a customer of %s not fetched yet: %s", attachment_id, tenant_id, error.message)
            except Exception:
                log.warning("fetching media %s failed", attachment_id, exc_info=True)

    task = asyncio.ensure_future(fetch_all())
    desk.background.add(task)
    task.add_done_callback(desk.background.discard)


async def attachment_file(*, desk: Desk, tenant_id: str, customer_id: str, attachment_id: str) -> StoredAttachment:
    """A customer's attachment with its content: an email's as it came, an MMS's fetched once from its provider."""
    found = await store.get_attachment(desk.database, tenant_id=tenant_id, attachment_id=attachment_id)
    if found is None or found.customer_id != customer_id:
        raise NotFound(f"No attachment {attachment_id!r} for customer {customer_id!r}.")
    if found.content is not None:
        return found
    fetcher = desk.media.get(found.provider or "")
    if fetcher is None or not found.source_url:
        raise NotFound(f"Attachment {attachment_id!r} has no content that can be fetched.")
    tenant = await store.get_tenant(desk.database, tenant_id=tenant_id)
    settings = tenant.settings.section(found.provider) if tenant and found.provider in PROVIDERS else None
    try:
        fetched = await fetcher.fetch(found.source_url, settings=settings, max_bytes=desk.settings.max_body_bytes)
    except MediaUnavailable as error:
        if error.gone:
            raise NotFound(f"Attachment {attachment_id!r} cannot be had any more: {error.reason}",
                           code="media_gone") from None
        raise MediaUnreachable(f"{error.reason} Try again in a moment.") from None
    content_type = found.content_type
    if content_type == "application/octet-stream" and fetched.content_type:
        content_type = fetched.content_type
    await store.keep_fetched_content(desk.database, tenant_id=tenant_id, attachment_id=attachment_id,
                                     content=fetched.content, content_type=content_type)
    return found.model_copy(update={"content": fetched.content, "size": len(fetched.content),
                                    "content_type": content_type})


# --- reply templates ------------------------------------------------------------------------------


async def save_template(*, desk: Desk, tenant_id: str, template_id: str, template: ReplyTemplateIn,
                        saved_by: str) -> ReplyTemplate:
    """Create or replace one of the tenant's quick replies; its variables must be ones Relay can fill."""
    try:
        domain.check_template_body(template.body)
    except ValueError as error:
        raise Unprocessable(str(error), code="unknown_variables") from None
    if (not await store.template_exists(desk.database, tenant_id=tenant_id, template_id=template_id)
            and await store.count_templates(desk.database, tenant_id=tenant_id) >= store.MAX_TEMPLATES):
        raise Conflict(f"A tenant keeps at most {store.MAX_TEMPLATES} reply templates: delete one first.",
                       code="too_many_templates")
    return await store.save_template(desk.database, tenant_id=tenant_id, template_id=template_id,
                                     name=template.name, body=template.body, updated_by=saved_by)


async def delete_template(*, desk: Desk, tenant_id: str, template_id: str) -> None:
    """Remove one of the tenant's quick replies; NotFound if it has none by that id."""
    if not await store.delete_template(desk.database, tenant_id=tenant_id, template_id=template_id):
        raise NotFound(f"No reply template {template_id!r}.")


async def quick_replies(*, desk: Desk, tenant_id: str, customer_id: str) -> QuickReplies:
    """Every template filled for one customer from their account and most recent open order."""
    customer = await _customer_or_404(desk, tenant_id=tenant_id, customer_id=customer_id)
    if customer.merged_into:  # the person is the customer it was linked into
        customer = await store.get_customer(desk.database, tenant_id=tenant_id,
                                            customer_id=customer.merged_into) or customer
    tenant = await store.get_tenant(desk.database, tenant_id=tenant_id)
    order = customer.current_order()
    values = domain.template_values(name=customer.name, account=customer.account,
                                    order=order.facts() if order else None,
                                    shop_name=tenant.business if tenant else "")
    filled = []
    for template in await store.list_templates(desk.database, tenant_id=tenant_id):
        text, missing = domain.fill_template(template.body, values=values)
        filled.append(QuickReply(template_id=template.template_id, name=template.name, body=template.body, text=text,
                                 missing=missing))
    return QuickReplies(quick_replies=filled)


# --- delivery -------------------------------------------------------------------------------------


async def advance_delivery(
    desk: Desk, *, outbound: OutboundDelivery, status: DeliveryState, on_publish_failure: OnPublishFailure,
    reason: str | None = None, error_code: str | None = None, provider_message_id: str | None = None,
) -> bool:
    """Move an outbound message forward (never back) and announce it with DeliveryStatusChanged."""
    if advances_delivery(current=outbound.status, new=status):  # `outbound` may be older: the store decides
        event = new_event(
            DeliveryStatusChanged(
                customer_id=outbound.customer_id, outbound_id=outbound.outbound_id, issue_id=outbound.issue_id,
                status=status, error_code=error_code, reason=reason,
                provider_message_id=provider_message_id or outbound.provider_message_id, at=_now(),
                channel=outbound.channel,
            ),
            tenant_id=outbound.tenant_id, producer=PRODUCER, correlation_id=outbound.correlation_id,
            causation_id=outbound.causation_id,
        )
        advanced = await desk.uow.commit(
            store.advance_outbound(desk.database, tenant_id=outbound.tenant_id, outbound_id=outbound.outbound_id,
                                   status=status, reason=reason, error_code=error_code, event=event),
            collection=store.OUTBOUND, document_id=outbound.document_id, on_publish_failure=on_publish_failure,
        )
        if advanced is not None:
            metrics.OUTBOUND_MESSAGES.labels(outbound.channel.value, status.value).inc()
            return True
    # already there or further: finish announcing that if an earlier try could not
    current = await store.get_outbound(desk.database, tenant_id=outbound.tenant_id, outbound_id=outbound.outbound_id)
    if current is not None and current.has_pending_events:
        await desk.uow.publish_pending(collection=store.OUTBOUND, document_id=current.document_id,
                                       on_publish_failure=on_publish_failure)
    return False


async def record_provider_status(*, desk: Desk, tenant_id: str, report: ProviderStatus) -> bool:
    """A provider's status callback: keep it, and apply it to the outbound message it names (if known yet)."""
    await store.record_status_report(desk.database, tenant_id=tenant_id, report=report)
    outbound = await store.find_outbound_by_provider_id(
        desk.database, tenant_id=tenant_id, provider=report.provider, provider_message_id=report.provider_message_id
    )
    if outbound is None:
        return False  # applied when the send that produced this id is recorded
    return await advance_delivery(desk, outbound=outbound, status=report.status, reason=report.reason,
                                  error_code=report.error_code, on_publish_failure=WEBHOOK)


# --- outbound -------------------------------------------------------------------------------------


async def send_outbound(*, desk: Desk, event: Envelope[OutboundMessageRequested]) -> None:
    """Send a staff reply once: claim it in the delivery log, check it may go, send with retries, announce."""
    request = event.payload
    tenant = await store.get_tenant(desk.database, tenant_id=event.tenant_id)
    provider = tenant.settings.sender_for(request.channel) if tenant else None
    section = tenant.settings.section(provider) if tenant and provider else None
    email_message_id = None
    if isinstance(section, EmailSenderSettings):
        email_message_id = mail.outbound_message_id(outbound_id=request.outbound_id, tenant_id=event.tenant_id,
                                                    from_address=section.from_address)
    outbound, claimed = await store.claim_outbound(desk.database, delivery=OutboundDelivery(
        tenant_id=event.tenant_id, outbound_id=request.outbound_id, issue_id=request.issue_id,
        customer_id=request.customer_id, channel=request.channel, to_address=request.to_address, text=request.text,
        subject=request.subject, requested_by=request.requested_by, threading=request.threading, provider=provider,
        email_message_id=email_message_id, status=DeliveryState.SENDING, correlation_id=event.correlation_id,
        causation_id=str(event.event_id),
    ))
    if not claimed:
        if outbound.has_pending_events:
            await desk.uow.publish_pending(collection=store.OUTBOUND, document_id=outbound.document_id,
                                           on_publish_failure=SENDING)
        log.info("outbound %s already %s: not sent again", request.outbound_id, outbound.status.value)
        return

    refusal = await _why_not(desk, tenant=tenant, provider=provider, request=request)
    if refusal is not None:
        status, reason = refusal
        await advance_delivery(desk, outbound=outbound, status=status, reason=reason, on_publish_failure=SENDING)
        return
    assert tenant is not None and provider is not None and section is not None  # a chosen sender is set up
    await _send_with_retries(desk, outbound=outbound, sender=desk.senders[provider], settings=section,
                             message=await _outgoing(desk, tenant=tenant, provider=provider, request=request,
                                                     email_message_id=email_message_id))


async def _send_with_retries(desk: Desk, *, outbound: OutboundDelivery, sender: Sender, settings: object,
                             message: OutgoingMessage) -> None:
    """Hand the reply to its provider, retrying transient failures with back-off; then apply early reports."""
    tenant_id, outbound_id = outbound.tenant_id, outbound.outbound_id
    delays = domain.backoff_delays(attempts=desk.settings.send_attempts, first=desk.settings.send_backoff_seconds)
    attempt = 0
    while True:
        attempt += 1
        try:
            receipt = await sender.send(message, settings=settings)
            break
        except PermanentSendError as error:
            await store.record_attempt(desk.database, tenant_id=tenant_id, outbound_id=outbound_id, attempts=attempt)
            status = DeliveryState.REFUSED if error.refused else DeliveryState.FAILED
            await advance_delivery(desk, outbound=outbound, status=status, reason=error.reason, error_code=error.code,
                                   on_publish_failure=SENDING)
            return
        except TransientSendError as error:
            await store.record_attempt(desk.database, tenant_id=tenant_id, outbound_id=outbound_id, attempts=attempt,
                                       last_error=error.reason)
            if attempt > len(delays):
                await advance_delivery(desk, outbound=outbound, status=DeliveryState.FAILED, error_code=error.code,
                                       reason=f"Gave up after {attempt} attempts: {error.reason}",
                                       on_publish_failure=SENDING)
                return
            log.warning("sending outbound %s failed (attempt %d): %s; retrying", outbound_id, attempt, error.reason)
            await asyncio.sleep(delays[attempt - 1])
        except Exception:  # whether it left is unknown: never risk sending it twice
            log.exception("sending outbound %s broke unexpectedly", outbound_id)
            await advance_delivery(desk, outbound=outbound, status=DeliveryState.FAILED, on_publish_failure=SENDING,
                                   reason="Sending broke unexpectedly; it was not retried in case it went out.")
            return
    await store.record_sent(desk.database, tenant_id=tenant_id, outbound_id=outbound_id, attempts=attempt,
                            provider=receipt.provider, provider_message_id=receipt.provider_message_id)
    await advance_delivery(desk, outbound=outbound, status=DeliveryState.SENT,
                           provider_message_id=receipt.provider_message_id, on_publish_failure=SENDING)
    for report in await store.status_reports_for(desk.database, tenant_id=tenant_id, provider=receipt.provider,
                                                  provider_message_id=receipt.provider_message_id):
        await advance_delivery(desk, outbound=outbound, status=report.status, reason=report.reason,
                               error_code=report.error_code, provider_message_id=receipt.provider_message_id,
                               on_publish_failure=SENDING)


async def _why_not(desk: Desk, *, tenant: Tenant | None, provider: str | None,
                   request: OutboundMessageRequested) -> tuple[DeliveryState, str] | None:
    """Why this reply must not go out (state and reason), or None if it may."""
    if tenant is None:
        return DeliveryState.FAILED, "This tenant has no provider settings in ingest, so nothing can be sent."
    if provider is None or provider not in desk.senders:
        return DeliveryState.FAILED, (f"No provider that sends {request.channel.value} is set up for this tenant, so "
                                      f"{request.channel.value} replies cannot be sent.")
    if request.channel == Channel.SMS:
        try:
            phone = domain.normalise_phone(request.to_address, region=desk.settings.default_region)
        except ValueError:
            return DeliveryState.REFUSED, f"{request.to_address!r} is not a phone number."
        if await store.is_sms_opted_out(desk.database, tenant_id=tenant.tenant_id, phone=phone):
            return DeliveryState.REFUSED, domain.opted_out_reason(phone)
    else:
        try:
            domain.normalise_email(request.to_address)
        except ValueError:
            return DeliveryState.REFUSED, f"{request.to_address!r} is not an email address."
    return None


async def _outgoing(desk: Desk, *, tenant: Tenant, provider: str, request: OutboundMessageRequested,
                    email_message_id: str | None) -> OutgoingMessage:
    """The message as the provider gets it: normalised address, threading, where its delivery is reported."""
    if request.channel == Channel.SMS:
        hook = PROVIDERS[provider].status_hook
        callback = None
        if hook:
            callback = desk.settings.public_url.rstrip("/") + domain.webhook_path(
                tenant_id=tenant.tenant_id, provider=provider, hook=hook)
        return OutgoingMessage(
            tenant_id=tenant.tenant_id, outbound_id=request.outbound_id, channel=request.channel,
            to_address=domain.normalise_phone(request.to_address, region=desk.settings.default_region),
            text=request.text, business=tenant.business, status_callback_url=callback,
        )
    threading, subject = request.threading, request.subject  # the issues service states what it answers
    if threading is None or not subject:
        latest = await store.latest_inbound_email(desk.database, tenant_id=tenant.tenant_id,
                                                  customer_id=request.customer_id)
        if latest is not None:
            threading = threading or latest.threading
            subject = subject or reply_subject(latest.subject)
    reply = reply_threading(threading)
    return OutgoingMessage(
        tenant_id=tenant.tenant_id, outbound_id=request.outbound_id, channel=request.channel,
        to_address=domain.normalise_email(request.to_address), text=request.text, business=tenant.business,
        subject=subject or reply_subject(None), email_message_id=email_message_id,
        in_reply_to=reply.in_reply_to if reply else None, references=list(reply.references) if reply else [],
    )
