"""The rules of staff chat: who may see and do what, and the event that announces each change.

Like Zulip's `do_*` actions, every change computes its audience (the staff ids who may see
it) right next to the change and stores the event with it; the outbox publishes it after
the write. Read state is a marker per user and conversation, moved only forwards.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from uuid6 import uuid7

from relay_chat import store
from relay_contracts import new_event
from relay_contracts.chat import (
    ChatMessage,
    ChatMessageDeleted,
    ChatMessageEdited,
    ChatMessagePosted,
    ConversationCreated,
    ConversationKind,
    ConversationRef,
    ConversationUpdated,
    MembershipChange,
    MembershipChanged,
    ReadingPositionSaved,
    ReadMarkerMoved,
)
from relay_contracts.issues import StaffRef
from relay_contracts.staff import StaffAccountSaved
from relay_kit.auth import StaffPrincipal
from relay_kit.errors import BadRequest, Conflict, Forbidden, NotFound

GENERAL = "general"
CUSTOMER_MESSAGES = "customer_messages"
DEFAULT_CHANNELS = {
    GENERAL: ("general", "Everyone on the team"),
    CUSTOMER_MESSAGES: ("Customer Messages", "Customers' texts and emails: assign, take, answer and close them"),
}
CUSTOMER_ISSUES_FEED = "customer_issues"
MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9][A-Za-z0-9._-]*)")
RETRIES = 8


@dataclass(frozen=True)
class Chat:
    """What the chat actions work with: the service's database, its outbox and its limits."""

    database: Any
    outbox: Any
    max_private_group: int = 8
    max_page_size: int = 200
    producer: str = "chat"


# ---- what clients send (validated at the edge) --------------------------------------------------------


