"""Ingest's own database: tenants, customers and their contacts, inbound messages, the delivery log.

Documents become models here and nowhere else: every function answers models of `relay_ingest.models`.
"""

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument

from relay_contracts import Envelope
from relay_contracts.customer_messages import DeliveryState, delivery_rank
from relay_ingest import domain
from relay_ingest.domain import ContactKind, Contacts
from relay_ingest.models import (
    Contact,
    Customer,
    InboundMessage,
    OutboundDelivery,
    ReplyTemplate,
    StoredAttachment,
    Tenant,
    TenantSettings,
)
from relay_ingest.providers.base import DeliveryHandle, ProviderStatus
from relay_kit import outbox
from relay_kit.store import Database, is_duplicate_key

TENANTS = "tenants"
CUSTOMERS = "customers"
CONTACTS = "contacts"  # one document per phone or email: the unique claim that keeps customers from doubling
INBOUND = "inbound_messages"
OUTBOUND = "outbound_messages"
ATTACHMENTS = "attachments"
STATUS_REPORTS = "provider_status_reports"
DELIVERIES = "webhook_deliveries"  # providers' once-per-delivery handles (Mailgun tokens), kept while fresh
REPLY_TEMPLATES = "reply_templates"

OUTBOX_COLLECTIONS = (INBOUND, OUTBOUND, CUSTOMERS)

INDEXES = {
    TENANTS: [IndexModel([("tenant_id", ASCENDING)], unique=True, name="tenant_id_unique")],
    CUSTOMERS: [
        IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING)], unique=True, name="customer_id_unique"),
        IndexModel([("tenant_id", ASCENDING), ("name", ASCENDING)], name="by_name"),
        IndexModel([("tenant_id", ASCENDING), ("opted_out_phones", ASCENDING)], name="by_opted_out_phone"),
    ],
    CONTACTS: [
        IndexModel([("tenant_id", ASCENDING), ("kind", ASCENDING), ("address", ASCENDING)], unique=True,
                   name="contact_unique"),
        IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING)], name="by_customer"),
    ],
    INBOUND: [
        IndexModel([("tenant_id", ASCENDING), ("provider", ASCENDING), ("provider_message_id", ASCENDING)],
                   unique=True, name="provider_message_unique"),
        IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING), ("received_at", DESCENDING)],
                   name="by_customer"),
    ],
    OUTBOUND: [
        IndexModel([("tenant_id", ASCENDING), ("outbound_id", ASCENDING)], unique=True, name="outbound_unique"),
        IndexModel([("tenant_id", ASCENDING), ("provider", ASCENDING), ("provider_message_id", ASCENDING)],
                   name="by_provider_message",
                   partialFilterExpression={"provider_message_id": {"$type": "string"}}),
        IndexModel([("tenant_id", ASCENDING), ("email_message_id", ASCENDING)], name="by_email_message_id",
                   partialFilterExpression={"email_message_id": {"$type": "string"}}),
    ],
    ATTACHMENTS: [
        IndexModel([("tenant_id", ASCENDING), ("attachment_id", ASCENDING)], unique=True, name="attachment_unique"),
    ],
    STATUS_REPORTS: [
        IndexModel([("tenant_id", ASCENDING), ("provider", ASCENDING), ("provider_message_id", ASCENDING),
                    ("status", ASCENDING)], unique=True, name="report_unique"),
    ],
    DELIVERIES: [
        IndexModel([("tenant_id", ASCENDING), ("provider", ASCENDING), ("handle", ASCENDING)], unique=True,
                   name="delivery_handle_unique"),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="delivery_handle_expiry"),
    ],
    REPLY_TEMPLATES: [
        IndexModel([("tenant_id", ASCENDING), ("template_id", ASCENDING)], unique=True, name="template_unique"),
        IndexModel([("tenant_id", ASCENDING), ("name", ASCENDING)], name="templates_by_name"),
    ],
}
MAX_TEMPLATES = 500


_HIDDEN = {outbox.FIELD: 0}


def _now() -> datetime:
    return datetime.now(UTC)


