"""The chat service's own database: staff directory, conversations, messages, read state, positions.

Every document and every query carries tenant_id. Events announcing a change are stored in
the changed document (relay_kit.outbox) and published right after the write.
"""

import logging
from datetime import UTC, datetime
from typing import Any, Literal

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument

from relay_contracts import Envelope
from relay_kit import outbox
from relay_kit.store import is_duplicate_key

STAFF = "staff"
CONVERSATIONS = "conversations"
MESSAGES = "messages"
READ_STATE = "read_state"
POSITIONS = "positions"
WITH_EVENTS = (CONVERSATIONS, MESSAGES, READ_STATE, POSITIONS)

INDEXES = {
    STAFF: [
        IndexModel([("tenant_id", ASCENDING), ("staff_id", ASCENDING)], unique=True, name="staff_id_unique"),
        IndexModel([("tenant_id", ASCENDING), ("username", ASCENDING)], name="username"),
    ],
    CONVERSATIONS: [
        IndexModel([("tenant_id", ASCENDING), ("members", ASCENDING)], name="by_member"),
        IndexModel([("tenant_id", ASCENDING), ("default_key", ASCENDING)], unique=True, name="default_unique",
                   partialFilterExpression={"default_key": {"$type": "string"}}),
        IndexModel([("tenant_id", ASCENDING), ("participants_key", ASCENDING)], unique=True,
                   name="private_participants_unique", partialFilterExpression={"kind": "private"}),
        IndexModel([("tenant_id", ASCENDING), ("name_key", ASCENDING)], unique=True,
                   name="channel_name_unique", partialFilterExpression={"kind": "channel"}),
    ],
    MESSAGES: [
        IndexModel([("tenant_id", ASCENDING), ("conversation_id", ASCENDING), ("seq", ASCENDING)], unique=True,
                   name="seq_unique"),
        IndexModel([("tenant_id", ASCENDING), ("conversation_id", ASCENDING), ("author_id", ASCENDING),
                    ("client_message_id", ASCENDING)], unique=True, name="client_message_unique",
                   partialFilterExpression={"client_message_id": {"$type": "string"}}),
    ],
    READ_STATE: [
        IndexModel([("tenant_id", ASCENDING), ("staff_id", ASCENDING), ("conversation_id", ASCENDING)],
                   unique=True, name="marker_unique"),
    ],
    POSITIONS: [IndexModel([("tenant_id", ASCENDING), ("staff_id", ASCENDING)], unique=True, name="position_unique")],
}

_NO_OUTBOX = {outbox.FIELD: 0}
log = logging.getLogger(__name__)


def now() -> datetime:
    """The time stamped on changes."""
    return datetime.now(UTC)


# ---- staff directory ---------------------------------------------------------------------------------


async def save_staff(database: Any, *, tenant_id: str, staff: dict[str, Any]) -> None:
    """Create or update a directory entry (idempotent)."""
    await database[STAFF].update_one(
        {"_id": f"{tenant_id}|{staff['staff_id']}"},
        {"$set": {**staff, "tenant_id": tenant_id, "updated_at": now()}},
        upsert=True,
    )


async def list_staff(database: Any, *, tenant_id: str) -> list[dict[str, Any]]:
    """Every active staff member of the tenant, by name."""
    cursor = database[STAFF].find({"tenant_id": tenant_id, "active": True}).sort("display_name", ASCENDING)
    return await cursor.to_list(None)


async def find_staff(database: Any, *, tenant_id: str, keys: list[str]) -> list[dict[str, Any]]:
    """Active staff whose id or username is one of `keys`."""
    if not keys:
        return []
    cursor = database[STAFF].find({
        "tenant_id": tenant_id, "active": True,
        "$or": [{"staff_id": {"$in": keys}}, {"username": {"$in": [k.lower() for k in keys]}}],
    })
    return await cursor.to_list(None)


async def _insert_new(collection: Any, *, document: dict[str, Any], events: list[Envelope[Any]]) -> bool:
    """Insert a document with the events announcing it; False if a unique index says it exists already."""
    try:
        await collection.insert_one(outbox.with_events(document, events))
    except Exception as error:
        if is_duplicate_key(error):
            return False
        raise
    return True


# ---- conversations -----------------------------------------------------------------------------------


async def insert_conversation(database: Any, *, document: dict[str, Any], events: list[Envelope[Any]]) -> bool:
    """Store a new conversation with its events; False if a unique rule says it exists already."""
    return await _insert_new(database[CONVERSATIONS], document=document, events=events)


async def get_conversation(database: Any, *, tenant_id: str, conversation_id: str) -> dict[str, Any] | None:
    """A conversation, or None."""
    return await database[CONVERSATIONS].find_one({"_id": conversation_id, "tenant_id": tenant_id}, _NO_OUTBOX)


async def get_default_channel(database: Any, *, tenant_id: str, default_key: str) -> dict[str, Any] | None:
    """The tenant's default channel of that kind ("general", "customer_messages"), or None."""
    return await database[CONVERSATIONS].find_one({"tenant_id": tenant_id, "default_key": default_key}, _NO_OUTBOX)


