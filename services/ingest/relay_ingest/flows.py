"""Multi-step work: recording a provider's message, keeping the directory, sending a reply, following its delivery."""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from relay_contracts import Envelope, new_event
from relay_contracts.customer_messages import (
    Attachment,
    Channel,
    DeliveryState,
    DeliveryStatusChanged,
    EmailThreading,
    InboundMessageReceived,
    OutboundMessageRequested,
)
from relay_ingest import domain, mail, metrics, store
from relay_ingest.domain import ContactKind, InboundMessage, InboundOutcome, Keyword, ProviderStatus, Receipt
from relay_ingest.providers.base import OutboundSender
from relay_ingest.settings import IngestSettings
from relay_kit.errors import BadRequest, Conflict, Unavailable
from relay_kit.outbox import Outbox
from relay_kit.store import is_duplicate_key

log = logging.getLogger(__name__)
PRODUCER = "ingest"
RETRY_GRACE_SECONDS = 1.0  # how long a retry waits for a concurrent try to publish before publishing itself


@dataclass
class Desk:
    """What the flows work with: the service's database, its outbox, settings and senders."""

    database: Any
    outbox: Outbox
    settings: IngestSettings
    senders: dict[Channel, OutboundSender] = field(default_factory=dict)

    async def announce(self, collection: str, document_id: Any) -> None:
        """Publish the events stored on a document; 503 if the broker did not take them (they stay pending)."""
        try:
            await self.outbox.flush(self.database[collection], document_id)
        except Exception as error:
            log.warning("publishing pending events of %s %s failed: %r", collection, document_id, error)
            raise Unavailable("Recorded, but the event could not be published yet; retry shortly.") from None


def _now() -> datetime:
    return datetime.now(UTC)


# --- customers ------------------------------------------------------------------------------------


async def resolve_customer(
    *, desk: Desk, tenant_id: str, kind: ContactKind, address: str, name: str | None = None
) -> dict[str, Any]:
    """The customer this phone or email belongs to; a new "unknown contact" if nobody has it yet."""
    contact = await store.find_contact(desk.database, tenant_id=tenant_id, kind=kind, address=address)
    if contact:
        owner = contact["customer_id"]
    else:
        owner, _ = await store.claim_contact(desk.database, tenant_id=tenant_id, kind=kind, address=address,
                                             customer_id=domain.new_customer_id())
    field_name = "phones" if kind == ContactKind.PHONE else "emails"
    return await store.ensure_customer(desk.database, tenant_id=tenant_id, customer_id=owner, on_insert={
        "name": name, "phones": [], "emails": [], field_name: [address], "account": {}, "unknown_contact": True,
        "opted_out_phones": [],
    })


async def save_customer(
    *, desk: Desk, tenant_id: str, customer_id: str, customer: domain.CustomerIn
) -> dict[str, Any]:
    """Upsert a customer from the point-of-sale system, claiming its phones and emails.

    An address held by an unknown contact moves to this customer (later messages land here);
    one held by another known customer is a conflict and nothing changes.
    """
    try:
        contacts = domain.normalise_contacts(customer, region=desk.settings.default_region)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    claimed_now: list[tuple[str, str]] = []
    for kind, address in contacts.pairs():
        owner, claimed = await store.claim_contact(desk.database, tenant_id=tenant_id, kind=kind, address=address,
                                                   customer_id=customer_id)
        if claimed:
            claimed_now.append((kind, address))
        if owner == customer_id:
            continue
        holder = await store.get_customer(desk.database, tenant_id=tenant_id, customer_id=owner)
        if holder is None or holder.get("unknown_contact"):
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
    await store.release_contacts(desk.database, tenant_id=tenant_id, customer_id=customer_id,
                                 keep=[(k.value, a) for k, a in contacts.pairs()])
    return await store.save_customer(desk.database, tenant_id=tenant_id, customer_id=customer_id, fields={
        "name": customer.name, "phones": contacts.phones, "emails": contacts.emails, "account": customer.account,
        "unknown_contact": False,
    })


# --- inbound --------------------------------------------------------------------------------------


