"""The gateway's own database: tenants and staff accounts (with their pending events), as models at its edge."""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument

from relay_contracts import Envelope
from relay_gateway.models import StaffAccount, Tenant
from relay_kit import outbox
from relay_kit.store import Database, is_duplicate_key

TENANTS = "tenants"
STAFF = "staff"
"""Staff accounts; a document's `_id` is its `staff_id`, so the unit of work can find it right after the write."""

INDEXES = {
    TENANTS: [IndexModel([("tenant_id", ASCENDING)], unique=True, name="tenant_id_unique")],
    STAFF: [
        IndexModel([("tenant_id", ASCENDING), ("username", ASCENDING)], unique=True, name="username_unique"),
        IndexModel([("tenant_id", ASCENDING), ("staff_id", ASCENDING)], unique=True, name="staff_id_unique"),
    ],
}


async def save_tenant(database: Database, *, tenant_id: str, name: str) -> Tenant:
    """Create or rename a tenant."""
    now = datetime.now(UTC)
    document = await database[TENANTS].find_one_and_update(
        {"tenant_id": tenant_id},
        {"$set": {"name": name, "updated_at": now}, "$setOnInsert": {"created_at": now}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    return Tenant.model_validate(document)


async def get_tenant(database: Database, *, tenant_id: str) -> Tenant | None:
    """The tenant, or None."""
    document = await database[TENANTS].find_one({"tenant_id": tenant_id})
    return Tenant.model_validate(document) if document else None


async def get_staff(database: Database, *, tenant_id: str, username: str) -> StaffAccount | None:
    """A staff account by its sign-in name, or None."""
    document = await database[STAFF].find_one({"tenant_id": tenant_id, "username": username}, {outbox.FIELD: 0})
    return StaffAccount.model_validate(document) if document else None


async def save_staff(database: Database, *, account: StaffAccount, events: Iterable[Envelope[Any]]) -> bool:
    """Create or change a staff account with the events announcing it, in one write.

    False when another request created the same username first (under another staff id): nothing was written.
    """
    now = datetime.now(UTC)
    try:
        await database[STAFF].update_one(
            {"tenant_id": account.tenant_id, "username": account.username, "staff_id": account.staff_id},
            {
                "$set": {**account.model_dump(mode="json", include={"display_name", "role", "active", "password_hash"}),
                         "updated_at": now},
                "$setOnInsert": {"_id": account.staff_id, "created_at": now},
                "$push": outbox.push_events(events),
            },
            upsert=True,
        )
    except Exception as error:
        if is_duplicate_key(error):
            return False
        raise
    return True


async def list_staff(database: Database, *, tenant_id: str) -> list[StaffAccount]:
    """Every active staff member of the tenant, by name."""
    cursor = database[STAFF].find(
        {"tenant_id": tenant_id, "active": True}, {"password_hash": 0, outbox.FIELD: 0}
    ).sort("display_name", ASCENDING)
    return [StaffAccount.model_validate(document) for document in await cursor.to_list(None)]
