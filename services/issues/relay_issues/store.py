"""The issues service's own database: issues (with timeline, history and pending events), staff, counters, SMS consent.

Documents become models here and models become documents here (`Issue.from_document` / `to_document`);
nothing above the store sees a document.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from relay_contracts.issues import IssueStatus
from relay_kit import outbox
from relay_kit.store import Database, Document, apply_indexes, is_duplicate_key

from relay_issues.models import Change, Issue, IssueCounts, SearchTerm, StaffMember

ISSUES = "issues"
STAFF = "staff"
COUNTERS = "counters"
SMS_CONSENT = "sms_consent"

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
        # Search: multikey over the stored terms; an anchored prefix regex on them is an index range on MongoDB.
        IndexModel([("tenant_id", ASCENDING), ("search_terms", ASCENDING)], name="issue_search"),
    ],
    STAFF: [IndexModel([("tenant_id", ASCENDING), ("staff_id", ASCENDING)], unique=True, name="staff_id_unique")],
    COUNTERS: [],
    # One document per tenant and phone number (_id); a customer's opted-out numbers are found by customer.
    SMS_CONSENT: [IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING), ("opted_out", ASCENDING)],
                             name="consent_by_customer")],
}

# Listings leave out what no listing shows: the history, the applied message ids, the terms and the pending events.
LIST_PROJECTION = {"history": 0, "applied_message_ids": 0, "search_terms": 0, outbox.FIELD: 0}
DETAIL_PROJECTION = {outbox.FIELD: 0}


class DuplicateIssue(Exception):
    """The customer already has an open issue, or the message already opened one (a concurrent delivery)."""


async def prepare(database: Database) -> None:
    """Apply the declared indexes (idempotent, at start)."""
    await apply_indexes(database, INDEXES)


# --- issues -------------------------------------------------------------------------------------


def _issue(document: Document | None) -> Issue | None:
    return Issue.from_document(document) if document else None


async def get_issue(database: Database, *, tenant_id: str, issue_id: str) -> Issue | None:
    """The tenant's issue, or None (another tenant's issue is None too)."""
    return _issue(await database[ISSUES].find_one({"_id": issue_id, "tenant_id": tenant_id}, DETAIL_PROJECTION))


async def get_open_issue(database: Database, *, tenant_id: str, customer_id: str) -> Issue | None:
    """The customer's open (unassigned or assigned) issue, or None."""
    return _issue(await database[ISSUES].find_one({"tenant_id": tenant_id, "customer_id": customer_id,
                                                   "is_open": True}, DETAIL_PROJECTION))


async def get_id_of_issue_with_message(database: Database, *, tenant_id: str, message_id: str) -> str | None:
    """The id of the issue a customer message was already applied to, or None."""
    found = await database[ISSUES].find_one({"tenant_id": tenant_id, "applied_message_ids": message_id}, {"_id": 1})
    return found["_id"] if found else None


async def write_change(database: Database, *, change: Change) -> Issue | None:
    """Write a decided change and its events in one document write, if the issue is still the version it was decided on.

    Returns the issue as written, or None when someone changed it first (decide again on the new state).
    Raises DuplicateIssue when a unique index refuses it (a second open issue, a message applied twice).
    """
    try:
        if change.before is None:
            await database[ISSUES].insert_one(outbox.with_events(change.after.to_document(), change.events))
            return change.after
        selector, update = _update(before=change.before.to_document(), after=change.after.to_document())
        if change.events:
            update.setdefault("$push", {}).update(outbox.push_events(change.events))
        written = await database[ISSUES].find_one_and_update(selector, update, DETAIL_PROJECTION,
                                                             return_document=ReturnDocument.AFTER)
    except Exception as error:
        if is_duplicate_key(error):
            raise DuplicateIssue(str(error)) from None
        raise
    return _issue(written)


def _update(*, before: Document, after: Document) -> tuple[Document, Document]:
    """The guarded update that turns one stored state into the next: appended list items are pushed, the rest set."""
    selector: Document = {"_id": before["_id"], "tenant_id": before["tenant_id"], "version": before["version"]}
    changed: Document = {}
    pushed: Document = {}
    for name, value in after.items():
        old = before.get(name)
        if name in ("_id", "version") or old == value:
            continue
        if isinstance(value, list) and isinstance(old, list) and value[:len(old)] == old:
            pushed[name] = {"$each": value[len(old):]}
        else:
            changed[name] = value
    if "applied_message_ids" in pushed:  # a message applied elsewhere meanwhile is never applied here too
        selector["applied_message_ids"] = {"$nin": pushed["applied_message_ids"]["$each"]}
    update: Document = {"$inc": {"version": 1}}
    if changed:
        update["$set"] = changed
    if pushed:
        update["$push"] = pushed
    return selector, update