async def receive(*, desk: Desk, tenant: dict[str, Any], message: InboundMessage, received_at: datetime) -> Receipt:
    """Record a provider's message once and announce it; keywords and bounces change state but open no issue."""
    tenant_id = tenant["tenant_id"]
    existing = await store.find_inbound(desk.database, tenant_id=tenant_id, provider=message.provider,
                                        provider_message_id=message.provider_message_id)
    if existing:
        return await _already_recorded(desk, existing)
    if message.bounce is not None:
        return await _record_bounce(desk, tenant_id=tenant_id, message=message, received_at=received_at)
    kind = domain.contact_kind_for(message.channel)
    customer = await resolve_customer(desk=desk, tenant_id=tenant_id, kind=kind, address=message.from_address,
                                      name=message.from_name)
    if message.channel == Channel.SMS:
        opted_out = await store.is_sms_opted_out(desk.database, tenant_id=tenant_id, phone=message.from_address)
        keyword = domain.sms_keyword(message.text, opted_out=opted_out)
        if keyword is not None:
            return await _record_keyword(desk, tenant=tenant, customer=customer, message=message, keyword=keyword,
                                         received_at=received_at)
    message_id = domain.new_message_id()
    attachments = [*message.attachments, *await _store_files(desk, tenant_id=tenant_id, customer=customer,
                                                             message=message)]
    event = new_event(
        InboundMessageReceived(
            customer_id=customer["customer_id"], message_id=message_id,
            customer_name=customer.get("name") or message.from_name, channel=message.channel,
            provider=message.provider, provider_message_id=message.provider_message_id,
            from_address=message.from_address, to_address=message.to_address, subject=message.subject,
            text=message.text, attachments=attachments, threading=message.threading, received_at=received_at,
            unknown_contact=bool(customer.get("unknown_contact")),
        ),
        tenant_id=tenant_id, producer=PRODUCER, correlation_id=message_id,
    )
    document = _inbound_document(tenant_id=tenant_id, message_id=message_id, message=message, received_at=received_at,
                                 kind=InboundOutcome.MESSAGE, customer_id=customer["customer_id"])
    document["attachments"] = [a.model_dump() for a in attachments]
    try:
        await store.insert_inbound(desk.database, document=document, events=[event])
    except Exception as error:
        if not is_duplicate_key(error):
            raise
        return await _retry_of(desk, tenant_id=tenant_id, message=message)
    metrics.INBOUND_MESSAGES.labels(message.provider, message.channel.value).inc()
    await desk.announce(store.INBOUND, message_id)
    return Receipt(outcome=InboundOutcome.MESSAGE, message_id=message_id)


def _inbound_document(*, tenant_id: str, message_id: str, message: InboundMessage, received_at: datetime,
                      kind: InboundOutcome, customer_id: str | None) -> dict[str, Any]:
    return {
        "_id": message_id, "tenant_id": tenant_id, "kind": kind.value, "customer_id": customer_id,
        "provider": message.provider, "channel": message.channel.value,
        "provider_message_id": message.provider_message_id, "from_address": message.from_address,
        "to_address": message.to_address, "subject": message.subject, "text": message.text,
        "threading": message.threading.model_dump() if message.threading else None, "received_at": received_at,
    }


async def _already_recorded(desk: Desk, existing: dict[str, Any]) -> Receipt:
    """A provider's retry: answer as before once the event is out, publishing it if an earlier try could not."""
    document: dict[str, Any] | None = existing
    while document and document.get("_outbox"):
        # A try still in flight publishes it in a moment; once the event is older than that, this retry does.
        stored_at = document["_outbox"][0]["stored_at"].replace(tzinfo=UTC)
        if (_now() - stored_at).total_seconds() >= RETRY_GRACE_SECONDS:
            await desk.announce(store.INBOUND, existing["_id"])
            break
        await asyncio.sleep(0.05)
        document = await store.pending_events_of_inbound(desk.database, tenant_id=existing["tenant_id"],
                                                         message_id=existing["_id"])
    return Receipt(outcome=InboundOutcome(existing.get("kind", "message")), message_id=existing["_id"],
                   duplicate=True, reply=existing.get("reply"))


async def _retry_of(desk: Desk, *, tenant_id: str, message: InboundMessage) -> Receipt:
    existing = await store.find_inbound(desk.database, tenant_id=tenant_id, provider=message.provider,
                                        provider_message_id=message.provider_message_id)
    assert existing is not None, "a duplicate key means the message is recorded"
    return await _already_recorded(desk, existing)