def _pending_since(document: dict[str, Any]) -> datetime | None:
    """When the oldest event still waiting in a document's outbox was stored."""
    pending = document.get(outbox.FIELD) or []
    return pending[0]["stored_at"] if pending else None


async def _insert_unless_present(database: Database, collection: str, document: dict[str, Any]) -> bool:
    """Insert a document; False if a unique index says it is there already."""
    try:
        await database[collection].insert_one(document)
    except Exception as error:
        if not is_duplicate_key(error):
            raise
        return False
    return True


# --- webhook deliveries ---------------------------------------------------------------------------


async def remember_delivery(database: Database, *, tenant_id: str, provider: str, delivery: DeliveryHandle,
                            now: datetime) -> bool:
    """Keep a provider's delivery handle with its content digest; False if it was kept with other content.

    The TTL index drops expired handles on MongoDB; an expired one is also dropped here first, so the stand-in
    (which has no TTL monitor) behaves the same.
    """
    key = {"tenant_id": tenant_id, "provider": provider, "handle": delivery.handle}
    await database[DELIVERIES].delete_many({**key, "expires_at": {"$lte": now}})
    if await _insert_unless_present(database, DELIVERIES, {**key, "fingerprint": delivery.fingerprint,
                                                           "received_at": now, "expires_at": now + delivery.keep_for}):
        return True
    kept = await database[DELIVERIES].find_one(key)
    return kept is None or kept["fingerprint"] == delivery.fingerprint


# --- tenants --------------------------------------------------------------------------------------