async def next_issue_number(database: Database, *, tenant_id: str) -> int:
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


async def _issues(database: Database, query: Document, *, sort: list[tuple[str, int]], limit: int | None = None,
                  projection: Document = LIST_PROJECTION) -> list[Issue]:
    cursor = database[ISSUES].find(query, projection).sort(sort)
    if limit is not None:
        cursor = cursor.limit(limit)
    return [Issue.from_document(document) for document in await cursor.to_list(None)]


async def list_issues(
    database: Database, *, tenant_id: str, statuses: list[IssueStatus] | None, limit: int,
    before: tuple[datetime, str] | None = None,
) -> list[Issue]:
    """The tenant's feed (without history): newest activity first, from just before a cursor (updated_at, id)."""
    query: Document = {"tenant_id": tenant_id}
    if statuses:
        query["status"] = {"$in": [status.value for status in statuses]}
    if before:
        at, issue_id = before
        query["$or"] = [{"updated_at": {"$lt": at}}, {"updated_at": at, "_id": {"$lt": issue_id}}]
    return await _issues(database, query, sort=[("updated_at", DESCENDING), ("_id", DESCENDING)], limit=limit)


async def list_assigned_to(database: Database, *, tenant_id: str, staff_id: str, limit: int) -> list[Issue]:
    """Issue Tracker (without history): issues assigned to a staff member, open ones first, oldest first."""
    base: Document = {"tenant_id": tenant_id, "assignee.id": staff_id}
    oldest_first = [("opened_at", ASCENDING)]
    open_issues = await _issues(database, {**base, "status": IssueStatus.ASSIGNED.value}, sort=oldest_first,
                                limit=limit)
    if len(open_issues) >= limit:
        return open_issues
    return open_issues + await _issues(database, {**base, "status": IssueStatus.CLOSED.value}, sort=oldest_first,
                                       limit=limit - len(open_issues))


async def count_by_status(database: Database, *, tenant_id: str, staff_id: str) -> IssueCounts:
    """How many of the tenant's issues are in each status, and how many open ones are assigned to this person."""
    cursor = await database[ISSUES].aggregate([
        {"$match": {"tenant_id": tenant_id}},
        {"$group": {"_id": "$status", "count": {"$sum": 1}}},
    ])
    counts: dict[str, Any] = {str(row["_id"]): row["count"] async for row in cursor}
    mine = await database[ISSUES].count_documents({"tenant_id": tenant_id, "assignee.id": staff_id,
                                                   "status": IssueStatus.ASSIGNED.value})
    return IssueCounts.model_validate({**counts, "mine": mine})


async def list_customer_issues(database: Database, *, tenant_id: str, customer_id: str) -> list[Issue]:
    """Every issue of one customer, oldest first (their whole past communication)."""
    return await _issues(database, {"tenant_id": tenant_id, "customer_id": customer_id},
                         sort=[("opened_at", ASCENDING)],
                         projection={"applied_message_ids": 0, "search_terms": 0, outbox.FIELD: 0})


async def list_customer_issue_ids(database: Database, *, tenant_id: str, customer_id: str) -> list[str]:
    """The ids of every issue of one customer, closed ones first, the open one last (index customer_history)."""
    cursor = database[ISSUES].find({"tenant_id": tenant_id, "customer_id": customer_id}, {"_id": 1, "is_open": 1})
    found = await cursor.to_list(None)
    return [document["_id"] for document in sorted(found, key=lambda document: bool(document.get("is_open")))]


def _matching(term: SearchTerm) -> Document:
    conditions: list[Document] = []
    if term.prefix:
        conditions.append({"search_terms": {"$regex": f"^{re.escape(term.prefix)}"}})
    if term.exact:
        conditions.append({"search_terms": term.exact})
    return conditions[0] if len(conditions) == 1 else {"$or": conditions}


async def search_issues(database: Database, *, tenant_id: str, terms: list[SearchTerm], limit: int) -> list[Issue]:
    """The tenant's issues holding every term (anchored prefix or exact), newest activity first (index issue_search)."""
    if not terms:
        return []
    query: Document = {"tenant_id": tenant_id, "$and": [_matching(term) for term in terms]}
    return await _issues(database, query, sort=[("updated_at", DESCENDING), ("_id", DESCENDING)], limit=limit)


