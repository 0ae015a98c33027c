"""The chat service's own database: staff directory, conversations, messages, read markers, positions.

Documents become models here and models documents (`_id` is the model's id field; empty fields are left
out), so nothing above this module sees a document. Every document and every query carries tenant_id.
A change is written with the events announcing it in one document write (relay_kit.outbox); `flows` hands
these writes to the unit of work, which publishes the events.
"""

import re
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import BaseModel
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument

from relay_chat.models import Conversation, Message, ReadingPosition, ReadMarker, StaffMember, Unread
from relay_contracts import Envelope
from relay_contracts.chat import ChatEvent
from relay_kit import outbox
from relay_kit.store import Collection, Database, Document, is_duplicate_key

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
        # only public channels hold a name for everyone: a private one's name must not reveal it to non-members
        IndexModel([("tenant_id", ASCENDING), ("name_key", ASCENDING)], unique=True,
                   name="public_channel_name_unique", partialFilterExpression={"kind": "channel", "is_private": False}),
        IndexModel([("tenant_id", ASCENDING), ("name_key", ASCENDING), ("kind", ASCENDING)], name="by_name"),
    ],
    MESSAGES: [
        IndexModel([("tenant_id", ASCENDING), ("conversation_id", ASCENDING), ("seq", ASCENDING)], unique=True,
                   name="seq_unique"),
        IndexModel([("tenant_id", ASCENDING), ("conversation_id", ASCENDING), ("author_id", ASCENDING),
                    ("client_message_id", ASCENDING)], unique=True, name="client_message_unique",
                   partialFilterExpression={"client_message_id": {"$type": "string"}}),
        # search: equality on tenant, $in on the conversations searched, anchored prefixes on the words (multikey)
        IndexModel([("tenant_id", ASCENDING), ("conversation_id", ASCENDING), ("search_terms", ASCENDING)],
                   name="search_terms"),
    ],
    READ_STATE: [
        IndexModel([("tenant_id", ASCENDING), ("staff_id", ASCENDING), ("conversation_id", ASCENDING)],
                   unique=True, name="marker_unique"),
    ],
    POSITIONS: [IndexModel([("tenant_id", ASCENDING), ("staff_id", ASCENDING)], unique=True, name="position_unique")],
}

RETIRED_INDEXES = {CONVERSATIONS: ["channel_name_unique"]}
"""Indexes of earlier versions, dropped at start (every channel name was unique, private ones too)."""

_NO_OUTBOX = {outbox.FIELD: 0}
Events = list[Envelope[ChatEvent]]
M = TypeVar("M", bound=BaseModel)


class NameTaken(Exception):
    """A change was refused by a unique index: another channel of the tenant has that name."""


def now() -> datetime:
    """The time stamped on changes."""
    return datetime.now(UTC)


# ---- documents <-> models -----------------------------------------------------------------------------


def _document(model: BaseModel, *, id_field: str) -> Document:
    """A model as stored: its id field as `_id`, fields without a value left out."""
    fields = model.model_dump(exclude_none=True)
    return {"_id": fields.pop(id_field), **fields}


def _model(cls: type[M], document: Document | None, *, id_field: str | None = None) -> M | None:
    """A stored document as its model (None stays None); `_id` becomes the id field, if the model has one."""
    if document is None:
        return None
    fields = {k: v for k, v in document.items() if k not in ("_id", outbox.FIELD)}
    if id_field:
        fields[id_field] = document["_id"]
    return cls.model_validate(fields)


def _models(cls: type[M], documents: list[Document], *, id_field: str | None = None) -> list[M]:
    return [model for document in documents if (model := _model(cls, document, id_field=id_field)) is not None]


def _changed_fields(before: BaseModel, after: BaseModel, *, id_field: str) -> Document:
    """The fields `after` sets differently from `before` (what an update writes)."""
    old, new = before.model_dump(), after.model_dump()
    return {name: value for name, value in new.items() if name != id_field and old.get(name) != value}


async def _insert_new(collection: Collection, *, document: Document, events: Events) -> bool:
    """Insert a document with the events announcing it; False if a unique index says it exists already."""
    try:
        await collection.insert_one(outbox.with_events(document, events))
    except Exception as error:
        if is_duplicate_key(error):
            return False
        raise
    return True


# ---- staff directory ---------------------------------------------------------------------------------


async def save_staff(database: Database, *, member: StaffMember) -> None:
    """Create or update a directory entry (idempotent)."""
    fields = member.model_dump()
    await database[STAFF].update_one(
        {"_id": f"{member.tenant_id}|{member.staff_id}"}, {"$set": {**fields, "updated_at": now()}}, upsert=True,
    )