async def _record_keyword(desk: Desk, *, tenant: dict[str, Any], customer: dict[str, Any], message: InboundMessage,
                          keyword: Keyword, received_at: datetime) -> Receipt:
    """STOP / START / HELP: change the customer's SMS subscription first, then record the keyword once."""
    tenant_id = tenant["tenant_id"]
    if keyword == Keyword.STOP:
        await store.set_sms_opt_out(desk.database, tenant_id=tenant_id, customer_id=customer["customer_id"],
                                    phone=message.from_address, at=received_at)
    elif keyword == Keyword.START:
        await store.clear_sms_opt_out(desk.database, tenant_id=tenant_id, phone=message.from_address, at=received_at)
    reply = domain.keyword_reply(keyword, business=(tenant.get("settings") or {}).get("name") or "us")
    message_id = domain.new_message_id()
    document = _inbound_document(tenant_id=tenant_id, message_id=message_id, message=message, received_at=received_at,
                                 kind=InboundOutcome.KEYWORD, customer_id=customer["customer_id"])
    document.update(keyword=keyword.value, reply=reply)
    try:
        await store.insert_inbound(desk.database, document=document, events=[])
    except Exception as error:
        if not is_duplicate_key(error):
            raise
        return await _retry_of(desk, tenant_id=tenant_id, message=message)
    log.info("SMS keyword %s from a customer of %s", keyword.value, tenant_id)
    return Receipt(outcome=InboundOutcome.KEYWORD, message_id=message_id, reply=reply)


async def _record_bounce(desk: Desk, *, tenant_id: str, message: InboundMessage, received_at: datetime) -> Receipt:
    """A delivery-status notification: mark the outbound emails it names as bounced; open no issue."""
    assert message.bounce is not None
    matched = await store.find_outbound_by_email_ids(desk.database, tenant_id=tenant_id,
                                                     message_ids=message.bounce.referenced_message_ids)
    for outbound in matched:
        await advance_delivery(desk, outbound=outbound, status=DeliveryState.BOUNCED, reason=message.bounce.reason,
                               error_code=message.bounce.status_code)
    message_id = domain.new_message_id()
    document = _inbound_document(tenant_id=tenant_id, message_id=message_id, message=message, received_at=received_at,
                                 kind=InboundOutcome.BOUNCE, customer_id=None)
    document["bounce"] = {"reason": message.bounce.reason, "status_code": message.bounce.status_code,
                          "outbound_ids": [o["outbound_id"] for o in matched]}
    try:
        await store.insert_inbound(desk.database, document=document, events=[])
    except Exception as error:
        if not is_duplicate_key(error):
            raise
        return await _retry_of(desk, tenant_id=tenant_id, message=message)
    log.info("bounce for %d outbound message(s) of %s", len(matched), tenant_id)
    return Receipt(outcome=InboundOutcome.BOUNCE, message_id=message_id)


async def _store_files(desk: Desk, *, tenant_id: str, customer: dict[str, Any],
                       message: InboundMessage) -> list[Attachment]:
    """Keep an email's files in ingest's database; the message refers to them by URL."""
    attachments = []
    for index, upload in enumerate(message.files):
        attachment_id = domain.attachment_id_for(tenant_id=tenant_id, provider=message.provider,
                                                 provider_message_id=message.provider_message_id, index=index)
        await store.save_attachment(desk.database, document={
            "tenant_id": tenant_id, "attachment_id": attachment_id, "customer_id": customer["customer_id"],
            "filename": upload.filename, "content_type": upload.content_type, "size": len(upload.content),
            "content": upload.content,
        })
        attachments.append(Attachment(
            url=domain.attachment_url(customer_id=customer["customer_id"], attachment_id=attachment_id),
            content_type=upload.content_type, filename=upload.filename, size=len(upload.content),
        ))
    return attachments


# --- delivery -------------------------------------------------------------------------------------


