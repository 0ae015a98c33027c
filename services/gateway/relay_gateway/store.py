"""The gateway's own database: tenants and staff accounts (with their pending events)."""

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument

from relay_contracts import Envelope
from relay_kit import outbox

TENANTS = "tenants"
STAFF = "staff"

INDEXES = {
    TENANTS: [IndexModel([("tenant_id", ASCENDING)], unique=True, name="tenant_id_unique")],
    STAFF: [
        IndexModel([("tenant_id", ASCENDING), ("username", ASCENDING)], unique=True, name="username_unique"),
        IndexModel([("tenant_id", ASCENDING), ("staff_id", ASCENDING)], unique=True, name="staff_id_unique"),
    ],
}


async def save_tenant(database: Any, *, tenant_id: str, name: str) -> dict[str, Any]:
    """Create or rename a tenant."""
    return await database[TENANTS].find_one_and_update(
        {"tenant_id": tenant_id},
        {"$set": {"name": name, "updated_at": datetime.now(UTC)}, "$setOnInsert": {"created_at": datetime.now(UTC)}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )


async def get_tenant(database: Any, *, tenant_id: str) -> dict[str, Any] | None:
    """The tenant, or None."""
    return await database[TENANTS].find_one({"tenant_id": tenant_id})


async def get_staff_by_username(database: Any, *, tenant_id: str, username: str) -> dict[str, Any] | None:
    """A staff account by its sign-in name, or None."""
    return await database[STAFF].find_one({"tenant_id": tenant_id, "username": username})


async def save_staff(
    database: Any, *, tenant_id: str, username: str, fields: dict[str, Any], new_staff_id: str,
    event_for: Any,
) -> dict[str, Any]:
    """Create or update a staff account, storing the event that announces it in the same write."""
    existing = await get_staff_by_username(database, tenant_id=tenant_id, username=username)
    staff_id = existing["staff_id"] if existing else new_staff_id
    merged = {**(existing or {}), **fields, "tenant_id": tenant_id, "username": username, "staff_id": staff_id}
    event: Envelope[Any] = event_for(merged)
    return await database[STAFF].find_one_and_update(
        {"tenant_id": tenant_id, "username": username},
        {
            "$set": {**fields, "updated_at": datetime.now(UTC)},
            "$setOnInsert": {"staff_id": staff_id, "created_at": datetime.now(UTC)},
            "$push": outbox.push_events([event]),
        },
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )


async def list_staff(database: Any, *, tenant_id: str) -> list[dict[str, Any]]:
    """Every active staff member of the tenant, by name."""
    cursor = database[STAFF].find(
        {"tenant_id": tenant_id, "active": True}, {"password_hash": 0, "_outbox": 0}
    ).sort("display_name", ASCENDING)
    return await cursor.to_list(None)