async def list_staff(database: Database, *, tenant_id: str) -> list[StaffMember]:
    """Every active staff member of the tenant, by name."""
    cursor = database[STAFF].find({"tenant_id": tenant_id, "active": True}).sort("display_name", ASCENDING)
    return _models(StaffMember, await cursor.to_list(None))


async def find_staff(database: Database, *, tenant_id: str, keys: list[str]) -> list[StaffMember]:
    """Active staff whose id or username is one of `keys`."""
    if not keys:
        return []
    cursor = database[STAFF].find({
        "tenant_id": tenant_id, "active": True,
        "$or": [{"staff_id": {"$in": keys}}, {"username": {"$in": [k.lower() for k in keys]}}],
    })
    return _models(StaffMember, await cursor.to_list(None))


# ---- conversations -----------------------------------------------------------------------------------

_CONVERSATION_ID = "conversation_id"


def _conversation(document: Document | None) -> Conversation | None:
    return _model(Conversation, document, id_field=_CONVERSATION_ID)


async def insert_conversation(database: Database, *, conversation: Conversation, events: Events) -> bool:
    """Store a new conversation with its events; False if a unique rule says it exists already."""
    return await _insert_new(database[CONVERSATIONS], document=_document(conversation, id_field=_CONVERSATION_ID),
                             events=events)


async def get_conversation(database: Database, *, tenant_id: str, conversation_id: str) -> Conversation | None:
    """A conversation, or None."""
    return _conversation(await database[CONVERSATIONS].find_one(
        {"_id": conversation_id, "tenant_id": tenant_id}, _NO_OUTBOX))


async def get_default_channel(database: Database, *, tenant_id: str, default_key: str) -> Conversation | None:
    """The tenant's default channel of that kind ("general", "customer_messages"), or None."""
    return _conversation(await database[CONVERSATIONS].find_one(
        {"tenant_id": tenant_id, "default_key": default_key}, _NO_OUTBOX))


async def get_private_by_participants(database: Database, *, tenant_id: str,
                                      participants_key: str) -> Conversation | None:
    """The private conversation between exactly these people, or None."""
    return _conversation(await database[CONVERSATIONS].find_one(
        {"tenant_id": tenant_id, "kind": "private", "participants_key": participants_key}, _NO_OUTBOX))


async def get_channel_by_name(database: Database, *, tenant_id: str, name_key: str) -> Conversation | None:
    """A channel by its case-insensitive name, or None."""
    return _conversation(await database[CONVERSATIONS].find_one(
        {"tenant_id": tenant_id, "kind": "channel", "name_key": name_key}, _NO_OUTBOX))


async def channels_named(database: Database, *, tenant_id: str, name_key: str) -> list[Conversation]:
    """Every channel of the tenant with this case-insensitive name (one public one at most, private ones too)."""
    cursor = database[CONVERSATIONS].find({"tenant_id": tenant_id, "kind": "channel", "name_key": name_key},
                                          _NO_OUTBOX)
    return [conversation async for document in cursor if (conversation := _conversation(document))]


async def drop_retired_indexes(database: Database) -> None:
    """Drop the indexes earlier versions declared and this one replaced (idempotent)."""
    for collection, names in RETIRED_INDEXES.items():
        existing = await database[collection].index_information()
        for name in names:
            if name in existing:
                await database[collection].drop_index(name)


async def change_conversation(database: Database, *, before: Conversation, after: Conversation,
                              events: Events) -> Conversation | None:
    """Write `after` with its events if nobody changed the conversation since `before` was read; else None.

    Raises NameTaken when another channel of the tenant has the new name.
    """
    at = now()
    try:
        result = await database[CONVERSATIONS].update_one(
            {"_id": before.conversation_id, "tenant_id": before.tenant_id, "version": before.version},
            {"$set": {**_changed_fields(before, after, id_field=_CONVERSATION_ID), "updated_at": at},
             "$inc": {"version": 1}, "$push": outbox.push_events(events)},
        )
    except Exception as error:
        if is_duplicate_key(error):
            raise NameTaken(after.name) from error
        raise
    if result.modified_count != 1:
        return None
    return after.model_copy(update={"version": before.version + 1, "updated_at": at})