async def save_tenant(database: Database, *, tenant_id: str, settings: TenantSettings) -> Tenant:
    """Create a tenant or replace its provider settings."""
    document = await database[TENANTS].find_one_and_update(
        {"tenant_id": tenant_id},
        {"$set": {"settings": settings.model_dump(), "updated_at": _now()}, "$setOnInsert": {"created_at": _now()}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    return Tenant.model_validate(document)


async def get_tenant(database: Database, *, tenant_id: str) -> Tenant | None:
    """A tenant and its provider settings, or None."""
    document = await database[TENANTS].find_one({"tenant_id": tenant_id})
    return Tenant.model_validate(document) if document else None


# --- contacts and customers -----------------------------------------------------------------------


async def find_contact(database: Database, *, tenant_id: str, kind: ContactKind, address: str) -> Contact | None:
    """Who a phone number or email address belongs to, or None."""
    document = await database[CONTACTS].find_one({"tenant_id": tenant_id, "kind": kind.value, "address": address})
    return Contact.model_validate(document) if document else None


async def claim_contact(
    database: Database, *, tenant_id: str, kind: ContactKind, address: str, customer_id: str
) -> tuple[str, bool]:
    """Give an address to a customer unless someone has it: (the owner's customer id, whether we claimed it)."""
    for _ in range(3):
        if await _insert_unless_present(database, CONTACTS, {
            "tenant_id": tenant_id, "kind": kind.value, "address": address, "customer_id": customer_id,
            "created_at": _now(),
        }):
            return customer_id, True
        existing = await find_contact(database, tenant_id=tenant_id, kind=kind, address=address)
        if existing:
            return existing.customer_id, False
    raise RuntimeError(f"could not claim contact {address}")  # released and re-claimed three times in a row


async def move_contact(
    database: Database, *, tenant_id: str, kind: ContactKind, address: str, from_customer: str, to_customer: str
) -> bool:
    """Hand an address from one customer to another (only if the first still has it)."""
    result = await database[CONTACTS].update_one(
        {"tenant_id": tenant_id, "kind": kind.value, "address": address, "customer_id": from_customer},
        {"$set": {"customer_id": to_customer, "moved_at": _now()}},
    )
    return result.modified_count == 1


async def unclaim_contact(
    database: Database, *, tenant_id: str, kind: ContactKind, address: str, customer_id: str
) -> None:
    """Give up a claim made by this customer (undoing a save that could not complete)."""
    await database[CONTACTS].delete_one(
        {"tenant_id": tenant_id, "kind": kind.value, "address": address, "customer_id": customer_id}
    )


async def release_contacts(
    database: Database, *, tenant_id: str, customer_id: str, keep: Iterable[tuple[ContactKind, str]]
) -> None:
    """Drop a customer's claims on addresses no longer theirs."""
    kept = {(kind.value, address) for kind, address in keep}
    async for contact in database[CONTACTS].find({"tenant_id": tenant_id, "customer_id": customer_id}):
        if (contact["kind"], contact["address"]) not in kept:
            await database[CONTACTS].delete_one({"_id": contact["_id"], "customer_id": customer_id})


async def get_customer(database: Database, *, tenant_id: str, customer_id: str) -> Customer | None:
    """A customer, or None."""
    document = await database[CUSTOMERS].find_one({"tenant_id": tenant_id, "customer_id": customer_id}, _HIDDEN)
    return Customer.model_validate(document) if document else None


async def _upsert_customer(database: Database, *, tenant_id: str, customer_id: str,
                           update: dict[str, Any]) -> Customer:
    """Apply an upsert to one customer, retrying the race where two upserts both insert."""
    for _ in range(3):
        try:
            document = await database[CUSTOMERS].find_one_and_update(
                {"tenant_id": tenant_id, "customer_id": customer_id}, update, upsert=True,
                return_document=ReturnDocument.AFTER, projection=_HIDDEN,
            )
            return Customer.model_validate(document)
        except Exception as error:  # two upserts raced: the other one inserted it
            if not is_duplicate_key(error):
                raise
    raise RuntimeError(f"could not save customer {customer_id}")


async def ensure_unknown_contact(
    database: Database, *, tenant_id: str, customer_id: str, kind: ContactKind, address: str, name: str | None
) -> Customer:
    """The customer with this id, created as an "unknown contact" with this one address if it does not exist yet."""
    created = {"name": name, "phones": [], "emails": [], "account": {}, "unknown_contact": True,
               "opted_out_phones": [], domain.contact_field(kind): [address], "created_at": _now(),
               "updated_at": _now()}
    return await _upsert_customer(database, tenant_id=tenant_id, customer_id=customer_id,
                                  update={"$setOnInsert": created})


async def save_customer(
    database: Database, *, tenant_id: str, customer_id: str, name: str, contacts: Contacts, account: dict[str, Any],
    orders: list[dict[str, Any]], events: Sequence[Envelope[Any]] = (),
) -> Customer:
    """Create or update a customer's record from the point-of-sale system (with the events announcing it)."""
    fields = {"name": name, "phones": contacts.phones, "emails": contacts.emails, "account": account,
              "orders": orders, "unknown_contact": False, "updated_at": _now()}
    update: dict[str, Any] = {"$set": fields, "$setOnInsert": {"created_at": _now()}}
    if events:
        update["$push"] = outbox.push_events(events)
    return await _upsert_customer(database, tenant_id=tenant_id, customer_id=customer_id, update=update)


async def detach_contact(
    database: Database, *, tenant_id: str, customer_id: str, kind: ContactKind, address: str, merged_into: str,
    events: list[Envelope[Any]],
) -> Customer | None:
    """Take an address off an unknown contact now that a known customer has it; the events go only with the first
    address that marks it merged (None when it was merged already)."""
    selector = {"tenant_id": tenant_id, "customer_id": customer_id}
    change = {"$pull": {domain.contact_field(kind): address, "opted_out_phones": address},
              "$set": {"merged_into": merged_into, "updated_at": _now()}}
    document = await database[CUSTOMERS].find_one_and_update(
        {**selector, "merged_into": None}, {**change, "$push": outbox.push_events(events)},
        return_document=ReturnDocument.AFTER, projection=_HIDDEN)
    if document is None:
        await database[CUSTOMERS].update_one(selector, change)
        return None
    return Customer.model_validate(document)


async def name_customer(database: Database, *, tenant_id: str, customer_id: str, name: str,
                        events: list[Envelope[Any]]) -> Customer | None:
    """Give an unknown contact a name, with the event announcing it; None if it has that name already."""
    document = await database[CUSTOMERS].find_one_and_update(
        {"tenant_id": tenant_id, "customer_id": customer_id, "unknown_contact": True, "merged_into": None,
         "name": {"$ne": name}},
        {"$set": {"name": name, "updated_at": _now()}, "$push": outbox.push_events(events)},
        return_document=ReturnDocument.AFTER, projection=_HIDDEN,
    )
    return Customer.model_validate(document) if document else None


async def start_merge(database: Database, *, tenant_id: str, customer_id: str, into_customer_id: str) -> bool:
    """Mark a customer as being linked into another (a second link elsewhere is refused); False if it cannot be."""
    result = await database[CUSTOMERS].update_one(
        {"tenant_id": tenant_id, "customer_id": customer_id, "merged_into": None,
         "merging_into": {"$in": [None, into_customer_id]}},
        {"$set": {"merging_into": into_customer_id, "updated_at": _now()}},
    )
    return result.matched_count == 1


async def abandon_merge(database: Database, *, tenant_id: str, customer_id: str, into_customer_id: str) -> None:
    """Give up a link begun (and not finished) into this customer."""
    await database[CUSTOMERS].update_one(
        {"tenant_id": tenant_id, "customer_id": customer_id, "merged_into": None, "merging_into": into_customer_id},
        {"$unset": {"merging_into": ""}, "$set": {"updated_at": _now()}},
    )


async def add_linked_addresses(database: Database, *, tenant_id: str, customer_id: str, phones: list[str],
                               emails: list[str]) -> None:
    """Give a customer addresses linked to it by staff (kept when the point of sale next saves it)."""
    await database[CUSTOMERS].update_one(
        {"tenant_id": tenant_id, "customer_id": customer_id},
        {"$addToSet": {"phones": {"$each": phones}, "emails": {"$each": emails},
                       "linked_phones": {"$each": phones}, "linked_emails": {"$each": emails}},
         "$set": {"updated_at": _now()}},
    )


async def finish_merge(database: Database, *, tenant_id: str, customer_id: str, into_customer_id: str,
                       events: list[Envelope[Any]]) -> Customer | None:
    """Mark a customer merged into another, its addresses gone, with the events announcing it; None if it was."""
    document = await database[CUSTOMERS].find_one_and_update(
        {"tenant_id": tenant_id, "customer_id": customer_id, "merged_into": None, "merging_into": into_customer_id},
        {"$set": {"merged_into": into_customer_id, "phones": [], "emails": [], "opted_out_phones": [],
                  "updated_at": _now()},
         "$unset": {"merging_into": ""}, "$push": outbox.push_events(events)},
        return_document=ReturnDocument.AFTER, projection=_HIDDEN,
    )
    return Customer.model_validate(document) if document else None


async def contacts_of(database: Database, *, tenant_id: str, customer_id: str) -> list[Contact]:
    """Every address claimed by a customer."""
    cursor = database[CONTACTS].find({"tenant_id": tenant_id, "customer_id": customer_id})
    return [Contact.model_validate(document) for document in await cursor.to_list(None)]


async def search_customers(database: Database, *, tenant_id: str, query: str, phone: str | None,
                           limit: int = 50) -> list[Customer]:
    """Customers whose name or email contains the text, or who have the phone number."""
    conditions: list[dict[str, Any]] = []
    if query:
        conditions.append({"name": {"$regex": re.escape(query), "$options": "i"}})
        conditions.append({"emails": {"$regex": re.escape(query.lower())}})
        digits = re.sub(r"\D", "", query)
        if len(digits) >= 3:
            conditions.append({"phones": {"$regex": re.escape(digits)}})
    if phone:
        conditions.append({"phones": phone})
    selector: dict[str, Any] = {"tenant_id": tenant_id}
    if conditions:
        selector["$or"] = conditions
    cursor = database[CUSTOMERS].find(selector, _HIDDEN).sort("name", ASCENDING).limit(limit)
    return [Customer.model_validate(document) for document in await cursor.to_list(limit)]


async def set_sms_opt_out(database: Database, *, tenant_id: str, customer_id: str, phone: str, at: datetime,
                          events: list[Envelope[Any]]) -> bool:
    """Record that this phone number replied STOP, with the events announcing it; False if it had already."""
    result = await database[CUSTOMERS].update_one(
        {"tenant_id": tenant_id, "customer_id": customer_id, "opted_out_phones": {"$ne": phone}},
        {"$addToSet": {"opted_out_phones": phone}, "$set": {"opted_out_at": at, "updated_at": _now()},
         "$push": outbox.push_events(events)},
    )
    return result.modified_count == 1


async def customers_opted_out(database: Database, *, tenant_id: str, phone: str) -> list[Customer]:
    """The customers on whom this phone number is opted out of SMS."""
    cursor = database[CUSTOMERS].find({"tenant_id": tenant_id, "opted_out_phones": phone}, _HIDDEN)
    return [Customer.model_validate(document) for document in await cursor.to_list(None)]


async def clear_sms_opt_out(database: Database, *, tenant_id: str, customer_id: str, phone: str, at: datetime,
                            events: list[Envelope[Any]]) -> bool:
    """Record that this phone number replied START on one customer, with the events; False if it was not out."""
    result = await database[CUSTOMERS].update_one(
        {"tenant_id": tenant_id, "customer_id": customer_id, "opted_out_phones": phone},
        {"$pull": {"opted_out_phones": phone}, "$set": {"opted_in_at": at, "updated_at": _now()},
         "$push": outbox.push_events(events)},
    )
    return result.modified_count == 1


async def is_sms_opted_out(database: Database, *, tenant_id: str, phone: str) -> bool:
    """Whether this phone number has opted out of SMS."""
    found = await database[CUSTOMERS].find_one({"tenant_id": tenant_id, "opted_out_phones": phone}, {"_id": 1})
    return found is not None


# --- inbound messages and attachments -------------------------------------------------------------


def _inbound(document: dict[str, Any]) -> InboundMessage:
    return InboundMessage.model_validate({**document, "pending_since": _pending_since(document)})


async def find_inbound(
    database: Database, *, tenant_id: str, provider: str, provider_message_id: str
) -> InboundMessage | None:
    """A message already recorded from this provider under this id, or None."""
    document = await database[INBOUND].find_one(
        {"tenant_id": tenant_id, "provider": provider, "provider_message_id": provider_message_id}
    )
    return _inbound(document) if document else None


async def get_inbound(database: Database, *, tenant_id: str, message_id: str) -> InboundMessage | None:
    """An inbound message by ingest's id, or None."""
    document = await database[INBOUND].find_one({"_id": message_id, "tenant_id": tenant_id})
    return _inbound(document) if document else None


async def insert_inbound(database: Database, *, message: InboundMessage, events: list[Envelope[Any]]) -> bool:
    """Record an inbound message with the events announcing it; False if a provider's retry recorded it first."""
    document = outbox.with_events(message.model_dump(by_alias=True), events)
    return await _insert_unless_present(database, INBOUND, document)


async def count_inbound(database: Database, *, tenant_id: str, provider: str | None = None) -> int:
    """How many inbound messages a tenant has (for tests and operations)."""
    selector = {"tenant_id": tenant_id, **({"provider": provider} if provider else {})}
    return await database[INBOUND].count_documents(selector)


async def latest_inbound_email(database: Database, *, tenant_id: str, customer_id: str) -> InboundMessage | None:
    """The customer's most recent email, to thread a reply under it."""
    cursor = database[INBOUND].find(
        {"tenant_id": tenant_id, "customer_id": customer_id, "channel": "email", "kind": "message"}
    ).sort("received_at", DESCENDING).limit(1)
    found = await cursor.to_list(1)
    return _inbound(found[0]) if found else None


async def save_attachment(database: Database, *, attachment: StoredAttachment) -> None:
    """Store a file that came with a message, or where to fetch it (once, however often the webhook is retried)."""
    await database[ATTACHMENTS].update_one(
        {"tenant_id": attachment.tenant_id, "attachment_id": attachment.attachment_id},
        {"$setOnInsert": {**attachment.model_dump(), "created_at": _now()}},
        upsert=True,
    )


async def keep_fetched_content(database: Database, *, tenant_id: str, attachment_id: str, content: bytes,
                               content_type: str) -> None:
    """Keep the content of a file fetched from its provider, so it is fetched once."""
    await database[ATTACHMENTS].update_one(
        {"tenant_id": tenant_id, "attachment_id": attachment_id, "content": None},
        {"$set": {"content": content, "size": len(content), "content_type": content_type, "fetched_at": _now()}},
    )


async def get_attachment(database: Database, *, tenant_id: str, attachment_id: str) -> StoredAttachment | None:
    """A stored attachment with its content, or None."""
    document = await database[ATTACHMENTS].find_one({"tenant_id": tenant_id, "attachment_id": attachment_id})
    return StoredAttachment.model_validate(document) if document else None


# --- the delivery log -----------------------------------------------------------------------------


def _outbound(document: dict[str, Any]) -> OutboundDelivery:
    return OutboundDelivery.model_validate({**document, "has_pending_events": bool(document.get(outbox.FIELD))})


async def claim_outbound(database: Database, *, delivery: OutboundDelivery) -> tuple[OutboundDelivery, bool]:
    """Enter an outbound message in the delivery log before sending: (its entry, whether this call claimed it)."""
    claimed = await _insert_unless_present(database, OUTBOUND, {
        **delivery.model_dump(exclude={"created_at", "updated_at"}), "rank": delivery_rank(delivery.status),
        "created_at": _now(), "updated_at": _now(),
    })
    entry = await get_outbound(database, tenant_id=delivery.tenant_id, outbound_id=delivery.outbound_id)
    assert entry is not None
    return entry, claimed


async def get_outbound(database: Database, *, tenant_id: str, outbound_id: str) -> OutboundDelivery | None:
    """An outbound message's entry in the delivery log, or None."""
    document = await database[OUTBOUND].find_one({"tenant_id": tenant_id, "outbound_id": outbound_id})
    return _outbound(document) if document else None


async def record_attempt(database: Database, *, tenant_id: str, outbound_id: str, attempts: int,
                         last_error: str | None = None) -> None:
    """Note how many tries sending took (and the last error) without changing the delivery state."""
    fields: dict[str, Any] = {"attempts": attempts, **({"last_error": last_error} if last_error else {})}
    await database[OUTBOUND].update_one(
        {"tenant_id": tenant_id, "outbound_id": outbound_id}, {"$set": {**fields, "updated_at": _now()}}
    )


async def record_sent(database: Database, *, tenant_id: str, outbound_id: str, attempts: int, provider: str,
                      provider_message_id: str) -> None:
    """Note the provider's id for a message it accepted (its delivery reports name it)."""
    await database[OUTBOUND].update_one({"tenant_id": tenant_id, "outbound_id": outbound_id}, {"$set": {
        "attempts": attempts, "provider": provider, "provider_message_id": provider_message_id, "sent_at": _now(),
        "updated_at": _now(),
    }})


async def advance_outbound(
    database: Database, *, tenant_id: str, outbound_id: str, status: DeliveryState, reason: str | None,
    error_code: str | None, event: Envelope[Any],
) -> OutboundDelivery | None:
    """Move an outbound message to a later state, with its event; None if it is already there or further."""
    at = _now()
    details = {k: v for k, v in {"reason": reason, "error_code": error_code}.items() if v is not None}
    rank = delivery_rank(status)
    document = await database[OUTBOUND].find_one_and_update(
        {"tenant_id": tenant_id, "outbound_id": outbound_id, "rank": {"$lt": rank}},
        {
            "$set": {"status": status.value, "rank": rank, **details, "updated_at": at},
            "$push": {"history": {"status": status.value, "at": at, **details}, **outbox.push_events([event])},
        },
        return_document=ReturnDocument.AFTER,
    )
    return _outbound(document) if document else None


async def find_outbound_by_provider_id(
    database: Database, *, tenant_id: str, provider: str, provider_message_id: str
) -> OutboundDelivery | None:
    """The outbound message a provider knows by this id, or None."""
    document = await database[OUTBOUND].find_one(
        {"tenant_id": tenant_id, "provider": provider, "provider_message_id": provider_message_id}
    )
    return _outbound(document) if document else None


async def find_outbound_by_email_ids(database: Database, *, tenant_id: str,
                                     message_ids: list[str]) -> list[OutboundDelivery]:
    """Our outbound emails whose Message-ID is among these."""
    if not message_ids:
        return []
    cursor = database[OUTBOUND].find({"tenant_id": tenant_id, "email_message_id": {"$in": message_ids}})
    return [_outbound(document) for document in await cursor.to_list(None)]


async def record_status_report(database: Database, *, tenant_id: str, report: ProviderStatus) -> None:
    """Keep a provider's status report (it may arrive before we know which message the id is)."""
    await database[STATUS_REPORTS].update_one(
        {"tenant_id": tenant_id, "provider": report.provider, "provider_message_id": report.provider_message_id,
         "status": report.status.value},
        {"$setOnInsert": {"error_code": report.error_code, "reason": report.reason, "received_at": _now()}},
        upsert=True,
    )


async def status_reports_for(
    database: Database, *, tenant_id: str, provider: str, provider_message_id: str
) -> list[ProviderStatus]:
    """Every status report kept for a provider's message id, oldest first."""
    cursor = database[STATUS_REPORTS].find(
        {"tenant_id": tenant_id, "provider": provider, "provider_message_id": provider_message_id}
    ).sort("received_at", ASCENDING)
    return [ProviderStatus(provider=d["provider"], provider_message_id=d["provider_message_id"],
                           status=DeliveryState(d["status"]), error_code=d.get("error_code"), reason=d.get("reason"))
            for d in await cursor.to_list(None)]


# --- reply templates ------------------------------------------------------------------------------


async def list_templates(database: Database, *, tenant_id: str) -> list[ReplyTemplate]:
    """A tenant's reply templates by name."""
    cursor = database[REPLY_TEMPLATES].find({"tenant_id": tenant_id}).sort("name", ASCENDING).limit(MAX_TEMPLATES)
    return [ReplyTemplate.model_validate(document) for document in await cursor.to_list(MAX_TEMPLATES)]


async def count_templates(database: Database, *, tenant_id: str) -> int:
    """How many reply templates a tenant keeps."""
    return await database[REPLY_TEMPLATES].count_documents({"tenant_id": tenant_id})


async def save_template(database: Database, *, tenant_id: str, template_id: str, name: str, body: str,
                        updated_by: str) -> ReplyTemplate:
    """Create or replace a reply template."""
    for _ in range(3):
        try:
            document = await database[REPLY_TEMPLATES].find_one_and_update(
                {"tenant_id": tenant_id, "template_id": template_id},
                {"$set": {"name": name, "body": body, "updated_at": _now(), "updated_by": updated_by},
                 "$setOnInsert": {"created_at": _now()}},
                upsert=True, return_document=ReturnDocument.AFTER,
            )
            return ReplyTemplate.model_validate(document)
        except Exception as error:  # two saves raced: the other one inserted it
            if not is_duplicate_key(error):
                raise
    raise RuntimeError(f"could not save template {template_id}")


async def template_exists(database: Database, *, tenant_id: str, template_id: str) -> bool:
    """Whether a tenant has this reply template."""
    found = await database[REPLY_TEMPLATES].find_one({"tenant_id": tenant_id, "template_id": template_id}, {"_id": 1})
    return found is not None


async def delete_template(database: Database, *, tenant_id: str, template_id: str) -> bool:
    """Remove a reply template; False if there was none."""
    result = await database[REPLY_TEMPLATES].delete_one({"tenant_id": tenant_id, "template_id": template_id})
    return result.deleted_count == 1