async def get_private_by_participants(database: Any, *, tenant_id: str, participants_key: str) -> dict[str, Any] | None:
    """The private conversation between exactly these people, or None."""
    return await database[CONVERSATIONS].find_one(
        {"tenant_id": tenant_id, "kind": "private", "participants_key": participants_key}, _NO_OUTBOX
    )


async def get_channel_by_name(database: Any, *, tenant_id: str, name_key: str) -> dict[str, Any] | None:
    """A channel by its case-insensitive name, or None."""
    return await database[CONVERSATIONS].find_one(
        {"tenant_id": tenant_id, "kind": "channel", "name_key": name_key}, _NO_OUTBOX
    )


async def change_conversation(
    database: Any, *, tenant_id: str, conversation: dict[str, Any], update: dict[str, Any],
    events: list[Envelope[Any]],
) -> Literal["changed", "stale", "duplicate"]:
    """Apply an update if nobody changed the conversation since it was read (else "stale")."""
    update = {**update}
    update.setdefault("$set", {})
    update["$set"] = {**update["$set"], "updated_at": now()}
    update["$inc"] = {"version": 1}
    if events:
        update["$push"] = outbox.push_events(events)
    try:
        result = await database[CONVERSATIONS].update_one(
            {"_id": conversation["_id"], "tenant_id": tenant_id, "version": conversation.get("version", 0)}, update
        )
    except Exception as error:
        if is_duplicate_key(error):
            return "duplicate"
        raise
    return "changed" if result.modified_count == 1 else "stale"


async def next_seq(database: Any, *, tenant_id: str, conversation_id: str, at: datetime) -> dict[str, Any] | None:
    """Take the next message number of a conversation (atomic counter); the conversation as it is after."""
    return await database[CONVERSATIONS].find_one_and_update(
        {"_id": conversation_id, "tenant_id": tenant_id},
        {"$inc": {"last_seq": 1}, "$set": {"last_message_at": at}},
        projection=_NO_OUTBOX,
        return_document=ReturnDocument.AFTER,
    )


async def conversations_of(database: Any, *, tenant_id: str, staff_id: str) -> list[dict[str, Any]]:
    """Every conversation the staff member belongs to."""
    cursor = database[CONVERSATIONS].find({"tenant_id": tenant_id, "members": staff_id}, _NO_OUTBOX)
    return await cursor.to_list(None)


async def public_channels(database: Any, *, tenant_id: str, include_archived: bool) -> list[dict[str, Any]]:
    """The tenant's public channels, by name."""
    query: dict[str, Any] = {"tenant_id": tenant_id, "kind": "channel", "is_private": False}
    if not include_archived:
        query["archived"] = False
    cursor = database[CONVERSATIONS].find(query, _NO_OUTBOX).sort("name_key", ASCENDING)
    return await cursor.to_list(None)


# ---- messages ----------------------------------------------------------------------------------------


async def insert_message(database: Any, *, document: dict[str, Any], events: list[Envelope[Any]]) -> bool:
    """Store a new message with its events; False if the client's id was used already."""
    return await _insert_new(database[MESSAGES], document=document, events=events)


async def get_message(database: Any, *, tenant_id: str, conversation_id: str, message_id: str) -> dict[str, Any] | None:
    """A message of a conversation, or None."""
    return await database[MESSAGES].find_one(
        {"_id": message_id, "tenant_id": tenant_id, "conversation_id": conversation_id}, _NO_OUTBOX
    )


async def get_message_by_client_id(
    database: Any, *, tenant_id: str, conversation_id: str, author_id: str, client_message_id: str
) -> dict[str, Any] | None:
    """A message the same client posted before under the same id (a retried post), or None."""
    return await database[MESSAGES].find_one({
        "tenant_id": tenant_id, "conversation_id": conversation_id, "author_id": author_id,
        "client_message_id": client_message_id,
    }, _NO_OUTBOX)


async def change_message(
    database: Any, *, tenant_id: str, message: dict[str, Any], fields: dict[str, Any], events: list[Envelope[Any]]
) -> bool:
    """Set fields on a message that is not deleted, storing the events beside; False if it is gone."""
    result = await database[MESSAGES].update_one(
        {"_id": message["_id"], "tenant_id": tenant_id, "deleted": False},
        {"$set": fields, "$push": outbox.push_events(events)},
    )
    return result.modified_count == 1


async def page_of_messages(
    database: Any, *, tenant_id: str, conversation_id: str, seq_filter: dict[str, int], newest_first: bool,
    limit: int,
) -> list[dict[str, Any]]:
    """Up to `limit` live messages in a seq range, from the anchor outwards."""
    cursor = database[MESSAGES].find(
        {"tenant_id": tenant_id, "conversation_id": conversation_id, "deleted": False, "seq": seq_filter},
        _NO_OUTBOX,
    ).sort("seq", DESCENDING if newest_first else ASCENDING).limit(limit)
    return await cursor.to_list(None)