async def next_seq(database: Database, *, tenant_id: str, conversation_id: str, at: datetime) -> Conversation | None:
    """Take the next message number of a conversation (atomic counter); the conversation as it is after."""
    return _conversation(await database[CONVERSATIONS].find_one_and_update(
        {"_id": conversation_id, "tenant_id": tenant_id},
        {"$inc": {"last_seq": 1}, "$set": {"last_message_at": at}},
        projection=_NO_OUTBOX,
        return_document=ReturnDocument.AFTER,
    ))


async def conversations_of(database: Database, *, tenant_id: str, staff_id: str) -> list[Conversation]:
    """Every conversation the staff member belongs to."""
    cursor = database[CONVERSATIONS].find({"tenant_id": tenant_id, "members": staff_id}, _NO_OUTBOX)
    return _models(Conversation, await cursor.to_list(None), id_field=_CONVERSATION_ID)


async def public_channels(database: Database, *, tenant_id: str, include_archived: bool) -> list[Conversation]:
    """The tenant's public channels, by name."""
    query: Document = {"tenant_id": tenant_id, "kind": "channel", "is_private": False}
    if not include_archived:
        query["archived"] = False
    cursor = database[CONVERSATIONS].find(query, _NO_OUTBOX).sort("name_key", ASCENDING)
    return _models(Conversation, await cursor.to_list(None), id_field=_CONVERSATION_ID)


# ---- messages ----------------------------------------------------------------------------------------

_MESSAGE_ID = "message_id"


def _message(document: Document | None) -> Message | None:
    return _model(Message, document, id_field=_MESSAGE_ID)


async def insert_message(database: Database, *, message: Message, events: Events) -> bool:
    """Store a new message with its events; False if the client's id was used already."""
    return await _insert_new(database[MESSAGES], document=_document(message, id_field=_MESSAGE_ID), events=events)


async def get_message(database: Database, *, tenant_id: str, conversation_id: str, message_id: str) -> Message | None:
    """A message of a conversation (deleted or not), or None."""
    return _message(await database[MESSAGES].find_one(
        {"_id": message_id, "tenant_id": tenant_id, "conversation_id": conversation_id}, _NO_OUTBOX))


async def get_message_by_client_id(database: Database, *, tenant_id: str, conversation_id: str, author_id: str,
                                   client_message_id: str) -> Message | None:
    """A message the same client posted before under the same id (a retried post), or None."""
    return _message(await database[MESSAGES].find_one({
        "tenant_id": tenant_id, "conversation_id": conversation_id, "author_id": author_id,
        "client_message_id": client_message_id,
    }, _NO_OUTBOX))


async def change_message(database: Database, *, before: Message, after: Message, events: Events) -> Message | None:
    """Write `after` with its events over a message that is not deleted; None if it is gone."""
    result = await database[MESSAGES].update_one(
        {"_id": before.message_id, "tenant_id": before.tenant_id, "deleted": False},
        {"$set": _changed_fields(before, after, id_field=_MESSAGE_ID), "$push": outbox.push_events(events)},
    )
    return after if result.modified_count == 1 else None


async def page_of_messages(database: Database, *, tenant_id: str, conversation_id: str, above: int | None,
                           below: int | None, newest_first: bool, limit: int) -> list[Message]:
    """Up to `limit` live messages whose seq lies strictly between the bounds, from the anchor outwards."""
    bounds = {op: bound for op, bound in (("$gt", above), ("$lt", below)) if bound is not None}
    seq: Document = bounds or {"$gte": 0}
    cursor = database[MESSAGES].find(
        {"tenant_id": tenant_id, "conversation_id": conversation_id, "deleted": False, "seq": seq}, _NO_OUTBOX,
    ).sort("seq", DESCENDING if newest_first else ASCENDING).limit(limit)
    return _models(Message, await cursor.to_list(None), id_field=_MESSAGE_ID)


async def search_messages(database: Database, *, tenant_id: str, conversation_ids: list[str], prefixes: list[str],
                          limit: int) -> list[Message]:
    """Live messages of these conversations having, for every prefix, a word that starts with it; newest first.

    Anchored, case-sensitive prefix regexes over the stored (folded) words: MongoDB bounds each on the
    `search_terms` index; the stand-in matches them the same way.
    """
    if not conversation_ids or not prefixes:
        return []
    query: Document = {
        "tenant_id": tenant_id, "conversation_id": {"$in": conversation_ids}, "deleted": False,
        "$and": [{"search_terms": {"$regex": f"^{re.escape(prefix)}"}} for prefix in prefixes],
    }
    cursor = database[MESSAGES].find(query, _NO_OUTBOX).sort([("posted_at", DESCENDING), ("_id", DESCENDING)])
    return _models(Message, await cursor.limit(limit).to_list(None), id_field=_MESSAGE_ID)


