"""The issues service's own database: issues (with timeline, history and pending events), staff, counters."""

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from relay_kit import outbox
from relay_kit.store import apply_indexes, is_duplicate_key

ISSUES = "issues"
STAFF = "staff"
COUNTERS = "counters"

INDEXES = {
    ISSUES: [
        # Invariant 1: at most one open issue per tenant and customer (equality-only partial filter: MongoDB 7).
        IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING)], unique=True,
                   partialFilterExpression={"is_open": True}, name="one_open_issue_per_customer"),
        # Invariant 2: a customer message is applied to at most one issue (multikey: one entry per message id).
        IndexModel([("tenant_id", ASCENDING), ("applied_message_ids", ASCENDING)], unique=True,
                   name="message_applied_once"),
        IndexModel([("tenant_id", ASCENDING), ("updated_at", DESCENDING), ("_id", DESCENDING)], name="feed"),
        IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING), ("updated_at", DESCENDING), ("_id", DESCENDING)],
                   name="feed_by_status"),
        IndexModel([("tenant_id", ASCENDING), ("assignee.id", ASCENDING), ("status", ASCENDING),
                    ("opened_at", ASCENDING)], name="issue_tracker"),
        IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING), ("opened_at", ASCENDING)],
                   name="customer_history"),
        IndexModel([("is_open", ASCENDING), ("opened_at", ASCENDING)], name="open_issue_age"),
    ],
    STAFF: [IndexModel([("tenant_id", ASCENDING), ("staff_id", ASCENDING)], unique=True, name="staff_id_unique")],
    COUNTERS: [],
}

LIST_PROJECTION = {"history": 0, "applied_message_ids": 0, outbox.FIELD: 0}


class DuplicateIssue(Exception):
    """The customer already has an open issue, or the message already opened one (a concurrent delivery)."""


async def prepare(database: Any) -> None:
    """Apply the declared indexes (idempotent, at start)."""
    await apply_indexes(database, INDEXES)


# --- issues -------------------------------------------------------------------------------------


async def get_issue(database: Any, *, tenant_id: str, issue_id: str) -> dict[str, Any] | None:
    """The tenant's issue, or None (another tenant's issue is None too)."""
    return await database[ISSUES].find_one({"_id": issue_id, "tenant_id": tenant_id})


async def get_open_issue(database: Any, *, tenant_id: str, customer_id: str) -> dict[str, Any] | None:
    """The customer's open (unassigned or assigned) issue, or None."""
    return await database[ISSUES].find_one({"tenant_id": tenant_id, "customer_id": customer_id, "is_open": True})


async def get_issue_with_message(database: Any, *, tenant_id: str, message_id: str) -> dict[str, Any] | None:
    """The issue a customer message was already applied to, or None."""
    return await database[ISSUES].find_one({"tenant_id": tenant_id, "applied_message_ids": message_id},
                                           {"_id": 1, "tenant_id": 1})


async def insert_issue(database: Any, *, issue: dict[str, Any], events: list[Any]) -> None:
    """Store a new issue with the events announcing it; raise DuplicateIssue if a unique index says no."""
    try:
        await database[ISSUES].insert_one(outbox.with_events(issue, events))
    except Exception as error:
        if is_duplicate_key(error):
            raise DuplicateIssue(str(error)) from None
        raise


async def apply_change(database: Any, *, issue: dict[str, Any], change: Any) -> dict[str, Any] | None:
    """Write a decided change and its events atomically, if the issue is still the version it was decided on.

    Returns the issue as written, or None when someone changed it first (decide again on the new state).
    Raises DuplicateIssue when a unique index refuses it (a second open issue, a message applied twice).
    """
    selector: dict[str, Any] = {"_id": issue["_id"], "tenant_id": issue["tenant_id"], "version": issue["version"]}
    push: dict[str, Any] = {}
    if change.timeline:
        push["timeline"] = {"$each": change.timeline}
    if change.history:
        push["history"] = {"$each": change.history}
    if change.events:
        push.update(outbox.push_events(change.events))
    if change.applied_message_id:
        selector["applied_message_ids"] = {"$ne": change.applied_message_id}
        push["applied_message_ids"] = change.applied_message_id
    update: dict[str, Any] = {"$inc": {"version": 1}}
    if change.set:
        update["$set"] = dict(change.set)
    if push:
        update["$push"] = push
    try:
        return await database[ISSUES].find_one_and_update(selector, update, return_document=ReturnDocument.AFTER)
    except Exception as error:
        if is_duplicate_key(error):
            raise DuplicateIssue(str(error)) from None
        raise