async def unread_counts(
    database: Any, *, tenant_id: str, staff_id: str, markers: dict[str, int]
) -> dict[str, tuple[int, int]]:
    """Per conversation: how many live messages by others lie past the marker, and the first one's seq."""
    if not markers:
        return {}
    pipeline = [
        {"$match": {
            "tenant_id": tenant_id, "deleted": False, "author_id": {"$ne": staff_id},
            "$or": [{"conversation_id": cid, "seq": {"$gt": seq}} for cid, seq in markers.items()],
        }},
        {"$group": {"_id": "$conversation_id", "count": {"$sum": 1}, "first": {"$min": "$seq"}}},
    ]
    cursor = await database[MESSAGES].aggregate(pipeline)
    return {row["_id"]: (row["count"], row["first"]) for row in await cursor.to_list(None)}


# ---- read markers and positions ----------------------------------------------------------------------


def _marker_id(*, tenant_id: str, staff_id: str, conversation_id: str) -> str:
    return f"{tenant_id}|{staff_id}|{conversation_id}"


async def markers_of(database: Any, *, tenant_id: str, staff_id: str) -> dict[str, int]:
    """Every read marker of a staff member: conversation id -> read up to seq."""
    cursor = database[READ_STATE].find({"tenant_id": tenant_id, "staff_id": staff_id}, {"conversation_id": 1,
                                                                                          "read_up_to_seq": 1})
    return {row["conversation_id"]: row["read_up_to_seq"] for row in await cursor.to_list(None)}


async def get_marker(database: Any, *, tenant_id: str, staff_id: str, conversation_id: str) -> dict[str, Any] | None:
    """One read marker document, or None (nothing read yet)."""
    return await database[READ_STATE].find_one(
        {"_id": _marker_id(tenant_id=tenant_id, staff_id=staff_id, conversation_id=conversation_id)}, _NO_OUTBOX
    )


async def raise_marker(database: Any, *, tenant_id: str, staff_id: str, conversation_id: str, seq: int) -> None:
    """Move a marker forward to `seq` without announcing it (never backwards)."""
    await database[READ_STATE].update_one(
        {"_id": _marker_id(tenant_id=tenant_id, staff_id=staff_id, conversation_id=conversation_id)},
        {"$max": {"read_up_to_seq": seq}, "$set": {"updated_at": now()},
         "$setOnInsert": {"tenant_id": tenant_id, "staff_id": staff_id, "conversation_id": conversation_id}},
        upsert=True,
    )


async def move_marker(
    database: Any, *, tenant_id: str, staff_id: str, conversation_id: str, expected: int | None, seq: int,
    events: list[Envelope[Any]],
) -> str | None:
    """Move a marker from `expected` (None: no marker yet) to `seq` with its events; its id, or None on a race."""
    marker_id = _marker_id(tenant_id=tenant_id, staff_id=staff_id, conversation_id=conversation_id)
    collection = database[READ_STATE]
    if expected is None:
        document = {"_id": marker_id, "tenant_id": tenant_id, "staff_id": staff_id,
                    "conversation_id": conversation_id, "read_up_to_seq": seq, "updated_at": now()}
        return marker_id if await _insert_new(collection, document=document, events=events) else None
    result = await collection.update_one(
        {"_id": marker_id, "read_up_to_seq": expected},
        {"$set": {"read_up_to_seq": seq, "updated_at": now()}, "$push": outbox.push_events(events)},
    )
    return marker_id if result.modified_count == 1 else None


async def save_position(
    database: Any, *, tenant_id: str, staff_id: str, conversation_id: str, seq: int, events: list[Envelope[Any]]
) -> dict[str, Any]:
    """Remember the conversation a staff member has open and where in it."""
    return await database[POSITIONS].find_one_and_update(
        {"_id": f"{tenant_id}|{staff_id}"},
        {"$set": {"tenant_id": tenant_id, "staff_id": staff_id, "conversation_id": conversation_id, "seq": seq,
                  "updated_at": now()},
         "$push": outbox.push_events(events)},
        upsert=True,
        projection=_NO_OUTBOX,
        return_document=ReturnDocument.AFTER,
    )


async def get_position(database: Any, *, tenant_id: str, staff_id: str) -> dict[str, Any] | None:
    """Where the staff member left off, or None."""
    return await database[POSITIONS].find_one({"_id": f"{tenant_id}|{staff_id}", "tenant_id": tenant_id}, _NO_OUTBOX)


async def announce(runtime_outbox: Any, database: Any, *, collection: str, document_id: Any) -> None:
    """Publish the events stored in one document right after its write (the sweeper retries on failure)."""
    try:
        await runtime_outbox.flush(database[collection], document_id)
    except Exception:  # the broker is down: the change is stored, the sweeper publishes its events later
        log.warning("publishing right after the write failed; the sweeper will retry", exc_info=True)