class AttachmentIn(BaseModel):
    """A file already uploaded somewhere, attached by reference."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://\S+$")
    name: str = Field(min_length=1, max_length=255)
    content_type: str = Field(default="application/octet-stream", max_length=200,
                              pattern=r"^[\w.+-]+/[\w.+-]+$")
    size: int | None = Field(default=None, ge=0)


class ChannelIn(BaseModel):
    """A new channel."""

    name: str = Field(min_length=1, max_length=80)
    topic: str = Field(default="", max_length=250)
    is_private: bool = False
    member_ids: list[str] = Field(default_factory=list, max_length=500, description="staff ids added at once")


class ChannelChange(BaseModel):
    """Rename, set the topic, archive or unarchive a channel (any of them at once)."""

    name: str | None = Field(default=None, min_length=1, max_length=80)
    topic: str | None = Field(default=None, max_length=250)
    archived: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> "ChannelChange":
        if self.name is None and self.topic is None and self.archived is None:
            raise ValueError("Say what to change: name, topic or archived.")
        return self


class MembersIn(BaseModel):
    """Staff to add to a channel."""

    staff_ids: list[str] = Field(min_length=1, max_length=200)


class PrivateIn(BaseModel):
    """The other people of a private conversation (you are in it anyway)."""

    staff_ids: list[str] = Field(min_length=1, max_length=20)


class MessageIn(BaseModel):
    """A new message."""

    text: str = Field(default="", max_length=10_000)
    reply_to: str | None = Field(default=None, max_length=100, description="message id in the same conversation")
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)
    mentions: list[str] = Field(default_factory=list, max_length=50, description="staff ids or usernames")
    client_message_id: str | None = Field(default=None, min_length=1, max_length=100,
                                          description="the client's own id: a retried post is stored once")

    @model_validator(mode="after")
    def _not_empty(self) -> "MessageIn":
        if not self.text.strip() and not self.attachments:
            raise ValueError("A message needs text or an attachment.")
        return self


class MessageEdit(BaseModel):
    """New text for my message."""

    text: str = Field(min_length=1, max_length=10_000)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("The new text is empty; delete the message instead.")
        return value


class ReadIn(BaseModel):
    """Everything up to this message number is read."""

    up_to_seq: int = Field(ge=0)


class PositionIn(BaseModel):
    """The conversation I have open and the message I am at."""

    conversation_id: str = Field(min_length=1, max_length=100)
    seq: int = Field(default=0, ge=0)


# ---- shapes sent back ---------------------------------------------------------------------------------


def conversation_ref(conversation: dict[str, Any]) -> ConversationRef:
    """How events name a conversation (enough for a toast or a sidebar entry)."""
    return ConversationRef(
        conversation_id=conversation["_id"],
        kind=ConversationKind(conversation["kind"]),
        name=conversation["name"],
        is_private=conversation["is_private"],
        topic=conversation.get("topic") or None,
        archived=conversation.get("archived", False),
        participants=[StaffRef(**p) for p in conversation.get("participant_refs", [])],
    )


def conversation_view(conversation: dict[str, Any], *, staff_id: str, marker: int | None = None,
                      unread: tuple[int, int | None] = (0, None)) -> dict[str, Any]:
    """A conversation as one staff member sees it in the sidebar, with their unread state."""
    is_member = staff_id in conversation["members"]
    return {
        "conversation_id": conversation["_id"],
        "kind": conversation["kind"],
        "name": conversation["name"],
        "topic": conversation.get("topic") or "",
        "is_private": conversation["is_private"],
        "archived": conversation.get("archived", False),
        "default": conversation.get("default_key"),
        "feed": conversation.get("feed"),
        "participants": list(conversation["members"]) if conversation["kind"] == "private" else [],
        "members_count": len(conversation["members"]),
        "is_member": is_member,
        "created_by": conversation.get("created_by"),
        "created_at": conversation.get("created_at"),
        "last_seq": conversation.get("last_seq", 0),
        "last_message_at": conversation.get("last_message_at"),
        "read_up_to_seq": marker or 0,
        "unread_count": unread[0] if is_member else 0,
        "first_unread_seq": unread[1] if is_member else None,
    }


def message_view(message: dict[str, Any]) -> dict[str, Any]:
    """A message as members see it."""
    return {
        "message_id": message["_id"],
        "conversation_id": message["conversation_id"],
        "seq": message["seq"],
        "author": message["author"],
        "text": message["text"],
        "mentions": message.get("mentions", []),
        "reply_to": message.get("reply_to"),
        "reply_to_seq": message.get("reply_to_seq"),
        "attachments": message.get("attachments", []),
        "posted_at": message["posted_at"],
        "edited_at": message.get("edited_at"),
        "deleted": message.get("deleted", False),
        "client_message_id": message.get("client_message_id"),
    }


def _chat_message(message: dict[str, Any]) -> ChatMessage:
    view = message_view(message)
    view.pop("conversation_id")
    return ChatMessage(**view)


def staff_view(staff: dict[str, Any]) -> dict[str, Any]:
    """A directory entry."""
    return {"staff_id": staff["staff_id"], "username": staff.get("username"),
            "display_name": staff.get("display_name"), "role": staff.get("role", "staff")}


def _event(chat: Chat, payload: Any, *, tenant_id: str) -> Any:
    return new_event(payload, tenant_id=tenant_id, producer=chat.producer)


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.strip().lstrip("#").split())
    if not cleaned:
        raise BadRequest("A channel name needs at least one letter or digit.")
    return cleaned


# ---- visibility ---------------------------------------------------------------------------------------


def can_see(conversation: dict[str, Any], *, staff_id: str) -> bool:
    """Members see a conversation; any staff member of the tenant sees a public channel."""
    return staff_id in conversation["members"] or (
        conversation["kind"] == ConversationKind.CHANNEL and not conversation["is_private"]
    )


async def visible_conversation(chat: Chat, *, actor: StaffPrincipal, conversation_id: str) -> dict[str, Any]:
    """A conversation the actor may see; 404 otherwise (a private one's existence is not revealed)."""
    conversation = await store.get_conversation(chat.database, tenant_id=actor.tenant_id,
                                                conversation_id=conversation_id)
    if conversation is None or not can_see(conversation, staff_id=actor.staff_id):
        raise NotFound(f"No conversation {conversation_id!r} that you can see.")
    return conversation


async def member_conversation(chat: Chat, *, actor: StaffPrincipal, conversation_id: str) -> dict[str, Any]:
    """A conversation the actor belongs to; 404 if invisible, 403 for a public channel they have not joined."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    if actor.staff_id not in conversation["members"]:
        raise Forbidden("Join this channel first.")
    return conversation


def _not_archived(conversation: dict[str, Any]) -> None:
    if conversation.get("archived"):
        raise Conflict(f"#{conversation['name']} is archived; unarchive it first.", code="archived")


def _channel_only(conversation: dict[str, Any], what: str) -> None:
    if conversation["kind"] != ConversationKind.CHANNEL:
        raise BadRequest(f"Private conversations cannot {what}; only channels can.")


# ---- staff directory and default channels -------------------------------------------------------------


async def list_staff(chat: Chat, *, actor: StaffPrincipal) -> list[dict[str, Any]]:
    """My tenant's active staff (to start a private message or mention someone)."""
    return [staff_view(s) for s in await store.list_staff(chat.database, tenant_id=actor.tenant_id)]


async def save_staff_account(chat: Chat, *, tenant_id: str, account: StaffAccountSaved) -> None:
    """Keep the directory; every active staff member belongs to the default channels (idempotent)."""
    await store.save_staff(chat.database, tenant_id=tenant_id, staff={
        "staff_id": account.staff_id, "username": account.username.lower(), "display_name": account.display_name,
        "role": account.role.value, "active": account.active,
    })
    member = StaffRef(id=account.staff_id, name=account.display_name)
    for channel in await ensure_default_channels(chat, tenant_id=tenant_id):
        if account.active:
            await _change_membership(chat, tenant_id=tenant_id, conversation_id=channel["_id"], member=member,
                                     change=MembershipChange.JOINED, actor=member)
        else:
            await _change_membership(chat, tenant_id=tenant_id, conversation_id=channel["_id"], member=member,
                                     change=MembershipChange.REMOVED, actor=StaffRef(id="relay", name="Relay"))


async def ensure_default_channels(chat: Chat, *, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's "general" and "Customer Messages" channels, created on first need."""
    channels = []
    for key, (name, topic) in DEFAULT_CHANNELS.items():
        channel = await store.get_default_channel(chat.database, tenant_id=tenant_id, default_key=key)
        if channel is None:
            document = _new_channel(tenant_id=tenant_id, name=name, topic=topic, is_private=False, members=[],
                                    created_by=None)
            document["default_key"] = key
            if key == CUSTOMER_MESSAGES:
                document["feed"] = CUSTOMER_ISSUES_FEED
            created = _event(chat, ConversationCreated(conversation=conversation_ref(document), audience=[]),
                             tenant_id=tenant_id)
            if await store.insert_conversation(chat.database, document=document, events=[created]):
                await store.announce(chat.outbox, chat.database, collection=store.CONVERSATIONS,
                                     document_id=document["_id"])
            channel = await store.get_default_channel(chat.database, tenant_id=tenant_id, default_key=key)
            if channel is None:
                raise Conflict(f"The default channel {name!r} could not be created; a channel holds its name.")
        channels.append(channel)
    return channels


def _new_channel(*, tenant_id: str, name: str, topic: str, is_private: bool, members: list[str],
                 created_by: str | None) -> dict[str, Any]:
    at = store.now()
    return {
        "_id": f"cnv_{uuid.uuid4().hex[:20]}", "tenant_id": tenant_id, "kind": ConversationKind.CHANNEL.value,
        "name": name, "name_key": name.casefold(), "topic": topic, "is_private": is_private, "archived": False,
        "members": members, "created_by": created_by, "created_at": at, "updated_at": at, "last_seq": 0,
        "last_message_at": None, "version": 0,
    }


# ---- channels -----------------------------------------------------------------------------------------


async def create_channel(chat: Chat, *, actor: StaffPrincipal, channel: ChannelIn) -> dict[str, Any]:
    """Create a public or private channel; the creator and any named staff are its first members."""
    name = _clean_name(channel.name)
    if await store.get_channel_by_name(chat.database, tenant_id=actor.tenant_id, name_key=name.casefold()):
        raise Conflict(f"A channel named {name!r} exists already; pick another name.", code="name_taken")
    others = await _known_staff(chat, tenant_id=actor.tenant_id, keys=channel.member_ids)
    members = sorted({actor.staff_id, *(s["staff_id"] for s in others)})
    document = _new_channel(tenant_id=actor.tenant_id, name=name, topic=channel.topic.strip(),
                            is_private=channel.is_private, members=members, created_by=actor.staff_id)
    created = _event(chat, ConversationCreated(conversation=conversation_ref(document), audience=members,
                                               actor=actor.ref), tenant_id=actor.tenant_id)
    if not await store.insert_conversation(chat.database, document=document, events=[created]):
        raise Conflict(f"A channel named {name!r} exists already; pick another name.", code="name_taken")
    await store.announce(chat.outbox, chat.database, collection=store.CONVERSATIONS, document_id=document["_id"])
    return document


async def change_channel(chat: Chat, *, actor: StaffPrincipal, conversation_id: str,
                         change: ChannelChange) -> dict[str, Any]:
    """Rename or (un)archive (managers or the creator) and set the topic (members); audience: its members."""
    for _ in range(RETRIES):
        conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
        _channel_only(conversation, "be renamed, archived or given a topic")
        may_manage = actor.is_manager or conversation.get("created_by") == actor.staff_id
        fields: dict[str, Any] = {}
        if change.name is not None and _clean_name(change.name) != conversation["name"]:
            if not may_manage:
                raise Forbidden("Only managers, admins or the channel's creator rename a channel.")
            name = _clean_name(change.name)
            fields.update(name=name, name_key=name.casefold())
        if change.archived is not None and change.archived != conversation.get("archived", False):
            if not may_manage:
                raise Forbidden("Only managers, admins or the channel's creator archive a channel.")
            if conversation.get("default_key"):
                raise Forbidden("The default channels cannot be archived.")
            fields["archived"] = change.archived
        if change.topic is not None and change.topic.strip() != conversation.get("topic", ""):
            if actor.staff_id not in conversation["members"] and not actor.is_manager:
                raise Forbidden("Join this channel to set its topic.")
            fields["topic"] = change.topic.strip()
        if not fields:
            return conversation
        if conversation.get("archived") and fields.get("archived", True) and set(fields) - {"archived"}:
            _not_archived(conversation)
        changed = {**conversation, **fields}
        updated = _event(chat, ConversationUpdated(conversation=conversation_ref(changed),
                                                   audience=sorted(conversation["members"]), actor=actor.ref),
                         tenant_id=actor.tenant_id)
        outcome = await store.change_conversation(chat.database, tenant_id=actor.tenant_id,
                                                  conversation=conversation, update={"$set": fields},
                                                  events=[updated])
        if outcome == "duplicate":
            raise Conflict(f"A channel named {fields.get('name')!r} exists already; pick another name.",
                           code="name_taken")
        if outcome == "changed":
            await store.announce(chat.outbox, chat.database, collection=store.CONVERSATIONS,
                                 document_id=conversation["_id"])
            return {**changed, "version": conversation.get("version", 0) + 1}
    raise Conflict("The channel changed while saving; try again.")


async def join_channel(chat: Chat, *, actor: StaffPrincipal, conversation_id: str) -> dict[str, Any]:
    """Join a public channel."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    _channel_only(conversation, "be joined")
    if conversation["is_private"] and actor.staff_id not in conversation["members"]:
        raise NotFound(f"No conversation {conversation_id!r} that you can see.")
    _not_archived(conversation)
    return await _change_membership(chat, tenant_id=actor.tenant_id, conversation_id=conversation_id,
                                    member=actor.ref, change=MembershipChange.JOINED, actor=actor.ref)


async def leave_channel(chat: Chat, *, actor: StaffPrincipal, conversation_id: str) -> dict[str, Any]:
    """Leave a channel (not a default one)."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    _channel_only(conversation, "be left")
    if conversation.get("default_key"):
        raise Forbidden(f"Everyone stays in #{conversation['name']}.")
    return await _change_membership(chat, tenant_id=actor.tenant_id, conversation_id=conversation_id,
                                    member=actor.ref, change=MembershipChange.LEFT, actor=actor.ref)


async def add_members(chat: Chat, *, actor: StaffPrincipal, conversation_id: str,
                      staff_ids: list[str]) -> dict[str, Any]:
    """Add staff to a channel (managers and admins)."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    _channel_only(conversation, "get new members")
    if not actor.is_manager:
        raise Forbidden("Only managers and admins add members to a channel.")
    _not_archived(conversation)
    for staff in await _known_staff(chat, tenant_id=actor.tenant_id, keys=staff_ids):
        conversation = await _change_membership(
            chat, tenant_id=actor.tenant_id, conversation_id=conversation_id,
            member=StaffRef(id=staff["staff_id"], name=staff["display_name"]), change=MembershipChange.ADDED,
            actor=actor.ref)
    return conversation


async def remove_member(chat: Chat, *, actor: StaffPrincipal, conversation_id: str, staff_id: str) -> dict[str, Any]:
    """Remove someone from a channel (managers and admins; not from a default channel)."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    _channel_only(conversation, "lose members")
    if not actor.is_manager:
        raise Forbidden("Only managers and admins remove members from a channel.")
    if conversation.get("default_key"):
        raise Forbidden(f"Everyone stays in #{conversation['name']}.")
    if staff_id not in conversation["members"]:
        raise NotFound(f"{staff_id!r} is not a member of #{conversation['name']}.")
    staff = await store.find_staff(chat.database, tenant_id=actor.tenant_id, keys=[staff_id])
    name = staff[0]["display_name"] if staff else staff_id
    return await _change_membership(chat, tenant_id=actor.tenant_id, conversation_id=conversation_id,
                                    member=StaffRef(id=staff_id, name=name), change=MembershipChange.REMOVED,
                                    actor=actor.ref)


async def _change_membership(chat: Chat, *, tenant_id: str, conversation_id: str, member: StaffRef,
                             change: MembershipChange, actor: StaffRef) -> dict[str, Any]:
    """Add or remove one member (no-op if already so); audience: the members, and the one who came or went."""
    joining = change in (MembershipChange.JOINED, MembershipChange.ADDED)
    for _ in range(RETRIES):
        conversation = await store.get_conversation(chat.database, tenant_id=tenant_id,
                                                    conversation_id=conversation_id)
        if conversation is None:
            raise NotFound(f"No conversation {conversation_id!r}.")
        members = list(conversation["members"])
        if joining == (member.id in members):
            return conversation
        if joining:
            # A newcomer's marker starts at the end: the channel's history is not unread for them.
            await store.raise_marker(chat.database, tenant_id=tenant_id, staff_id=member.id,
                                     conversation_id=conversation_id, seq=conversation.get("last_seq", 0))
            after = [*members, member.id]
            update = {"$addToSet": {"members": member.id}}
        else:
            after = [m for m in members if m != member.id]
            update = {"$pull": {"members": member.id}}
        audience = sorted({*members, *after})
        event = _event(chat, MembershipChanged(conversation=conversation_ref(conversation), audience=audience,
                                               member=member, change=change, actor=actor), tenant_id=tenant_id)
        outcome = await store.change_conversation(chat.database, tenant_id=tenant_id, conversation=conversation,
                                                  update=update, events=[event])
        if outcome == "changed":
            await store.announce(chat.outbox, chat.database, collection=store.CONVERSATIONS,
                                 document_id=conversation_id)
            return {**conversation, "members": after, "version": conversation.get("version", 0) + 1}
    raise Conflict("The channel changed while saving; try again.")


async def _known_staff(chat: Chat, *, tenant_id: str, keys: list[str]) -> list[dict[str, Any]]:
    """Active staff named by id or username; 400 naming anyone unknown."""
    wanted = list(dict.fromkeys(k.strip() for k in keys if k.strip()))
    found = await store.find_staff(chat.database, tenant_id=tenant_id, keys=wanted)
    known = {s["staff_id"] for s in found} | {s.get("username") for s in found}
    missing = [k for k in wanted if k not in known and k.lower() not in known]
    if missing:
        raise BadRequest(f"No active staff member {', '.join(map(repr, missing))} in this business.",
                         code="unknown_staff")
    return found


async def list_members(chat: Chat, *, actor: StaffPrincipal, conversation_id: str) -> list[dict[str, Any]]:
    """Who belongs to a conversation I can see."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    directory = {s["staff_id"]: s for s in await store.find_staff(chat.database, tenant_id=actor.tenant_id,
                                                                    keys=list(conversation["members"]))}
    return [staff_view(directory.get(m) or {"staff_id": m}) for m in conversation["members"]]


# ---- private conversations ----------------------------------------------------------------------------


async def open_private(chat: Chat, *, actor: StaffPrincipal, staff_ids: list[str]) -> tuple[dict[str, Any], bool]:
    """The private conversation with exactly these people: the existing one, or a new one (and True)."""
    others = [s for s in await _known_staff(chat, tenant_id=actor.tenant_id, keys=staff_ids)
              if s["staff_id"] != actor.staff_id]
    if not others:
        raise BadRequest("Name at least one other staff member.")
    if len(others) + 1 > chat.max_private_group:
        raise BadRequest(f"A private conversation has at most {chat.max_private_group} people; "
                         "create a private channel for more.")
    people = {actor.staff_id: actor.name, **{s["staff_id"]: s["display_name"] for s in others}}
    key = ",".join(sorted(people))
    existing = await store.get_private_by_participants(chat.database, tenant_id=actor.tenant_id,
                                                       participants_key=key)
    if existing:
        return existing, False
    at = store.now()
    members = sorted(people)
    document = {
        "_id": f"cnv_{uuid.uuid4().hex[:20]}", "tenant_id": actor.tenant_id, "kind": ConversationKind.PRIVATE.value,
        "name": ", ".join(sorted(people.values())), "topic": "", "is_private": True, "archived": False,
        "members": members, "participants_key": key,
        "participant_refs": [{"id": sid, "name": people[sid]} for sid in members],
        "created_by": actor.staff_id, "created_at": at, "updated_at": at, "last_seq": 0, "last_message_at": None,
        "version": 0,
    }
    created = _event(chat, ConversationCreated(conversation=conversation_ref(document), audience=members,
                                               actor=actor.ref), tenant_id=actor.tenant_id)
    if not await store.insert_conversation(chat.database, document=document, events=[created]):
        existing = await store.get_private_by_participants(chat.database, tenant_id=actor.tenant_id,
                                                           participants_key=key)
        if existing is None:
            raise Conflict("Starting the conversation collided with another; try again.")
        return existing, False
    await store.announce(chat.outbox, chat.database, collection=store.CONVERSATIONS, document_id=document["_id"])
    return document, True


# ---- listing ------------------------------------------------------------------------------------------


async def unread_state(chat: Chat, *, actor: StaffPrincipal, conversations: list[dict[str, Any]],
                       override: dict[str, int] | None = None) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """My markers and unread counts (count, first unread seq) in the conversations I belong to."""
    markers = await store.markers_of(chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id)
    markers.update(override or {})
    mine = {c["_id"]: markers.get(c["_id"], 0) for c in conversations if actor.staff_id in c["members"]}
    counts = await store.unread_counts(chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id,
                                       markers=mine)
    return markers, counts


async def my_conversations(chat: Chat, *, actor: StaffPrincipal, include_archived: bool) -> dict[str, Any]:
    """Channels I belong to and my private conversations, with unread counts and their total."""
    conversations = await store.conversations_of(chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id)
    markers, counts = await unread_state(chat, actor=actor, conversations=conversations)
    views = [conversation_view(c, staff_id=actor.staff_id, marker=markers.get(c["_id"]),
                               unread=counts.get(c["_id"], (0, None)))
             for c in conversations if include_archived or not c.get("archived")]
    order = {GENERAL: 0, CUSTOMER_MESSAGES: 1}
    views.sort(key=lambda v: (v["kind"] != "channel", order.get(v["default"], 2),
                              v["name"].casefold() if v["kind"] == "channel" else "",
                              -_timestamp(v["last_message_at"])))
    return {"conversations": views, "total_unread": sum(v["unread_count"] for v in views)}


def _timestamp(value: datetime | None) -> float:
    return value.timestamp() if value else 0.0


async def browse_channels(chat: Chat, *, actor: StaffPrincipal, include_archived: bool) -> list[dict[str, Any]]:
    """Every public channel of my tenant (to join), and whether I am in it."""
    channels = await store.public_channels(chat.database, tenant_id=actor.tenant_id,
                                           include_archived=include_archived)
    markers, counts = await unread_state(chat, actor=actor, conversations=channels)
    return [conversation_view(c, staff_id=actor.staff_id, marker=markers.get(c["_id"]),
                              unread=counts.get(c["_id"], (0, None))) for c in channels]


async def conversation_detail(chat: Chat, *, actor: StaffPrincipal, conversation_id: str) -> dict[str, Any]:
    """One conversation with my read state (where the "New Messages" line goes)."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    markers, counts = await unread_state(chat, actor=actor, conversations=[conversation])
    return conversation_view(conversation, staff_id=actor.staff_id, marker=markers.get(conversation_id),
                             unread=counts.get(conversation_id, (0, None)))


# ---- messages -----------------------------------------------------------------------------------------


async def resolve_mentions(chat: Chat, *, tenant_id: str, text: str, named: list[str]) -> list[str]:
    """Staff ids mentioned as @username or @staff_id in the text, or named by the client; 400 for unknown names."""
    in_text = {token.rstrip(".-_") for token in MENTION.findall(text)}
    explicit = await _known_staff(chat, tenant_id=tenant_id, keys=named) if named else []
    found = await store.find_staff(chat.database, tenant_id=tenant_id, keys=sorted(in_text)) if in_text else []
    return sorted({s["staff_id"] for s in (*explicit, *found)})


async def post_message(chat: Chat, *, actor: StaffPrincipal, conversation_id: str,
                       message: MessageIn) -> tuple[dict[str, Any], bool]:
    """Post to a conversation I belong to; audience: its members. My own marker moves past my post."""
    conversation = await member_conversation(chat, actor=actor, conversation_id=conversation_id)
    _not_archived(conversation)
    tenant_id = actor.tenant_id
    if message.client_message_id:
        earlier = await store.get_message_by_client_id(
            chat.database, tenant_id=tenant_id, conversation_id=conversation_id, author_id=actor.staff_id,
            client_message_id=message.client_message_id)
        if earlier:
            return earlier, False
    reply_to_seq = None
    if message.reply_to:
        target = await store.get_message(chat.database, tenant_id=tenant_id, conversation_id=conversation_id,
                                         message_id=message.reply_to)
        if target is None or target.get("deleted"):
            raise BadRequest(f"reply_to: no message {message.reply_to!r} in this conversation.")
        reply_to_seq = target["seq"]
    mentions = await resolve_mentions(chat, tenant_id=tenant_id, text=message.text, named=message.mentions)
    posted_at = store.now()
    numbered = await store.next_seq(chat.database, tenant_id=tenant_id, conversation_id=conversation_id,
                                    at=posted_at)
    if numbered is None:
        raise NotFound(f"No conversation {conversation_id!r} that you can see.")
    document = {
        "_id": f"msg_{uuid7().hex}", "tenant_id": tenant_id, "conversation_id": conversation_id,
        "seq": numbered["last_seq"], "author": {"id": actor.staff_id, "name": actor.name},
        "author_id": actor.staff_id, "text": message.text, "mentions": mentions, "reply_to": message.reply_to,
        "reply_to_seq": reply_to_seq, "attachments": [a.model_dump(exclude_none=True) for a in message.attachments],
        "posted_at": posted_at, "edited_at": None, "deleted": False,
    }
    if message.client_message_id:
        document["client_message_id"] = message.client_message_id
    posted = _event(chat, ChatMessagePosted(conversation=conversation_ref(numbered),
                                            audience=sorted(numbered["members"]), message=_chat_message(document)),
                    tenant_id=tenant_id)
    if not await store.insert_message(chat.database, document=document, events=[posted]):
        earlier = await store.get_message_by_client_id(
            chat.database, tenant_id=tenant_id, conversation_id=conversation_id, author_id=actor.staff_id,
            client_message_id=message.client_message_id or "")
        if earlier is None:
            raise Conflict("The message collided with another; try again.")
        return earlier, False
    await store.announce(chat.outbox, chat.database, collection=store.MESSAGES, document_id=document["_id"])
    await store.raise_marker(chat.database, tenant_id=tenant_id, staff_id=actor.staff_id,
                             conversation_id=conversation_id, seq=document["seq"])
    return document, True


async def _live_message(chat: Chat, *, actor: StaffPrincipal, conversation: dict[str, Any],
                        message_id: str) -> dict[str, Any]:
    message = await store.get_message(chat.database, tenant_id=actor.tenant_id,
                                      conversation_id=conversation["_id"], message_id=message_id)
    if message is None or message.get("deleted"):
        raise NotFound(f"No message {message_id!r} in this conversation.")
    return message


async def edit_message(chat: Chat, *, actor: StaffPrincipal, conversation_id: str, message_id: str,
                       edit: MessageEdit) -> dict[str, Any]:
    """Change the text of my own message; audience: the members."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    message = await _live_message(chat, actor=actor, conversation=conversation, message_id=message_id)
    if message["author_id"] != actor.staff_id:
        raise Forbidden("You can edit only your own messages.")
    _not_archived(conversation)
    if edit.text == message["text"]:
        return message
    mentions = await resolve_mentions(chat, tenant_id=actor.tenant_id, text=edit.text, named=[])
    fields = {"text": edit.text, "mentions": mentions, "edited_at": store.now()}
    changed = {**message, **fields}
    edited = _event(chat, ChatMessageEdited(conversation=conversation_ref(conversation),
                                            audience=sorted(conversation["members"]),
                                            message=_chat_message(changed)), tenant_id=actor.tenant_id)
    if not await store.change_message(chat.database, tenant_id=actor.tenant_id, message=message, fields=fields,
                                      events=[edited]):
        raise NotFound(f"No message {message_id!r} in this conversation.")
    await store.announce(chat.outbox, chat.database, collection=store.MESSAGES, document_id=message_id)
    return changed


async def delete_message(chat: Chat, *, actor: StaffPrincipal, conversation_id: str, message_id: str) -> None:
    """Delete my own message, or anyone's as a manager; audience: the members. Deleting twice is fine."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    message = await store.get_message(chat.database, tenant_id=actor.tenant_id, conversation_id=conversation_id,
                                      message_id=message_id)
    if message is None:
        raise NotFound(f"No message {message_id!r} in this conversation.")
    if message["author_id"] != actor.staff_id and not actor.is_manager:
        raise Forbidden("You can delete only your own messages; managers and admins can delete any.")
    if message.get("deleted"):
        return
    _not_archived(conversation)
    fields = {"deleted": True, "text": "", "attachments": [], "mentions": [], "deleted_at": store.now(),
              "deleted_by": actor.staff_id}
    deleted = _event(chat, ChatMessageDeleted(conversation=conversation_ref(conversation),
                                              audience=sorted(conversation["members"]), message_id=message_id,
                                              seq=message["seq"], actor=actor.ref, author_id=message["author_id"]),
                     tenant_id=actor.tenant_id)
    if await store.change_message(chat.database, tenant_id=actor.tenant_id, message=message, fields=fields,
                                  events=[deleted]):
        await store.announce(chat.outbox, chat.database, collection=store.MESSAGES, document_id=message_id)


async def get_message(chat: Chat, *, actor: StaffPrincipal, conversation_id: str, message_id: str) -> dict[str, Any]:
    """One live message of a conversation I can see."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    return await _live_message(chat, actor=actor, conversation=conversation, message_id=message_id)


def parse_anchor(*, before: str | None, after: int | None, around: int | None) -> tuple[str, int | None]:
    """Which way to page: ("around", seq), ("after", seq), ("before", seq) or ("latest", None)."""
    given = [name for name, value in (("before", before), ("after", after), ("around", around)) if value is not None]
    if len(given) > 1:
        raise BadRequest("Give one of before, after or around, not several.")
    if around is not None:
        return "around", around
    if after is not None:
        return "after", after
    if before is None or before == "latest":
        return "latest", None
    if not before.isdigit():
        raise BadRequest("before is a message number (seq) or 'latest'.")
    return "before", int(before)


async def list_messages(chat: Chat, *, actor: StaffPrincipal, conversation_id: str, before: str | None,
                        after: int | None, around: int | None, limit: int) -> dict[str, Any]:
    """A page of messages, oldest first, around any message or before/after one; says if more lie either way."""
    await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    limit = max(1, min(limit, chat.max_page_size))
    way, seq = parse_anchor(before=before, after=after, around=around)

    async def page(seq_filter: dict[str, int], *, newest_first: bool, count: int) -> list[dict[str, Any]]:
        return await store.page_of_messages(chat.database, tenant_id=actor.tenant_id,
                                            conversation_id=conversation_id, seq_filter=seq_filter,
                                            newest_first=newest_first, limit=count)

    older: list[dict[str, Any]] = []
    newer: list[dict[str, Any]] = []
    more_before = more_after = False
    if way in ("latest", "before"):
        older = await page({"$lt": seq} if seq is not None else {"$gte": 0}, newest_first=True, count=limit + 1)
        more_before = len(older) > limit
        older = older[:limit]
        if seq is not None:
            more_after = bool(await page({"$gte": seq}, newest_first=False, count=1))
    elif way == "after":
        newer = await page({"$gt": seq}, newest_first=False, count=limit + 1)
        more_after = len(newer) > limit
        newer = newer[:limit]
        more_before = bool(await page({"$lte": seq}, newest_first=True, count=1))
    else:
        want_before = limit // 2
        older = await page({"$lt": seq}, newest_first=True, count=want_before + 1)
        more_before = len(older) > want_before
        older = older[:want_before]
        newer = await page({"$gte": seq}, newest_first=False, count=limit - len(older) + 1)
        more_after = len(newer) > limit - len(older)
        newer = newer[:limit - len(older)]
    messages = [*reversed(older), *newer]
    return {"messages": [message_view(m) for m in messages], "has_more_before": more_before,
            "has_more_after": more_after}


# ---- read state and where I left off ------------------------------------------------------------------


async def mark_read_up_to(chat: Chat, *, actor: StaffPrincipal, conversation_id: str, up_to_seq: int) -> dict[str, Any]:
    """Move my read marker forwards (never backwards); audience of the event: me only."""
    for _ in range(RETRIES):
        conversation = await member_conversation(chat, actor=actor, conversation_id=conversation_id)
        last_seq = conversation.get("last_seq", 0)
        target = min(up_to_seq, last_seq)
        marker = await store.get_marker(chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id,
                                        conversation_id=conversation_id)
        current = marker["read_up_to_seq"] if marker else None
        if target <= (current or 0):
            return await _read_state(chat, actor=actor, conversation_id=conversation_id)
        conversations = await store.conversations_of(chat.database, tenant_id=actor.tenant_id,
                                                     staff_id=actor.staff_id)
        _, counts = await unread_state(chat, actor=actor, conversations=conversations,
                                       override={conversation_id: target})
        unread, first = counts.get(conversation_id, (0, None))
        moved = _event(chat, ReadMarkerMoved(
            conversation=conversation_ref(conversation), audience=[actor.staff_id], staff_id=actor.staff_id,
            read_up_to_seq=target, unread_count=unread, total_unread=sum(c for c, _ in counts.values()),
            last_seq=last_seq, first_unread_seq=first), tenant_id=actor.tenant_id)
        marker_id = await store.move_marker(chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id,
                                            conversation_id=conversation_id, expected=current, seq=target,
                                            events=[moved])
        if marker_id:
            await store.announce(chat.outbox, chat.database, collection=store.READ_STATE, document_id=marker_id)
            return {"conversation_id": conversation_id, "read_up_to_seq": target, "unread_count": unread,
                    "first_unread_seq": first, "last_seq": last_seq,
                    "total_unread": sum(c for c, _ in counts.values())}
    raise Conflict("The read marker moved meanwhile; try again.")


async def _read_state(chat: Chat, *, actor: StaffPrincipal, conversation_id: str) -> dict[str, Any]:
    conversations = await store.conversations_of(chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id)
    markers, counts = await unread_state(chat, actor=actor, conversations=conversations)
    conversation = next((c for c in conversations if c["_id"] == conversation_id), None)
    unread, first = counts.get(conversation_id, (0, None))
    return {"conversation_id": conversation_id, "read_up_to_seq": markers.get(conversation_id, 0),
            "unread_count": unread, "first_unread_seq": first,
            "last_seq": conversation.get("last_seq", 0) if conversation else 0,
            "total_unread": sum(c for c, _ in counts.values())}


async def unread_summary(chat: Chat, *, actor: StaffPrincipal) -> dict[str, Any]:
    """My unread state in every conversation I belong to, and the total (the badges)."""
    conversations = await store.conversations_of(chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id)
    markers, counts = await unread_state(chat, actor=actor, conversations=conversations)
    states = [{"conversation_id": c["_id"], "unread_count": counts.get(c["_id"], (0, None))[0],
               "first_unread_seq": counts.get(c["_id"], (0, None))[1], "read_up_to_seq": markers.get(c["_id"], 0),
               "last_seq": c.get("last_seq", 0)} for c in conversations]
    return {"conversations": states, "total_unread": sum(s["unread_count"] for s in states)}


async def save_position(chat: Chat, *, actor: StaffPrincipal, position: PositionIn) -> dict[str, Any]:
    """Remember the conversation I have open and where in it; audience of the event: me only."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=position.conversation_id)
    seq = min(position.seq, conversation.get("last_seq", 0))
    saved = _event(chat, ReadingPositionSaved(conversation=conversation_ref(conversation), audience=[actor.staff_id],
                                              staff_id=actor.staff_id, seq=seq), tenant_id=actor.tenant_id)
    document = await store.save_position(chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id,
                                         conversation_id=conversation["_id"], seq=seq, events=[saved])
    await store.announce(chat.outbox, chat.database, collection=store.POSITIONS, document_id=document["_id"])
    return await _position_view(chat, actor=actor, document=document, conversation=conversation)


async def get_position(chat: Chat, *, actor: StaffPrincipal) -> dict[str, Any] | None:
    """Where I left off (conversation and message), or None if nowhere I can still see."""
    document = await store.get_position(chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id)
    if document is None:
        return None
    conversation = await store.get_conversation(chat.database, tenant_id=actor.tenant_id,
                                                conversation_id=document["conversation_id"])
    if conversation is None or not can_see(conversation, staff_id=actor.staff_id):
        return None
    return await _position_view(chat, actor=actor, document=document, conversation=conversation)


async def _position_view(chat: Chat, *, actor: StaffPrincipal, document: dict[str, Any],
                         conversation: dict[str, Any]) -> dict[str, Any]:
    markers, counts = await unread_state(chat, actor=actor, conversations=[conversation])
    view = conversation_view(conversation, staff_id=actor.staff_id, marker=markers.get(conversation["_id"]),
                             unread=counts.get(conversation["_id"], (0, None)))
    return {"conversation_id": document["conversation_id"], "seq": document["seq"],
            "updated_at": document["updated_at"], "conversation": view}