async def messages_without_search_terms(database: Database, *, limit: int) -> list[Message]:
    """Messages stored before search existed (no `search_terms` yet), any tenant, up to `limit`."""
    cursor = database[MESSAGES].find({"search_terms": {"$exists": False}}, _NO_OUTBOX).limit(limit)
    return _models(Message, await cursor.to_list(None), id_field=_MESSAGE_ID)


async def set_search_terms(database: Database, *, message: Message, terms: list[str]) -> None:
    """Give a message stored before search existed its words (no event: nothing anyone sees changed)."""
    await database[MESSAGES].update_one({"_id": message.message_id, "tenant_id": message.tenant_id},
                                        {"$set": {"search_terms": terms}})


async def unread_counts(database: Database, *, tenant_id: str, staff_id: str,
                        markers: dict[str, int]) -> dict[str, Unread]:
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
    return {row["_id"]: Unread(count=row["count"], first_seq=row["first"]) for row in await cursor.to_list(None)}


# ---- read markers and positions ----------------------------------------------------------------------


def marker_id(*, tenant_id: str, staff_id: str, conversation_id: str) -> str:
    """The id of one person's read marker in one conversation."""
    return f"{tenant_id}|{staff_id}|{conversation_id}"


def position_id(*, tenant_id: str, staff_id: str) -> str:
    """The id of one person's reading position."""
    return f"{tenant_id}|{staff_id}"


async def markers_of(database: Database, *, tenant_id: str, staff_id: str) -> dict[str, int]:
    """Every read marker of a staff member: conversation id -> read up to seq."""
    cursor = database[READ_STATE].find({"tenant_id": tenant_id, "staff_id": staff_id},
                                       {"conversation_id": 1, "read_up_to_seq": 1})
    return {row["conversation_id"]: row["read_up_to_seq"] for row in await cursor.to_list(None)}


async def get_marker(database: Database, *, tenant_id: str, staff_id: str, conversation_id: str) -> ReadMarker | None:
    """One read marker, or None (nothing read yet)."""
    return _model(ReadMarker, await database[READ_STATE].find_one(
        {"_id": marker_id(tenant_id=tenant_id, staff_id=staff_id, conversation_id=conversation_id)}, _NO_OUTBOX))


async def raise_marker(database: Database, *, tenant_id: str, staff_id: str, conversation_id: str, seq: int) -> None:
    """Move a marker forward to `seq` without announcing it (never backwards)."""
    await database[READ_STATE].update_one(
        {"_id": marker_id(tenant_id=tenant_id, staff_id=staff_id, conversation_id=conversation_id)},
        {"$max": {"read_up_to_seq": seq}, "$set": {"updated_at": now()},
         "$setOnInsert": {"tenant_id": tenant_id, "staff_id": staff_id, "conversation_id": conversation_id}},
        upsert=True,
    )


async def move_marker(database: Database, *, marker: ReadMarker, expected: int | None, events: Events) -> bool:
    """Move a marker from `expected` (None: no marker yet) to `marker` with its events; False on a race."""
    document = {"_id": marker_id(tenant_id=marker.tenant_id, staff_id=marker.staff_id,
                                 conversation_id=marker.conversation_id), **marker.model_dump()}
    collection = database[READ_STATE]
    if expected is None:
        return await _insert_new(collection, document=document, events=events)
    result = await collection.update_one(
        {"_id": document["_id"], "read_up_to_seq": expected},
        {"$set": {"read_up_to_seq": marker.read_up_to_seq, "updated_at": marker.updated_at},
         "$push": outbox.push_events(events)},
    )
    return result.modified_count == 1


async def save_position(database: Database, *, position: ReadingPosition, events: Events) -> ReadingPosition:
    """Remember the conversation a staff member has open and where in it."""
    document = await database[POSITIONS].find_one_and_update(
        {"_id": position_id(tenant_id=position.tenant_id, staff_id=position.staff_id)},
        {"$set": position.model_dump(), "$push": outbox.push_events(events)},
        upsert=True,
        projection=_NO_OUTBOX,
        return_document=ReturnDocument.AFTER,
    )
    return _model(ReadingPosition, document) or position


async def get_position(database: Database, *, tenant_id: str, staff_id: str) -> ReadingPosition | None:
    """Where the staff member left off, or None."""
    return _model(ReadingPosition, await database[POSITIONS].find_one(
        {"_id": position_id(tenant_id=tenant_id, staff_id=staff_id), "tenant_id": tenant_id}, _NO_OUTBOX))