async def issue_ids_without_search_terms(database: Database) -> list[str]:
    """Issues stored before search existed (their terms are written at start)."""
    cursor = database[ISSUES].find({"search_terms": {"$exists": False}}, {"_id": 1})
    return [document["_id"] for document in await cursor.to_list(None)]


async def set_search_terms(database: Database, *, issue: Issue) -> None:
    """Store an issue's terms over the version they were computed from (a newer write carries its own)."""
    await database[ISSUES].update_one({"_id": issue.issue_id, "tenant_id": issue.tenant_id, "version": issue.version},
                                      {"$set": {"search_terms": issue.search_terms}})


async def get_issue_by_id(database: Database, *, issue_id: str) -> Issue | None:
    """An issue by its id alone (for work across every tenant at start)."""
    return _issue(await database[ISSUES].find_one({"_id": issue_id}, DETAIL_PROJECTION))


async def open_issue_stats(database: Database) -> tuple[dict[str, int], datetime | None]:
    """Operations gauges across all tenants: open issues by status and the oldest open issue's opening time."""
    cursor = await database[ISSUES].aggregate([
        {"$match": {"is_open": True}},
        {"$group": {"_id": "$status", "count": {"$sum": 1}, "oldest": {"$min": "$opened_at"}}},
    ])
    counts: dict[str, int] = {}
    oldest: datetime | None = None
    async for row in cursor:
        counts[str(row["_id"])] = row["count"]
        if row["oldest"] is not None and (oldest is None or row["oldest"] < oldest):
            oldest = row["oldest"]
    return counts, oldest


# --- staff directory ----------------------------------------------------------------------------


async def save_staff(database: Database, *, member: StaffMember, at: datetime) -> None:
    """Create or update a staff member of the directory (idempotent: the same event twice changes nothing)."""
    await database[STAFF].update_one(
        {"tenant_id": member.tenant_id, "staff_id": member.staff_id},
        {"$set": {**member.model_dump(), "updated_at": at}, "$setOnInsert": {"created_at": at}},
        upsert=True,
    )


async def get_staff(database: Database, *, tenant_id: str, staff_id: str) -> StaffMember | None:
    """A staff member of the tenant's directory, or None."""
    found = await database[STAFF].find_one({"tenant_id": tenant_id, "staff_id": staff_id})
    return StaffMember.model_validate(found) if found else None


# --- SMS consent: who texted STOP --------------------------------------------------------------


@dataclass(frozen=True)
class ConsentSaved:
    """What saving a consent change did: whether it was newer than what was kept, and whose number it was before."""

    applied: bool
    previous_customer_id: str | None = None


async def save_sms_consent(database: Database, *, tenant_id: str, customer_id: str, phone: str, opted_out: bool,
                           at: datetime, source: str) -> ConsentSaved:
    """Keep a phone number's latest consent; an older change than the one kept (a late redelivery) changes nothing."""
    try:
        before = await database[SMS_CONSENT].find_one_and_update(
            {"_id": f"{tenant_id}:{phone}", "at": {"$lte": at}},
            {"$set": {"tenant_id": tenant_id, "customer_id": customer_id, "phone": phone, "opted_out": opted_out,
                      "at": at, "source": source}},
            upsert=True, return_document=ReturnDocument.BEFORE,
        )
    except Exception as error:  # the number's kept change is newer: the upsert's insert collides with it
        if is_duplicate_key(error):
            return ConsentSaved(applied=False)
        raise
    return ConsentSaved(applied=True, previous_customer_id=before["customer_id"] if before else None)


async def sms_opted_out_at(database: Database, *, tenant_id: str, customer_id: str) -> datetime | None:
    """When the customer last texted STOP from a number still opted out, or None (index consent_by_customer)."""
    cursor = database[SMS_CONSENT].find({"tenant_id": tenant_id, "customer_id": customer_id, "opted_out": True},
                                        {"at": 1}).sort([("at", DESCENDING)]).limit(1)
    found = await cursor.to_list(None)
    return found[0]["at"] if found else None


async def move_sms_consent(database: Database, *, tenant_id: str, from_customer_id: str, to_customer_id: str) -> None:
    """A merged contact's numbers, and their consent, now belong to the customer it was merged into."""
    await database[SMS_CONSENT].update_many({"tenant_id": tenant_id, "customer_id": from_customer_id},
                                            {"$set": {"customer_id": to_customer_id}})