async def advance_delivery(
    desk: Desk, *, outbound: dict[str, Any], status: DeliveryState, reason: str | None = None,
    error_code: str | None = None, provider_message_id: str | None = None,
) -> bool:
    """Move an outbound message forward (never back) and announce it with DeliveryStatusChanged."""
    provider_message_id = provider_message_id or outbound.get("provider_message_id")
    event = new_event(
        DeliveryStatusChanged(
            customer_id=outbound["customer_id"], outbound_id=outbound["outbound_id"], issue_id=outbound["issue_id"],
            status=status, error_code=error_code, reason=reason, provider_message_id=provider_message_id,
            at=_now(), channel=Channel(outbound["channel"]),
        ),
        tenant_id=outbound["tenant_id"], producer=PRODUCER, correlation_id=outbound.get("correlation_id"),
        causation_id=outbound.get("causation_id"),
    )
    details = {k: v for k, v in {"reason": reason, "error_code": error_code}.items() if v is not None}
    updated = await store.advance_outbound(
        desk.database, tenant_id=outbound["tenant_id"], outbound_id=outbound["outbound_id"], status=status.value,
        rank=domain.status_rank(status), details=details, event=event,
    )
    if updated is None:  # already there or further; finish announcing it if an earlier try could not
        current = await store.get_outbound(desk.database, tenant_id=outbound["tenant_id"],
                                           outbound_id=outbound["outbound_id"])
        if current and current.get("_outbox"):
            await desk.announce(store.OUTBOUND, current["_id"])
        return False
    metrics.OUTBOUND_MESSAGES.labels(outbound["channel"], status.value).inc()
    await desk.announce(store.OUTBOUND, updated["_id"])
    return True


async def record_provider_status(*, desk: Desk, tenant_id: str, report: ProviderStatus) -> bool:
    """A provider's status callback: keep it, and apply it to the outbound message it names (if known yet)."""
    await store.record_status_report(
        desk.database, tenant_id=tenant_id, provider=report.provider, provider_message_id=report.provider_message_id,
        status=report.status.value, error_code=report.error_code, reason=report.reason,
    )
    outbound = await store.find_outbound_by_provider_id(
        desk.database, tenant_id=tenant_id, provider=report.provider, provider_message_id=report.provider_message_id
    )
    if outbound is None:
        return False  # applied when the send that produced this id is recorded
    return await advance_delivery(desk, outbound=outbound, status=report.status, reason=report.reason,
                                  error_code=report.error_code)


# --- outbound -------------------------------------------------------------------------------------


async def send_outbound(*, desk: Desk, event: Envelope[OutboundMessageRequested]) -> None:
    """Send a staff reply once: claim it in the delivery log, check it may go, send with retries, announce."""
    request = event.payload
    tenant_id = event.tenant_id
    tenant = await store.get_tenant(desk.database, tenant_id=tenant_id)
    sender = desk.senders.get(request.channel)
    email_settings = (tenant or {}).get("settings", {}).get("email") if tenant else None
    email_message_id = None
    if request.channel == Channel.EMAIL and email_settings:
        email_message_id = mail.outbound_message_id(outbound_id=request.outbound_id, tenant_id=tenant_id,
                                                    from_address=email_settings["from_address"])
    outbound, claimed = await store.claim_outbound(desk.database, document={
        "tenant_id": tenant_id, "outbound_id": request.outbound_id, "issue_id": request.issue_id,
        "customer_id": request.customer_id, "channel": request.channel.value, "to_address": request.to_address,
        "text": request.text, "subject": request.subject, "requested_by": request.requested_by,
        "threading": request.threading.model_dump() if request.threading else None,
        "provider": sender.name if sender else None, "email_message_id": email_message_id,
        "status": DeliveryState.SENDING.value, "rank": domain.status_rank(DeliveryState.SENDING), "attempts": 0,
        "correlation_id": event.correlation_id, "causation_id": str(event.event_id), "history": [],
    })
    if not claimed:
        if outbound.get("_outbox"):
            await desk.announce(store.OUTBOUND, outbound["_id"])
        log.info("outbound %s already %s: not sent again", request.outbound_id, outbound.get("status"))
        return

    refusal = await _why_not(desk, tenant=tenant, sender=sender, request=request)
    if refusal is not None:
        status, reason = refusal
        await advance_delivery(desk, outbound=outbound, status=status, reason=reason)
        return
    assert tenant is not None and sender is not None
    outgoing = await _outgoing(desk, tenant_id=tenant_id, request=request, email_message_id=email_message_id,
                               sender=sender)
    delays = domain.backoff_delays(attempts=desk.settings.send_attempts, first=desk.settings.send_backoff_seconds)
    attempt = 0
    while True:
        attempt += 1
        try:
            receipt = await sender.send(outgoing, tenant=tenant)
            break
        except domain.PermanentSendError as error:
            await store.update_outbound(desk.database, tenant_id=tenant_id, outbound_id=request.outbound_id,
                                        fields={"attempts": attempt})
            status = DeliveryState.REFUSED if error.refused else DeliveryState.FAILED
            await advance_delivery(desk, outbound=outbound, status=status, reason=error.reason, error_code=error.code)
            return
        except domain.TransientSendError as error:
            await store.update_outbound(desk.database, tenant_id=tenant_id, outbound_id=request.outbound_id,
                                        fields={"attempts": attempt, "last_error": error.reason})
            if attempt > len(delays):
                reason = f"Gave up after {attempt} attempts: {error.reason}"
                await advance_delivery(desk, outbound=outbound, status=DeliveryState.FAILED, reason=reason,
                                       error_code=error.code)
                return
            log.warning("sending outbound %s failed (attempt %d): %s; retrying", request.outbound_id, attempt,
                        error.reason)
            await asyncio.sleep(delays[attempt - 1])
        except Exception:  # whether it left is unknown: never risk sending it twice
            log.exception("sending outbound %s broke unexpectedly", request.outbound_id)
            await advance_delivery(desk, outbound=outbound, status=DeliveryState.FAILED,
                                   reason="Sending broke unexpectedly; it was not retried in case it went out.")
            return
    await store.update_outbound(desk.database, tenant_id=tenant_id, outbound_id=request.outbound_id, fields={
        "attempts": attempt, "provider": receipt.provider, "provider_message_id": receipt.provider_message_id,
        "sent_at": _now(),
    })
    await advance_delivery(desk, outbound=outbound, status=DeliveryState.SENT,
                           provider_message_id=receipt.provider_message_id)
    for report in await store.status_reports_for(desk.database, tenant_id=tenant_id, provider=receipt.provider,
                                                  provider_message_id=receipt.provider_message_id):
        await advance_delivery(desk, outbound=outbound, status=DeliveryState(report["status"]),
                               reason=report.get("reason"), error_code=report.get("error_code"),
                               provider_message_id=receipt.provider_message_id)