async def next_issue_number(database: Any, *, tenant_id: str) -> int:
    """The tenant's next issue number (1, 2, 3…); a number lost to a retried open leaves a gap."""
    for _ in range(3):
        try:
            counter = await database[COUNTERS].find_one_and_update(
                {"_id": f"{tenant_id}:issues"}, {"$inc": {"value": 1}, "$set": {"tenant_id": tenant_id}},
                upsert=True, return_document=ReturnDocument.AFTER,
            )
            return int(counter["value"])
        except Exception as error:  # two first issues of a tenant at once: the upsert's loser retries
            if not is_duplicate_key(error):
                raise
    raise RuntimeError("could not allocate an issue number")


async def list_issues(
    database: Any, *, tenant_id: str, statuses: list[str] | None, limit: int,
    before: tuple[datetime, str] | None = None,
) -> list[dict[str, Any]]:
    """The tenant's feed: newest activity first, from just before a cursor (updated_at, issue id)."""
    query: dict[str, Any] = {"tenant_id": tenant_id}
    if statuses:
        query["status"] = {"$in": statuses}
    if before:
        at, issue_id = before
        query["$or"] = [{"updated_at": {"$lt": at}}, {"updated_at": at, "_id": {"$lt": issue_id}}]
    cursor = database[ISSUES].find(query, LIST_PROJECTION).sort([("updated_at", DESCENDING), ("_id", DESCENDING)])
    return await cursor.limit(limit).to_list(None)


async def list_assigned_to(database: Any, *, tenant_id: str, staff_id: str, limit: int) -> list[dict[str, Any]]:
    """Issue Tracker: issues assigned to a staff member, open ones first, oldest first."""
    base = {"tenant_id": tenant_id, "assignee.id": staff_id}
    open_cursor = database[ISSUES].find({**base, "status": "assigned"}, LIST_PROJECTION).sort("opened_at", ASCENDING)
    open_issues = await open_cursor.limit(limit).to_list(None)
    if len(open_issues) >= limit:
        return open_issues
    closed_cursor = database[ISSUES].find({**base, "status": "closed"}, LIST_PROJECTION).sort("opened_at", ASCENDING)
    return open_issues + await closed_cursor.limit(limit - len(open_issues)).to_list(None)


async def count_by_status(database: Any, *, tenant_id: str, staff_id: str) -> dict[str, int]:
    """How many of the tenant's issues are in each status, and how many open ones are assigned to this person."""
    cursor = await database[ISSUES].aggregate([
        {"$match": {"tenant_id": tenant_id}},
        {"$group": {"_id": "$status", "count": {"$sum": 1}}},
    ])
    counts = {row["_id"]: row["count"] async for row in cursor}
    mine = await database[ISSUES].count_documents({"tenant_id": tenant_id, "assignee.id": staff_id,
                                                   "status": "assigned"})
    return {**counts, "mine": mine}


async def list_customer_issues(database: Any, *, tenant_id: str, customer_id: str) -> list[dict[str, Any]]:
    """Every issue of one customer, oldest first (their whole past communication)."""
    cursor = database[ISSUES].find({"tenant_id": tenant_id, "customer_id": customer_id},
                                   {"applied_message_ids": 0, outbox.FIELD: 0}).sort("opened_at", ASCENDING)
    return await cursor.to_list(None)


async def open_issue_stats(database: Any) -> tuple[dict[str, int], datetime | None]:
    """Operations gauges across all tenants: open issues by status and the oldest open issue's opening time."""
    cursor = await database[ISSUES].aggregate([
        {"$match": {"is_open": True}},
        {"$group": {"_id": "$status", "count": {"$sum": 1}, "oldest": {"$min": "$opened_at"}}},
    ])
    counts: dict[str, int] = {}
    oldest: datetime | None = None
    async for row in cursor:
        counts[row["_id"]] = row["count"]
        if row["oldest"] is not None and (oldest is None or row["oldest"] < oldest):
            oldest = row["oldest"]
    return counts, oldest


# --- staff directory ----------------------------------------------------------------------------


async def save_staff(database: Any, *, tenant_id: str, staff_id: str, fields: dict[str, Any],
                     at: datetime) -> None:
    """Create or update a staff member of the directory (idempotent: the same event twice changes nothing)."""
    await database[STAFF].update_one(
        {"tenant_id": tenant_id, "staff_id": staff_id},
        {"$set": {**fields, "updated_at": at}, "$setOnInsert": {"created_at": at}},
        upsert=True,
    )


async def get_staff(database: Any, *, tenant_id: str, staff_id: str) -> dict[str, Any] | None:
    """A staff member of the tenant's directory, or None."""
    return await database[STAFF].find_one({"tenant_id": tenant_id, "staff_id": staff_id})
