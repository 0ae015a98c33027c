"""Ingest's own database: tenants, customers and their contacts, inbound messages, the delivery log."""

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument

from relay_contracts import Envelope
from relay_kit import outbox
from relay_kit.store import is_duplicate_key

TENANTS = "tenants"
CUSTOMERS = "customers"
CONTACTS = "contacts"  # one document per phone or email: the unique claim that keeps customers from doubling
INBOUND = "inbound_messages"
OUTBOUND = "outbound_messages"
ATTACHMENTS = "attachments"
STATUS_REPORTS = "provider_status_reports"

OUTBOX_COLLECTIONS = (INBOUND, OUTBOUND)

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
}


def _now() -> datetime:
    return datetime.now(UTC)


# --- tenants --------------------------------------------------------------------------------------


async def save_tenant(database: Any, *, tenant_id: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Create a tenant or replace its provider settings."""
    return await database[TENANTS].find_one_and_update(
        {"tenant_id": tenant_id},
        {"$set": {"settings": settings, "updated_at": _now()}, "$setOnInsert": {"created_at": _now()}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )


async def get_tenant(database: Any, *, tenant_id: str) -> dict[str, Any] | None:
    """A tenant and its provider settings, or None."""
    return await database[TENANTS].find_one({"tenant_id": tenant_id})


# --- contacts and customers -----------------------------------------------------------------------


async def find_contact(database: Any, *, tenant_id: str, kind: str, address: str) -> dict[str, Any] | None:
    """Who a phone number or email address belongs to, or None."""
    return await database[CONTACTS].find_one({"tenant_id": tenant_id, "kind": kind, "address": address})


async def claim_contact(
    database: Any, *, tenant_id: str, kind: str, address: str, customer_id: str
) -> tuple[str, bool]:
    """Give an address to a customer unless someone has it: (the owner's customer id, whether we claimed it)."""
    for _ in range(3):
        try:
            await database[CONTACTS].insert_one(
                {"tenant_id": tenant_id, "kind": kind, "address": address, "customer_id": customer_id,
                 "created_at": _now()}
            )
            return customer_id, True
        except Exception as error:
            if not is_duplicate_key(error):
                raise
        existing = await find_contact(database, tenant_id=tenant_id, kind=kind, address=address)
        if existing:
            return existing["customer_id"], False
    raise RuntimeError(f"could not claim contact {address}")  # released and re-claimed three times in a row


async def move_contact(
    database: Any, *, tenant_id: str, kind: str, address: str, from_customer: str, to_customer: str
) -> bool:
    """Hand an address from one customer to another (only if the first still has it)."""
    result = await database[CONTACTS].update_one(
        {"tenant_id": tenant_id, "kind": kind, "address": address, "customer_id": from_customer},
        {"$set": {"customer_id": to_customer, "moved_at": _now()}},
    )
    return result.modified_count == 1


async def unclaim_contact(database: Any, *, tenant_id: str, kind: str, address: str, customer_id: str) -> None:
    """Give up a claim made by this customer (undoing a save that could not complete)."""
    await database[CONTACTS].delete_one(
        {"tenant_id": tenant_id, "kind": kind, "address": address, "customer_id": customer_id}
    )


async def release_contacts(
    database: Any, *, tenant_id: str, customer_id: str, keep: Iterable[tuple[str, str]]
) -> None:
    """Drop a customer's claims on addresses no longer theirs."""
    kept = set(keep)
    async for contact in database[CONTACTS].find({"tenant_id": tenant_id, "customer_id": customer_id}):
        if (contact["kind"], contact["address"]) not in kept:
            await database[CONTACTS].delete_one({"_id": contact["_id"], "customer_id": customer_id})


async def get_customer(database: Any, *, tenant_id: str, customer_id: str) -> dict[str, Any] | None:
    """A customer, or None."""
    return await database[CUSTOMERS].find_one({"tenant_id": tenant_id, "customer_id": customer_id}, {"_outbox": 0})


async def ensure_customer(
    database: Any, *, tenant_id: str, customer_id: str, on_insert: dict[str, Any]
) -> dict[str, Any]:
    """The customer with this id, created with `on_insert` if it does not exist yet."""
    for _ in range(3):
        try:
            return await database[CUSTOMERS].find_one_and_update(
                {"tenant_id": tenant_id, "customer_id": customer_id},
                {"$setOnInsert": {**on_insert, "created_at": _now(), "updated_at": _now()}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except Exception as error:  # two upserts raced: the other one inserted it
            if not is_duplicate_key(error):
                raise
    raise RuntimeError(f"could not create customer {customer_id}")


async def save_customer(
    database: Any, *, tenant_id: str, customer_id: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """Create or update a customer's record from the point-of-sale system."""
    for _ in range(3):
        try:
            return await database[CUSTOMERS].find_one_and_update(
                {"tenant_id": tenant_id, "customer_id": customer_id},
                {"$set": {**fields, "updated_at": _now()}, "$setOnInsert": {"created_at": _now()}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except Exception as error:
            if not is_duplicate_key(error):
                raise
    raise RuntimeError(f"could not save customer {customer_id}")


async def detach_contact(
    database: Any, *, tenant_id: str, customer_id: str, kind: str, address: str, merged_into: str
) -> None:
    """Take an address off an unknown contact now that a known customer has it."""
    field = "phones" if kind == "phone" else "emails"
    await database[CUSTOMERS].update_one(
        {"tenant_id": tenant_id, "customer_id": customer_id},
        {"$pull": {field: address}, "$set": {"merged_into": merged_into, "updated_at": _now()}},
    )


async def search_customers(database: Any, *, tenant_id: str, query: str, phone: str | None,
                           limit: int = 50) -> list[dict[str, Any]]:
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
    cursor = database[CUSTOMERS].find(selector, {"_outbox": 0}).sort("name", ASCENDING).limit(limit)
    return await cursor.to_list(limit)


async def set_sms_opt_out(database: Any, *, tenant_id: str, customer_id: str, phone: str, at: datetime) -> None:
    """Record that this phone number replied STOP."""
    await database[CUSTOMERS].update_one(
        {"tenant_id": tenant_id, "customer_id": customer_id},
        {"$addToSet": {"opted_out_phones": phone}, "$set": {"opted_out_at": at, "updated_at": _now()}},
    )


async def clear_sms_opt_out(database: Any, *, tenant_id: str, phone: str, at: datetime) -> None:
    """Record that this phone number replied START (on whichever customer had it opted out)."""
    await database[CUSTOMERS].update_many(
        {"tenant_id": tenant_id, "opted_out_phones": phone},
        {"$pull": {"opted_out_phones": phone}, "$set": {"opted_in_at": at, "updated_at": _now()}},
    )


async def is_sms_opted_out(database: Any, *, tenant_id: str, phone: str) -> bool:
    """Whether this phone number has opted out of SMS."""
    found = await database[CUSTOMERS].find_one({"tenant_id": tenant_id, "opted_out_phones": phone}, {"_id": 1})
    return found is not None


# --- inbound messages and attachments -------------------------------------------------------------


async def find_inbound(
    database: Any, *, tenant_id: str, provider: str, provider_message_id: str
) -> dict[str, Any] | None:
    """A message already recorded from this provider under this id, or None."""
    return await database[INBOUND].find_one(
        {"tenant_id": tenant_id, "provider": provider, "provider_message_id": provider_message_id}
    )


async def insert_inbound(database: Any, *, document: dict[str, Any], events: list[Envelope[Any]]) -> dict[str, Any]:
    """Record an inbound message with the events announcing it (DuplicateKeyError on a provider retry)."""
    stored = outbox.with_events(document, events)
    await database[INBOUND].insert_one(stored)
    return stored


async def pending_events_of_inbound(database: Any, *, tenant_id: str, message_id: str) -> dict[str, Any] | None:
    """An inbound message's events not yet published (in `_outbox`)."""
    return await database[INBOUND].find_one({"_id": message_id, "tenant_id": tenant_id}, {"_outbox": 1})


async def count_inbound(database: Any, *, tenant_id: str, provider: str | None = None) -> int:
    """How many inbound messages a tenant has (for tests and operations)."""
    selector = {"tenant_id": tenant_id, **({"provider": provider} if provider else {})}
    return await database[INBOUND].count_documents(selector)


async def latest_inbound_email(database: Any, *, tenant_id: str, customer_id: str) -> dict[str, Any] | None:
    """The customer's most recent email, to thread a reply under it."""
    cursor = database[INBOUND].find(
        {"tenant_id": tenant_id, "customer_id": customer_id, "channel": "email", "kind": "message"}
    ).sort("received_at", DESCENDING).limit(1)
    found = await cursor.to_list(1)
    return found[0] if found else None


async def save_attachment(database: Any, *, document: dict[str, Any]) -> None:
    """Store a file that came with an email (once, however often the webhook is retried)."""
    await database[ATTACHMENTS].update_one(
        {"tenant_id": document["tenant_id"], "attachment_id": document["attachment_id"]},
        {"$setOnInsert": {**document, "created_at": _now()}},
        upsert=True,
    )


async def get_attachment(database: Any, *, tenant_id: str, attachment_id: str) -> dict[str, Any] | None:
    """A stored attachment with its content, or None."""
    return await database[ATTACHMENTS].find_one({"tenant_id": tenant_id, "attachment_id": attachment_id})


# --- the delivery log -----------------------------------------------------------------------------


async def claim_outbound(database: Any, *, document: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Enter an outbound message in the delivery log before sending: (its entry, whether this call claimed it)."""
    try:
        await database[OUTBOUND].insert_one({**document, "created_at": _now(), "updated_at": _now()})
        claimed = True
    except Exception as error:
        if not is_duplicate_key(error):
            raise
        claimed = False
    entry = await get_outbound(database, tenant_id=document["tenant_id"], outbound_id=document["outbound_id"])
    assert entry is not None
    return entry, claimed


async def get_outbound(database: Any, *, tenant_id: str, outbound_id: str) -> dict[str, Any] | None:
    """An outbound message's entry in the delivery log, or None."""
    return await database[OUTBOUND].find_one({"tenant_id": tenant_id, "outbound_id": outbound_id})


async def update_outbound(database: Any, *, tenant_id: str, outbound_id: str, fields: dict[str, Any]) -> None:
    """Note details of an outbound message (attempts, the provider's id) without changing its state."""
    await database[OUTBOUND].update_one(
        {"tenant_id": tenant_id, "outbound_id": outbound_id}, {"$set": {**fields, "updated_at": _now()}}
    )


async def advance_outbound(
    database: Any, *, tenant_id: str, outbound_id: str, status: str, rank: int, details: dict[str, Any],
    event: Envelope[Any],
) -> dict[str, Any] | None:
    """Move an outbound message to a later state, with its event; None if it is already there or further."""
    at = _now()
    return await database[OUTBOUND].find_one_and_update(
        {"tenant_id": tenant_id, "outbound_id": outbound_id, "rank": {"$lt": rank}},
        {
            "$set": {"status": status, "rank": rank, **details, "updated_at": at},
            "$push": {"history": {"status": status, "at": at, **details}, **outbox.push_events([event])},
        },
        return_document=ReturnDocument.AFTER,
    )


async def find_outbound_by_provider_id(
    database: Any, *, tenant_id: str, provider: str, provider_message_id: str
) -> dict[str, Any] | None:
    """The outbound message a provider knows by this id, or None."""
    return await database[OUTBOUND].find_one(
        {"tenant_id": tenant_id, "provider": provider, "provider_message_id": provider_message_id}
    )


async def find_outbound_by_email_ids(database: Any, *, tenant_id: str, message_ids: list[str]) -> list[dict[str, Any]]:
    """Our outbound emails whose Message-ID is among these."""
    if not message_ids:
        return []
    cursor = database[OUTBOUND].find({"tenant_id": tenant_id, "email_message_id": {"$in": message_ids}})
    return await cursor.to_list(None)


async def record_status_report(
    database: Any, *, tenant_id: str, provider: str, provider_message_id: str, status: str,
    error_code: str | None, reason: str | None,
) -> None:
    """Keep a provider's status report (it may arrive before we know which message the id is)."""
    await database[STATUS_REPORTS].update_one(
        {"tenant_id": tenant_id, "provider": provider, "provider_message_id": provider_message_id, "status": status},
        {"$setOnInsert": {"error_code": error_code, "reason": reason, "received_at": _now()}},
        upsert=True,
    )


async def status_reports_for(
    database: Any, *, tenant_id: str, provider: str, provider_message_id: str
) -> list[dict[str, Any]]:
    """Every status report kept for a provider's message id, oldest first."""
    cursor = database[STATUS_REPORTS].find(
        {"tenant_id": tenant_id, "provider": provider, "provider_message_id": provider_message_id}
    ).sort("received_at", ASCENDING)
    return await cursor.to_list(None)