async def _why_not(desk: Desk, *, tenant: dict[str, Any] | None, sender: OutboundSender | None,
                   request: OutboundMessageRequested) -> tuple[DeliveryState, str] | None:
    """Why this reply must not go out (state and reason), or None if it may."""
    if tenant is None:
        return DeliveryState.FAILED, "This tenant has no provider settings in ingest, so nothing can be sent."
    if sender is None:
        return DeliveryState.FAILED, f"Replies by {request.channel.value} are not supported."
    problem = sender.problem(tenant)
    if problem:
        return DeliveryState.FAILED, problem
    if request.channel == Channel.SMS:
        try:
            phone = domain.normalise_phone(request.to_address, region=desk.settings.default_region)
        except ValueError:
            return DeliveryState.REFUSED, f"{request.to_address!r} is not a phone number."
        if await store.is_sms_opted_out(desk.database, tenant_id=tenant["tenant_id"], phone=phone):
            return DeliveryState.REFUSED, domain.opted_out_reason(phone)
    else:
        try:
            domain.normalise_email(request.to_address)
        except ValueError:
            return DeliveryState.REFUSED, f"{request.to_address!r} is not an email address."
    return None


async def _outgoing(desk: Desk, *, tenant_id: str, request: OutboundMessageRequested, email_message_id: str | None,
                    sender: OutboundSender) -> domain.OutgoingMessage:
    """The message as the provider gets it: normalised address, threading, status callback."""
    if request.channel == Channel.SMS:
        callback = f"{desk.settings.public_url.rstrip('/')}/webhooks/{tenant_id}/{sender.name}/status"
        return domain.OutgoingMessage(
            tenant_id=tenant_id, outbound_id=request.outbound_id, channel=request.channel,
            to_address=domain.normalise_phone(request.to_address, region=desk.settings.default_region),
            text=request.text, status_callback_url=callback,
        )
    threading, subject = request.threading, request.subject
    if threading is None or not subject:
        latest = await store.latest_inbound_email(desk.database, tenant_id=tenant_id, customer_id=request.customer_id)
        if latest is not None:
            threading = threading or (EmailThreading.model_validate(latest["threading"]) if latest.get("threading")
                                      else None)
            subject = subject or domain.reply_subject(latest.get("subject"))
    in_reply_to, references = domain.reply_threading(threading)
    return domain.OutgoingMessage(
        tenant_id=tenant_id, outbound_id=request.outbound_id, channel=request.channel,
        to_address=domain.normalise_email(request.to_address), text=request.text,
        subject=subject or domain.reply_subject(None), email_message_id=email_message_id, in_reply_to=in_reply_to,
        references=references,
    )
