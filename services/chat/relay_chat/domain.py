"""The rules of staff chat: who may see and do what, and the event (with its audience) that announces each change.

Pure: functions of models, no I/O. Like Zulip's `do_*` actions, each rule that decides a change also
states who may see it (the event's `audience`), right next to the change; `flows` loads what a rule needs
and commits the change with its event. Read state is a marker per person and conversation, moved only
forwards.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from uuid6 import uuid7

from relay_chat.models import (
    ChannelChange,
    ChannelIn,
    Conversation,
    ConversationUnread,
    ConversationView,
    Message,
    MessageIn,
    MessagePage,
    MyConversations,
    PositionView,
    ReadingPosition,
    ReadState,
    SearchAuthor,
    SearchHit,
    SearchResults,
    StaffMember,
    Unread,
    UnreadSummary,
)
from relay_contracts.chat import (
    ChatEvent,
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
from relay_kit.errors import BadRequest, Conflict, Forbidden, NotFound
from relay_kit.principal import StaffPrincipal

GENERAL = "general"
CUSTOMER_MESSAGES = "customer_messages"
DEFAULT_CHANNELS = {
    GENERAL: ("general", "Everyone on the team"),
    CUSTOMER_MESSAGES: ("Customer Messages", "Customers' texts and emails: assign, take, answer and close them"),
}
CUSTOMER_ISSUES_FEED = "customer_issues"
MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9][A-Za-z0-9._-]*)")
RELAY = StaffRef(id="relay", name="Relay")
WORD = re.compile(r"\w+")
MAX_TERM_LENGTH = 40
MAX_TERMS_PER_MESSAGE = 500
MAX_QUERY_TERMS = 8

T = TypeVar("T")


@dataclass(frozen=True)
class Change(Generic[T]):
    """A decided change: the conversation or message as it is after, and the event announcing it."""

    after: T
    event: ChatEvent


# ---- visibility ---------------------------------------------------------------------------------------


def can_see(conversation: Conversation, *, staff_id: str) -> bool:
    """Members see a conversation; any staff member of the tenant sees a public channel."""
    return staff_id in conversation.members or (
        conversation.kind == ConversationKind.CHANNEL and not conversation.is_private
    )


def visible(conversation: Conversation | None, *, staff_id: str, conversation_id: str) -> Conversation:
    """The conversation if the staff member may see it; 404 otherwise (a private one's existence is not revealed)."""
    if conversation is None or not can_see(conversation, staff_id=staff_id):
        raise NotFound(f"No conversation {conversation_id!r} that you can see.")
    return conversation


def joined(conversation: Conversation, *, staff_id: str) -> Conversation:
    """The conversation if the staff member belongs to it; 403 for a public channel they have not joined."""
    if staff_id not in conversation.members:
        raise Forbidden("Join this channel first.")
    return conversation


def check_writable(conversation: Conversation) -> None:
    """An archived channel is read-only."""
    if conversation.archived:
        raise Conflict(f"#{conversation.name} is archived; unarchive it first.", code="archived")


def check_channel(conversation: Conversation, *, what: str) -> None:
    """Some actions exist for channels only."""
    if conversation.kind != ConversationKind.CHANNEL:
        raise BadRequest(f"Private conversations cannot {what}; only channels can.")


# ---- how a conversation is named and shown ------------------------------------------------------------


def conversation_ref(conversation: Conversation) -> ConversationRef:
    """How events name a conversation (enough for a toast or a sidebar entry)."""
    return ConversationRef(
        conversation_id=conversation.conversation_id, kind=conversation.kind, name=conversation.name,
        is_private=conversation.is_private, topic=conversation.topic or None, archived=conversation.archived,
        participants=conversation.participant_refs,
    )


def conversation_view(conversation: Conversation, *, staff_id: str, read_up_to_seq: int = 0,
                      unread: Unread = Unread()) -> ConversationView:
    """A conversation as one staff member sees it in the sidebar, with their unread state."""
    is_member = staff_id in conversation.members
    return ConversationView(
        conversation_id=conversation.conversation_id, kind=conversation.kind, name=conversation.name,
        topic=conversation.topic, is_private=conversation.is_private, archived=conversation.archived,
        default=conversation.default_key, feed=conversation.feed,
        participants=list(conversation.members) if conversation.kind == ConversationKind.PRIVATE else [],
        members_count=len(conversation.members), is_member=is_member, created_by=conversation.created_by,
        created_at=conversation.created_at, last_seq=conversation.last_seq,
        last_message_at=conversation.last_message_at, read_up_to_seq=read_up_to_seq,
        unread_count=unread.count if is_member else 0, first_unread_seq=unread.first_seq if is_member else None,
    )


def conversation_views(conversations: Iterable[Conversation], *, staff_id: str, markers: dict[str, int],
                       counts: dict[str, Unread]) -> list[ConversationView]:
    """Conversations as one staff member sees them, with their markers and unread counts."""
    return [conversation_view(c, staff_id=staff_id, read_up_to_seq=markers.get(c.conversation_id, 0),
                              unread=counts.get(c.conversation_id, Unread())) for c in conversations]


def my_conversations(conversations: list[Conversation], *, staff_id: str, markers: dict[str, int],
                     counts: dict[str, Unread], include_archived: bool) -> MyConversations:
    """My sidebar: channels first (general, Customer Messages, then by name), then private ones by latest."""
    shown = [c for c in conversations if include_archived or not c.archived]
    views = conversation_views(shown, staff_id=staff_id, markers=markers, counts=counts)
    order = {GENERAL: 0, CUSTOMER_MESSAGES: 1}
    views.sort(key=lambda v: (v.kind != ConversationKind.CHANNEL, order.get(v.default or "", 2),
                              v.name.casefold() if v.kind == ConversationKind.CHANNEL else "",
                              -(v.last_message_at.timestamp() if v.last_message_at else 0.0)))
    return MyConversations(conversations=views, total_unread=sum(v.unread_count for v in views))


def chat_message(message: Message) -> ChatMessage:
    """A message as its events carry it."""
    return ChatMessage.model_validate(message.model_dump())


# ---- the staff directory ------------------------------------------------------------------------------


def staff_member(account: StaffAccountSaved, *, tenant_id: str) -> StaffMember:
    """The directory entry an account event describes (usernames compare lower-cased)."""
    return StaffMember(tenant_id=tenant_id, staff_id=account.staff_id, username=account.username.lower(),
                       display_name=account.display_name, role=account.role, active=account.active)


def default_membership(account: StaffAccountSaved) -> tuple[StaffRef, MembershipChange, StaffRef]:
    """Every active staff member belongs to the default channels: who, how, and on whose behalf."""
    member = StaffRef(id=account.staff_id, name=account.display_name)
    if account.active:
        return member, MembershipChange.JOINED, member
    return member, MembershipChange.REMOVED, RELAY


def staff_keys(keys: Iterable[str]) -> list[str]:
    """The staff ids or usernames asked for, trimmed, each once."""
    return list(dict.fromkeys(k.strip() for k in keys if k.strip()))


def check_all_known(wanted: list[str], found: list[StaffMember]) -> list[StaffMember]:
    """The staff found for the wanted ids or usernames; 400 naming anyone unknown."""
    known = {s.staff_id for s in found} | {s.username for s in found}
    missing = [k for k in wanted if k not in known and k.lower() not in known]
    if missing:
        raise BadRequest(f"No active staff member {', '.join(map(repr, missing))} in this business.",
                         code="unknown_staff")
    return found


def mentioned_keys(text: str) -> list[str]:
    """The @username or @staff_id tokens in a text (an e-mail address is no mention)."""
    return sorted({token.rstrip(".-_") for token in MENTION.findall(text)})


def mention_ids(*staff: Iterable[StaffMember]) -> list[str]:
    """The staff ids mentioned, each once, sorted."""
    return sorted({s.staff_id for group in staff for s in group})


# ---- channels -----------------------------------------------------------------------------------------


def clean_channel_name(name: str) -> str:
    """A channel name without a leading '#' and with single spaces; 400 if nothing is left."""
    cleaned = " ".join(name.strip().lstrip("#").split())
    if not cleaned:
        raise BadRequest("A channel name needs at least one letter or digit.")
    return cleaned


def name_key(name: str) -> str:
    """Channel names are unique per tenant, compared case-insensitively."""
    return name.casefold()


def name_taken(name: str) -> Conflict:
    """The error for a channel name in use (by a channel the asker can see: a private one is never named)."""
    return Conflict(f"A channel named {name!r} exists already; pick another name.", code="name_taken")


def name_in_sight(channels: list[Conversation], *, staff_id: str, except_id: str | None = None) -> bool:
    """Whether one of these same-named channels is one the staff member can see, so the name is taken for them.

    A public channel's name is everyone's; a private channel's only its members'. A non-member may give a new
    channel the name of a private one: refusing would confirm to them that it exists.
    """
    return any(can_see(channel, staff_id=staff_id) for channel in channels if channel.conversation_id != except_id)


def _channel(*, tenant_id: str, name: str, topic: str, is_private: bool, members: list[str],
             created_by: str | None, at: datetime, default_key: str | None = None,
             feed: str | None = None) -> Conversation:
    return Conversation(
        conversation_id=f"cnv_{uuid.uuid4().hex[:20]}", tenant_id=tenant_id, kind=ConversationKind.CHANNEL,
        name=name, name_key=name_key(name), topic=topic, is_private=is_private, members=members,
        default_key=default_key, feed=feed, created_by=created_by, created_at=at, updated_at=at,
    )


def default_channel(*, tenant_id: str, key: str, at: datetime) -> Conversation:
    """A tenant's default channel ("general" or "Customer Messages", which shows the customer issues feed)."""
    name, topic = DEFAULT_CHANNELS[key]
    return _channel(tenant_id=tenant_id, name=name, topic=topic, is_private=False, members=[], created_by=None,
                    at=at, default_key=key, feed=CUSTOMER_ISSUES_FEED if key == CUSTOMER_MESSAGES else None)


def new_channel(request: ChannelIn, *, actor: StaffPrincipal, others: list[StaffMember], at: datetime) -> Conversation:
    """A channel anyone creates; the creator and the staff named are its first members."""
    return _channel(tenant_id=actor.tenant_id, name=clean_channel_name(request.name), topic=request.topic.strip(),
                    is_private=request.is_private, members=sorted({actor.staff_id, *(s.staff_id for s in others)}),
                    created_by=actor.staff_id, at=at)


def conversation_created(conversation: Conversation, *, actor: StaffRef | None) -> ConversationCreated:
    """A conversation was made; audience: its members."""
    return ConversationCreated(conversation=conversation_ref(conversation), audience=sorted(conversation.members),
                               actor=actor)


def change_channel(conversation: Conversation, *, actor: StaffPrincipal,
                   change: ChannelChange) -> Change[Conversation] | None:
    """Rename or (un)archive (managers or the creator), set the topic (members); None if nothing changes.

    Audience: the channel's members.
    """
    check_channel(conversation, what="be renamed, archived or given a topic")
    may_manage = actor.is_manager or conversation.created_by == actor.staff_id
    fields: dict[str, object] = {}
    if change.name is not None and clean_channel_name(change.name) != conversation.name:
        if not may_manage:
            raise Forbidden("Only managers, admins or the channel's creator rename a channel.")
        name = clean_channel_name(change.name)
        fields.update(name=name, name_key=name_key(name))
    if change.archived is not None and change.archived != conversation.archived:
        if not may_manage:
            raise Forbidden("Only managers, admins or the channel's creator archive a channel.")
        if conversation.default_key:
            raise Forbidden("The default channels cannot be archived.")
        fields["archived"] = change.archived
    if change.topic is not None and change.topic.strip() != conversation.topic:
        if actor.staff_id not in conversation.members and not actor.is_manager:
            raise Forbidden("Join this channel to set its topic.")
        fields["topic"] = change.topic.strip()
    if not fields:
        return None
    if conversation.archived and fields.get("archived", True) and set(fields) - {"archived"}:
        check_writable(conversation)
    after = conversation.model_copy(update=fields)
    return Change(after, ConversationUpdated(conversation=conversation_ref(after),
                                             audience=sorted(conversation.members), actor=actor.ref))


# ---- memberships --------------------------------------------------------------------------------------


def check_may_join(conversation: Conversation, *, actor: StaffPrincipal) -> None:
    """Anyone joins a public channel that is not archived."""
    check_channel(conversation, what="be joined")
    if conversation.is_private and actor.staff_id not in conversation.members:
        raise NotFound(f"No conversation {conversation.conversation_id!r} that you can see.")
    check_writable(conversation)


def check_may_leave(conversation: Conversation) -> None:
    """Anyone leaves a channel, except a default one."""
    check_channel(conversation, what="be left")
    _not_default(conversation)


def check_may_add_members(conversation: Conversation, *, actor: StaffPrincipal) -> None:
    """Managers and admins add members to a channel that is not archived."""
    check_channel(conversation, what="get new members")
    if not actor.is_manager:
        raise Forbidden("Only managers and admins add members to a channel.")
    check_writable(conversation)


def check_may_remove_member(conversation: Conversation, *, actor: StaffPrincipal, staff_id: str) -> None:
    """Managers and admins remove a member from a channel, except from a default one."""
    check_channel(conversation, what="lose members")
    if not actor.is_manager:
        raise Forbidden("Only managers and admins remove members from a channel.")
    _not_default(conversation)
    if staff_id not in conversation.members:
        raise NotFound(f"{staff_id!r} is not a member of #{conversation.name}.")


def _not_default(conversation: Conversation) -> None:
    if conversation.default_key:
        raise Forbidden(f"Everyone stays in #{conversation.name}.")


def joins(change: MembershipChange) -> bool:
    """Whether the change brings someone in."""
    return change in (MembershipChange.JOINED, MembershipChange.ADDED)


def newcomer_read_up_to(conversation: Conversation) -> int:
    """A newcomer's marker starts at the end: the channel's history is not unread for them."""
    return conversation.last_seq


def change_membership(conversation: Conversation, *, member: StaffRef, change: MembershipChange,
                      actor: StaffRef) -> Change[Conversation] | None:
    """Add or remove one member; None if they are in (or out) already.

    Audience: the members before and after, so the one who came or went hears of it too.
    """
    members = list(conversation.members)
    if joins(change) == (member.id in members):
        return None
    after = [*members, member.id] if joins(change) else [m for m in members if m != member.id]
    return Change(conversation.model_copy(update={"members": after}), MembershipChanged(
        conversation=conversation_ref(conversation), audience=sorted({*members, *after}), member=member,
        change=change, actor=actor))


# ---- private conversations ----------------------------------------------------------------------------


def new_private(*, actor: StaffPrincipal, others: list[StaffMember], max_group: int, at: datetime) -> Conversation:
    """The private conversation of the actor and the others (2 to `max_group` people), named after them."""
    others = [s for s in others if s.staff_id != actor.staff_id]
    if not others:
        raise BadRequest("Name at least one other staff member.")
    if len(others) + 1 > max_group:
        raise BadRequest(f"A private conversation has at most {max_group} people; "
                         "create a private channel for more.")
    people = {actor.staff_id: actor.name, **{s.staff_id: s.display_name for s in others}}
    members = sorted(people)
    return Conversation(
        conversation_id=f"cnv_{uuid.uuid4().hex[:20]}", tenant_id=actor.tenant_id, kind=ConversationKind.PRIVATE,
        name=", ".join(sorted(people.values())), is_private=True, members=members,
        participants_key=",".join(members), participant_refs=[StaffRef(id=sid, name=people[sid]) for sid in members],
        created_by=actor.staff_id, created_at=at, updated_at=at,
    )


# ---- messages -----------------------------------------------------------------------------------------


def reply_to_seq(target: Message | None, *, reply_to: str) -> int:
    """The number of the message replied to, which must be a live one of the same conversation."""
    if target is None or target.deleted:
        raise BadRequest(f"reply_to: no message {reply_to!r} in this conversation.")
    return target.seq


def new_message(request: MessageIn, *, numbered: Conversation, author: StaffRef, mentions: list[str],
                reply_to_seq: int | None, at: datetime) -> Message:
    """A message posted as the conversation's newest (its counter already taken)."""
    return Message(
        message_id=f"msg_{uuid7().hex}", tenant_id=numbered.tenant_id, conversation_id=numbered.conversation_id,
        seq=numbered.last_seq, author=author, author_id=author.id, text=request.text, mentions=mentions,
        reply_to=request.reply_to, reply_to_seq=reply_to_seq, attachments=request.attachments, posted_at=at,
        client_message_id=request.client_message_id, search_terms=search_terms(request.text),
    )


def message_posted(conversation: Conversation, message: Message) -> ChatMessagePosted:
    """A message was posted; audience: the members."""
    return ChatMessagePosted(conversation=conversation_ref(conversation), audience=sorted(conversation.members),
                             message=chat_message(message))


def live(message: Message | None, *, message_id: str) -> Message:
    """The message if it exists and is not deleted; 404 otherwise."""
    if message is None or message.deleted:
        raise NotFound(f"No message {message_id!r} in this conversation.")
    return message


def check_may_edit(conversation: Conversation, message: Message, *, actor: StaffPrincipal) -> None:
    """Authors edit their own messages, outside archived channels."""
    if message.author_id != actor.staff_id:
        raise Forbidden("You can edit only your own messages.")
    check_writable(conversation)


def edit_message(conversation: Conversation, message: Message, *, text: str, mentions: list[str],
                 at: datetime) -> Change[Message]:
    """New text (and its mentions) for a message; audience: the members."""
    after = message.model_copy(update={"text": text, "mentions": mentions, "edited_at": at,
                                       "search_terms": search_terms(text)})
    return Change(after, ChatMessageEdited(conversation=conversation_ref(conversation),
                                           audience=sorted(conversation.members), message=chat_message(after)))


def delete_message(conversation: Conversation, message: Message, *, actor: StaffPrincipal,
                   at: datetime) -> Change[Message] | None:
    """Authors delete their own messages, managers anyone's; None if deleted already. Audience: the members."""
    if message.author_id != actor.staff_id and not actor.is_manager:
        raise Forbidden("You can delete only your own messages; managers and admins can delete any.")
    if message.deleted:
        return None
    check_writable(conversation)
    after = message.model_copy(update={"deleted": True, "text": "", "attachments": [], "mentions": [],
                                       "search_terms": [], "deleted_at": at, "deleted_by": actor.staff_id})
    return Change(after, ChatMessageDeleted(
        conversation=conversation_ref(conversation), audience=sorted(conversation.members),
        message_id=message.message_id, seq=message.seq, actor=actor.ref, author_id=message.author_id))


# ---- search --------------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    """The words of a text, case- and accent-folded ("Crème" -> "creme"), each once, in order."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return list(dict.fromkeys(word[:MAX_TERM_LENGTH] for word in WORD.findall(plain)))


def search_terms(text: str) -> list[str]:
    """What a message is found by: its folded words, each once (stored with it, kept on every edit)."""
    return _words(text)[:MAX_TERMS_PER_MESSAGE]


def query_terms(q: str) -> list[str]:
    """The word prefixes a search asks for (all must match); 400 if the query has no letter or digit."""
    terms = _words(q)
    if not terms:
        raise BadRequest("Search for at least one letter or digit.", code="empty_search")
    if len(terms) > MAX_QUERY_TERMS:
        raise BadRequest(f"Search for at most {MAX_QUERY_TERMS} words at once.", code="too_many_words")
    return terms


def searchable(conversations: Iterable[Conversation], *, staff_id: str) -> dict[str, Conversation]:
    """The conversations a staff member's search looks in: those they belong to, private ones included."""
    return {c.conversation_id: c for c in conversations if staff_id in c.members}


def search_results(messages: Iterable[Message], *, conversations: dict[str, Conversation]) -> SearchResults:
    """The messages found, each with the conversation it is in (live messages of those conversations only)."""
    hits = []
    for message in messages:
        conversation = conversations.get(message.conversation_id)
        if conversation is None or message.deleted:
            continue
        hits.append(SearchHit(
            conversation_id=conversation.conversation_id, conversation_name=conversation.name,
            conversation_kind=conversation.kind, seq=message.seq, message_id=message.message_id,
            author=SearchAuthor(id=message.author.id, display_name=message.author.name), text=message.text,
            posted_at=message.posted_at))
    return SearchResults(results=hits)


# ---- pages of messages --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeqRange:
    """Messages to read from an anchor outwards: seq strictly between the bounds, up to `count` of them.

    `keep` is how many of them the page shows (the rest only tell whether more lie that way); None: as many
    as the page still has room for.
    """

    above: int | None = None
    below: int | None = None
    newest_first: bool = False
    count: int = 1
    keep: int | None = 0


@dataclass(frozen=True)
class PagePlan:
    """The ranges to read for one page: older (newest first) and, if any, newer (oldest first) than the anchor."""

    limit: int
    older: SeqRange
    newer: SeqRange | None


def plan_page(*, before: str | None, after: int | None, around: int | None, limit: int,
              max_page_size: int) -> PagePlan:
    """Which messages one page needs: the latest, before or after a seq, or around one (half before it)."""
    given = [name for name, value in (("before", before), ("after", after), ("around", around)) if value is not None]
    if len(given) > 1:
        raise BadRequest("Give one of before, after or around, not several.")
    limit = max(1, min(limit, max_page_size))
    if around is not None:
        return PagePlan(limit, older=SeqRange(below=around, newest_first=True, count=limit // 2 + 1, keep=limit // 2),
                        newer=SeqRange(above=around - 1, count=limit + 1, keep=None))
    if after is not None:
        return PagePlan(limit, older=SeqRange(below=after + 1, newest_first=True),
                        newer=SeqRange(above=after, count=limit + 1, keep=limit))
    if before is None or before == "latest":
        return PagePlan(limit, older=SeqRange(newest_first=True, count=limit + 1, keep=limit), newer=None)
    if not before.isdigit():
        raise BadRequest("before is a message number (seq) or 'latest'.")
    seq = int(before)
    return PagePlan(limit, older=SeqRange(below=seq, newest_first=True, count=limit + 1, keep=limit),
                    newer=SeqRange(above=seq - 1))


def assemble_page(plan: PagePlan, *, older: list[Message], newer: list[Message]) -> MessagePage:
    """The page, oldest first, from what the plan's ranges read, and whether more lie either way."""
    older_keep = plan.limit if plan.older.keep is None else plan.older.keep
    shown_older = older[:older_keep]
    room = plan.limit - len(shown_older)
    newer_keep = 0 if plan.newer is None else room if plan.newer.keep is None else plan.newer.keep
    return MessagePage(messages=[*reversed(shown_older), *newer[:newer_keep]],
                       has_more_before=len(older) > older_keep, has_more_after=len(newer) > newer_keep)


# ---- read state and where I left off ------------------------------------------------------------------


def markers_to_count(conversations: Iterable[Conversation], *, staff_id: str,
                     markers: dict[str, int]) -> dict[str, int]:
    """The markers whose unread messages count: those of conversations the staff member belongs to."""
    return {c.conversation_id: markers.get(c.conversation_id, 0) for c in conversations if staff_id in c.members}


def total_unread(counts: dict[str, Unread]) -> int:
    """The badge total."""
    return sum(u.count for u in counts.values())


def read_target(conversation: Conversation, *, up_to_seq: int) -> int:
    """Where a read marker may go: never past the last message."""
    return min(up_to_seq, conversation.last_seq)


def read_state(conversation: Conversation | None, *, conversation_id: str, markers: dict[str, int],
               counts: dict[str, Unread]) -> ReadState:
    """My read state in one conversation, and my total."""
    unread = counts.get(conversation_id, Unread())
    return ReadState(conversation_id=conversation_id, read_up_to_seq=markers.get(conversation_id, 0),
                     unread_count=unread.count, first_unread_seq=unread.first_seq,
                     last_seq=conversation.last_seq if conversation else 0, total_unread=total_unread(counts))


def marker_moved(conversation: Conversation, *, staff_id: str, state: ReadState) -> ReadMarkerMoved:
    """My marker moved; audience: me only."""
    return ReadMarkerMoved(
        conversation=conversation_ref(conversation), audience=[staff_id], staff_id=staff_id,
        read_up_to_seq=state.read_up_to_seq, unread_count=state.unread_count, total_unread=state.total_unread,
        last_seq=state.last_seq, first_unread_seq=state.first_unread_seq)


def unread_summary(conversations: list[Conversation], *, markers: dict[str, int],
                   counts: dict[str, Unread]) -> UnreadSummary:
    """My unread state in every conversation I belong to, and the total (the badges)."""
    states = [ConversationUnread(
        conversation_id=c.conversation_id, unread_count=counts.get(c.conversation_id, Unread()).count,
        first_unread_seq=counts.get(c.conversation_id, Unread()).first_seq,
        read_up_to_seq=markers.get(c.conversation_id, 0), last_seq=c.last_seq) for c in conversations]
    return UnreadSummary(conversations=states, total_unread=sum(s.unread_count for s in states))


def position_seq(conversation: Conversation, *, seq: int) -> int:
    """Where a reading position may be: never past the last message."""
    return min(seq, conversation.last_seq)


def position_saved(conversation: Conversation, *, staff_id: str, seq: int) -> ReadingPositionSaved:
    """My reading position was saved; audience: me only."""
    return ReadingPositionSaved(conversation=conversation_ref(conversation), audience=[staff_id], staff_id=staff_id,
                                seq=seq)


def position_view(position: ReadingPosition, *, conversation: Conversation, markers: dict[str, int],
                  counts: dict[str, Unread]) -> PositionView:
    """Where I left off, with the conversation as I see it."""
    [view] = conversation_views([conversation], staff_id=position.staff_id, markers=markers, counts=counts)
    return PositionView(conversation_id=position.conversation_id, seq=position.seq, updated_at=position.updated_at,
                        conversation=view)


NOWHERE = PositionView(conversation_id=None, seq=None)
"""The position of someone who has left off nowhere they can still see."""
