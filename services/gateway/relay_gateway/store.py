"""The gateway's own database: tenants, staff accounts (with their pending events), sign-in sessions, recent
wrong passwords and the audit log, as models at its edge."""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument

from relay_contracts import Envelope
from relay_gateway.models import AuditEntry, SignInFailures, SignInSession, StaffAccount, Tenant
from relay_kit import outbox
from relay_kit.store import Database, is_duplicate_key

TENANTS = "tenants"
STAFF = "staff"
"""Staff accounts; a document's `_id` is its `staff_id`, so the unit of work can find it right after the write."""

SESSIONS = "sessions"
"""Sign-in sessions; a document's `_id` is its `session_id`."""
SIGN_IN_FAILURES = "sign_in_failures"
"""Recent wrong passwords per account and per client address; a document's `_id` is its key."""
AUDIT = "audit"
"""Admin and manager actions; a document's `_id` is its `entry_id` (for a consumed event, derived from the event
id, so a redelivery cannot record it twice)."""

INDEXES = {
    TENANTS: [IndexModel([("tenant_id", ASCENDING)], unique=True, name="tenant_id_unique")],
    STAFF: [
        IndexModel([("tenant_id", ASCENDING), ("username", ASCENDING)], unique=True, name="username_unique"),
        IndexModel([("tenant_id", ASCENDING), ("staff_id", ASCENDING)], unique=True, name="staff_id_unique"),
    ],
    SESSIONS: [IndexModel([("tenant_id", ASCENDING), ("staff_id", ASCENDING)], name="sessions_of_staff"),
               # MongoDB drops a session once its token has expired anyway (the stand-in keeps it: harmless)
               IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="sessions_expire")],
    AUDIT: [IndexModel([("tenant_id", ASCENDING), ("at", DESCENDING), ("entry_id", DESCENDING)],
                       name="audit_of_tenant_by_time")],
}


