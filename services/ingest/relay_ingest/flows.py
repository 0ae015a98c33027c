"""Multi-step work: recording a provider's message, keeping the directory, sending a reply, following its delivery."""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from relay_contracts import Envelope, new_event
from relay_contracts.customer_messages import (
    Attachment,
    Channel,
    DeliveryState,
    DeliveryStatusChanged,
    InboundMessageReceived,
    OutboundMessageRequested,
    advances_delivery,
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
    StoredAttachment,
    Tenant,
    TenantSettings,
)
from relay_ingest.providers import PROVIDERS, mail
from relay_ingest.providers.base import (
    DeliveryHandle,
    EmailSenderSettings,
    InboundOutcome,
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
from relay_kit.errors import BadRequest, Conflict, PayloadTooLarge, RelayError
from relay_kit.store import Database
from relay_kit.unit_of_work import OnPublishFailure, UnitOfWork

log = logging.getLogger(__name__)
PRODUCER = "ingest"
RETRY_GRACE_SECONDS = 1.0  # how long a retry waits for a concurrent try to publish before publishing itself

# A provider's webhook is answered 2xx only once the broker has its event: otherwise 503, and the provider retries.
WEBHOOK = OnPublishFailure.ANSWER_UNAVAILABLE
# Sending a reply stores each state it reaches; nobody waits on the answer, so the sweeper publishes what failed.
SENDING = OnPublishFailure.LEAVE_TO_SWEEPER


@dataclass
class Desk:
    """What the flows work with: the service's database, its unit of work, settings, and senders by provider."""

    database: Database
    uow: UnitOfWork
    settings: IngestSettings
    senders: dict[str, Sender] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC)


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

    An address held by an unknown contact moves to this customer (later messages land here);
    one held by another known customer is a conflict and nothing changes.
    """
    try:
        contacts = domain.normalise_contacts(phones=customer.phones, emails=customer.emails,
                                             region=desk.settings.default_region)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    claimed_now: list[tuple[ContactKind, str]] = []
    for kind, address in contacts.pairs():
        owner, claimed = await store.claim_contact(desk.database, tenant_id=tenant_id, kind=kind, address=address,
                                                   customer_id=customer_id)
        if claimed:
            claimed_now.append((kind, address))
        if owner == customer_id:
            continue
        holder = await store.get_customer(desk.database, tenant_id=tenant_id, customer_id=owner)
        if holder is None or holder.unknown_contact:
            moved = await store.move_contact(desk.database, tenant_id=tenant_id, kind=kind, address=address,
                                             from_customer=owner, to_customer=customer_id)
            if moved and holder is not None:
                await store.detach_contact(desk.database, tenant_id=tenant_id, customer_id=owner, kind=kind,
                                           address=address, merged_into=customer_id)
            if moved:
                continue
        for claimed_kind, claimed_address in claimed_now:
            await store.unclaim_contact(desk.database, tenant_id=tenant_id, kind=claimed_kind,
                                        address=claimed_address, customer_id=customer_id)
        raise Conflict(f"{address} already belongs to customer {owner!r}; remove it there first.")
    await store.release_contacts(desk.database, tenant_id=tenant_id, customer_id=customer_id, keep=contacts.pairs())
    return await store.save_customer(desk.database, tenant_id=tenant_id, customer_id=customer_id, name=customer.name,
                                     contacts=contacts, account=customer.account)


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
    attachments = [*message.attachments, *await _store_files(desk, tenant_id=tenant_id, customer=customer,
                                                             message=message)]
    record = _inbound_record(tenant_id=tenant_id, message_id=message_id, message=message, received_at=received_at,
                             kind=InboundOutcome.MESSAGE, customer_id=customer.customer_id, attachments=attachments)
    event = new_event(
        InboundMessageReceived(
            customer_id=customer.customer_id, message_id=message_id, customer_name=customer.name or message.from_name,
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
    if keyword == Keyword.STOP:
        await store.set_sms_opt_out(desk.database, tenant_id=tenant_id, customer_id=customer.customer_id,
                                    phone=message.from_address, at=received_at)
    elif keyword == Keyword.START:
        await store.clear_sms_opt_out(desk.database, tenant_id=tenant_id, phone=message.from_address, at=received_at)
    reply = domain.keyword_reply(keyword, business=tenant.business)
    message_id = domain.new_message_id()
    record = _inbound_record(tenant_id=tenant_id, message_id=message_id, message=message, received_at=received_at,
                             kind=InboundOutcome.KEYWORD, customer_id=customer.customer_id, keyword=keyword,
                             reply=reply)
    if retried := await _record_without_event(desk, record=record, message=message):
        return retried
    log.info("SMS keyword %s from a customer of %s", keyword.value, tenant_id)
    return Receipt(outcome=InboundOutcome.KEYWORD, message_id=message_id, reply=reply)


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