async def save_tenant(database: Database, *, tenant_id: str, name: str,
                      require_totp_for_admins: bool | None = None) -> Tenant:
    """Create or rename a tenant (and set whether its admins need two-factor sign-in, when given)."""
    now = datetime.now(UTC)
    changes: dict[str, Any] = {"name": name, "updated_at": now}
    if require_totp_for_admins is not None:
        changes["require_totp_for_admins"] = require_totp_for_admins
    document = await database[TENANTS].find_one_and_update(
        {"tenant_id": tenant_id},
        {"$set": changes, "$setOnInsert": {"created_at": now}},
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
    document = await database[STAFF].find_one({"tenant_id": tenant_id, "username": username},
                                              {outbox.FIELD: 0, PENDING_AUDIT: 0})
    return StaffAccount.model_validate(document) if document else None


PENDING_AUDIT = "_audit"
"""Audit entries written with a staff account's change, in the same document update, until `settle_audit` has
moved them to the audit collection (a process that dies in between moves them at its next start)."""


async def save_staff(database: Database, *, account: StaffAccount, events: Iterable[Envelope[Any]],
                     audit: Iterable[AuditEntry] = ()) -> bool:
    """Create or change a staff account with the events announcing it and the audit entries recording it, in
    one write.

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
                "$push": {**outbox.push_events(events),
                          PENDING_AUDIT: {"$each": [entry.model_dump() for entry in audit]}},
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
        {"tenant_id": tenant_id, "active": True}, {"password_hash": 0, outbox.FIELD: 0, PENDING_AUDIT: 0}
    ).sort("display_name", ASCENDING)
    return [StaffAccount.model_validate(document) for document in await cursor.to_list(None)]


async def get_staff_by_id(database: Database, *, tenant_id: str, staff_id: str) -> StaffAccount | None:
    """A staff account by its id, or None."""
    document = await database[STAFF].find_one({"tenant_id": tenant_id, "staff_id": staff_id},
                                              {outbox.FIELD: 0, PENDING_AUDIT: 0})
    return StaffAccount.model_validate(document) if document else None


async def set_password(database: Database, *, account: StaffAccount, password_hash: str) -> None:
    """Replace an account's password hash."""
    await database[STAFF].update_one({"_id": account.staff_id},
                                     {"$set": {"password_hash": password_hash, "updated_at": datetime.now(UTC)}})


async def add_session(database: Database, *, session: SignInSession) -> None:
    """Keep a new sign-in session."""
    await database[SESSIONS].insert_one({"_id": session.session_id, **session.model_dump()})


async def get_session(database: Database, *, session_id: str) -> SignInSession | None:
    """A session by its id, or None."""
    document = await database[SESSIONS].find_one({"_id": session_id})
    return SignInSession.model_validate(document) if document else None


async def end_sessions(database: Database, *, tenant_id: str, staff_id: str, session_ids: list[str] | None,
                       reason: str, now: datetime) -> list[str]:
    """End the given open sessions of an account (None: every one); the ids of those it ended."""
    query: dict[str, Any] = {"tenant_id": tenant_id, "staff_id": staff_id, "ended_at": None}
    if session_ids is not None:
        query["_id"] = {"$in": session_ids}
    ended = [document["_id"] for document in await database[SESSIONS].find(query, {"_id": 1}).to_list(None)]
    if ended:
        await database[SESSIONS].update_many({"_id": {"$in": ended}, "ended_at": None},
                                             {"$set": {"ended_at": now, "ended_because": reason}})
    return ended


async def announce(database: Database, *, staff_id: str, events: Iterable[Envelope[Any]]) -> bool:
    """Keep events about an account on its document, for the unit of work to publish (False: no account)."""
    result = await database[STAFF].update_one({"_id": staff_id}, {"$push": outbox.push_events(events)})
    return result.matched_count > 0


async def get_failures(database: Database, *, keys: list[str]) -> list[SignInFailures]:
    """The recent wrong passwords recorded under these keys."""
    documents = await database[SIGN_IN_FAILURES].find({"_id": {"$in": keys}}).to_list(None)
    return [SignInFailures.model_validate(document) for document in documents]


async def save_failures(database: Database, *, record: SignInFailures) -> None:
    """Keep the count of recent wrong passwords under a key."""
    await database[SIGN_IN_FAILURES].replace_one({"_id": record.key}, {"_id": record.key, **record.model_dump()},
                                                 upsert=True)


async def forget_failures(database: Database, *, key: str) -> None:
    """A good sign-in: the account starts afresh."""
    await database[SIGN_IN_FAILURES].delete_one({"_id": key})


async def set_totp(database: Database, *, staff_id: str, secret: str | None, confirmed: bool) -> None:
    """Set (or, with None, remove) an account's TOTP secret."""
    await database[STAFF].update_one({"_id": staff_id}, {"$set": {
        "totp_secret": secret, "totp_confirmed": confirmed and secret is not None, "totp_last_step": None,
        "updated_at": datetime.now(UTC)}})


async def use_totp_step(database: Database, *, staff_id: str, step: int, confirm: bool = False) -> bool:
    """Record the time step a code was used for; False if that step (or a later one) was used already."""
    changes: dict[str, Any] = {"totp_last_step": step}
    if confirm:
        changes["totp_confirmed"] = True
    result = await database[STAFF].update_one(
        {"_id": staff_id, "$or": [{"totp_last_step": None}, {"totp_last_step": {"$lt": step}}]}, {"$set": changes})
    return result.matched_count > 0


async def record_audit(database: Database, *, entries: Iterable[AuditEntry]) -> int:
    """Keep audit entries; one whose id is kept already (a redelivered event) is left as it is. How many were new."""
    recorded = 0
    for entry in entries:
        try:
            await database[AUDIT].insert_one({"_id": entry.entry_id, **entry.model_dump()})
        except Exception as error:
            if is_duplicate_key(error):
                continue
            raise
        recorded += 1
    return recorded


async def get_audit_entry(database: Database, *, tenant_id: str, entry_id: str) -> AuditEntry | None:
    """One of the tenant's audit entries, or None."""
    document = await database[AUDIT].find_one({"_id": entry_id, "tenant_id": tenant_id})
    return AuditEntry.model_validate(document) if document else None


async def list_audit(database: Database, *, tenant_id: str, limit: int,
                     before: AuditEntry | None = None) -> list[AuditEntry]:
    """The tenant's audit entries, newest first (ties by entry id), older than `before` when given."""
    query: dict[str, Any] = {"tenant_id": tenant_id}
    if before is not None:
        query["$or"] = [{"at": {"$lt": before.at}}, {"at": before.at, "entry_id": {"$lt": before.entry_id}}]
    cursor = database[AUDIT].find(query).sort([("at", DESCENDING), ("entry_id", DESCENDING)]).limit(limit)
    return [AuditEntry.model_validate(document) for document in await cursor.to_list(None)]


async def settle_audit(database: Database, *, staff_id: str | None = None) -> int:
    """Move the audit entries written with staff accounts' changes (of one account, or of every one) into the
    audit collection; each once, whatever happened before. How many were new there."""
    query: dict[str, Any] = {f"{PENDING_AUDIT}.0": {"$exists": True}}
    if staff_id is not None:
        query["_id"] = staff_id
    moved = 0
    for document in await database[STAFF].find(query, {PENDING_AUDIT: 1}).to_list(None):
        entries = [AuditEntry.model_validate(pending) for pending in document[PENDING_AUDIT]]
        moved += await record_audit(database, entries=entries)
        await database[STAFF].update_one(
            {"_id": document["_id"]},
            {"$pull": {PENDING_AUDIT: {"entry_id": {"$in": [entry.entry_id for entry in entries]}}}})
    return moved
