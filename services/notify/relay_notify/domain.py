"""Notify's rules, without I/O: what each event becomes on the wire, for whom, and what is remembered.

Frames are JSON objects with a `kind` (see services/notify/README.md). Frames that come from
a stored event carry its `event_id`, which a client sends back as `?since=` on reconnect;
presence and typing frames carry none (they are never replayed).
"""

import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

from relay_contracts import Envelope
from relay_contracts.chat import (
    ChatEvent,
    ChatMessageDeleted,
    ChatMessageEdited,
    ChatMessagePosted,
    ConversationCreated,
    ConversationKind,
    ConversationUpdated,
    MembershipChange,
    MembershipChanged,
    PresenceStatus,
    ReadMarkerMoved,
)
from relay_contracts.issues import (
    IssueAssigned,
    IssueAudience,
    IssueEvent,
    IssueMessageAppended,
    IssueOpened,
    IssueSnapshot,
)
from relay_notify.models import (
    AddedToChannelToast,
    Attention,
    ChatUnread,
    EventFrame,
    IssueToast,
    MessageToast,
    Unread,
    UnreadCounts,
    UnreadSnapshot,
)

TOAST_BODY_CHARS = 200
CUSTOMER_MESSAGES = "Customer Messages"
# Chat events whose audience is exactly the conversation's members (used to keep the membership cache).
MEMBERS_AUDIENCE = (ChatMessagePosted, ChatMessageEdited, ChatMessageDeleted, ConversationCreated,
                    ConversationUpdated)


# ---- events as frames ---------------------------------------------------------------------------------


def event_frame(event: Envelope[ChatEvent] | Envelope[IssueEvent]) -> EventFrame:
    """The `event` frame: the event as published (an issue's with its status label and colour), minus its audience."""
    return EventFrame(event_id=str(event.event_id), type=event.type, occurred_at=event.occurred_at.isoformat(),
                      payload=event.payload.model_dump(mode="json", exclude={"audience"}))


def issue_recipients(audience: IssueAudience) -> frozenset[str] | None:
    """Whom the issues service addressed an issue event to: None for every staff member of the tenant."""
    return None if audience.tenant_staff else frozenset(audience.staff_ids)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TOAST_BODY_CHARS else text[:TOAST_BODY_CHARS - 1] + "…"


def conversation_label(payload: ChatEvent, *, viewer: str) -> str:
    """What a toast calls a conversation: "# channel", or the other people of a private one."""
    conversation = payload.conversation
    if conversation.kind == ConversationKind.CHANNEL:
        return f"# {conversation.name}"
    others = [p.name for p in conversation.participants if p.id != viewer]
    return ", ".join(others) or conversation.name


def chat_toast(event: Envelope[ChatEvent], *, viewer: str) -> MessageToast | AddedToChannelToast | None:
    """The toast one member gets for a chat event (None if this event makes none for them)."""
    payload = event.payload
    conversation_id = payload.conversation.conversation_id
    if isinstance(payload, ChatMessagePosted):
        message = payload.message
        if message.author.id == viewer:
            return None
        mentioned = viewer in message.mentions
        where = conversation_label(payload, viewer=viewer)
        body = _clip(message.text) or ", ".join(a.get("name", "attachment") for a in message.attachments)
        title = f"{message.author.name} mentioned you" if mentioned else message.author.name
        private = payload.conversation.kind == ConversationKind.PRIVATE
        attention: Attention = "mention" if mentioned else "private_message" if private else "chat"
        return MessageToast(event_id=str(event.event_id), conversation_id=conversation_id, title=title, where=where,
                            conversation_name=where, body=body, message_id=message.message_id, seq=message.seq,
                            mention=mentioned, attention=attention,
                            open={"conversation_id": conversation_id, "seq": message.seq})
    if (isinstance(payload, MembershipChanged) and payload.member.id == viewer
            and payload.change == MembershipChange.ADDED and payload.actor.id != viewer):
        where = conversation_label(payload, viewer=viewer)
        return AddedToChannelToast(event_id=str(event.event_id), conversation_id=conversation_id,
                                   title=f"Added to {where}", where=where, conversation_name=where,
                                   body=f"{payload.actor.name} added you.", open={"conversation_id": conversation_id})
    return None


def issue_toast(event: Envelope[IssueEvent], *, viewer: str) -> IssueToast | None:
    """The toast one staff member gets for an issue event (None if none)."""
    payload = event.payload
    issue = payload.issue
    customer = customer_named(issue)
    if isinstance(payload, IssueOpened):
        title, body, mention = f"New message from {customer}", payload.text, False
    elif isinstance(payload, IssueMessageAppended):
        title, body, mention = f"{customer} wrote again", payload.text, False
    elif isinstance(payload, IssueAssigned) and issue.assignee and issue.assignee.id == viewer and (
            payload.actor is None or payload.actor.id != viewer):
        who = payload.actor.name if payload.actor else "Someone"
        title, body, mention = f"{who} assigned you {customer}'s issue", issue.summary, True
    else:
        return None
    return IssueToast(event_id=str(event.event_id), issue_id=issue.issue_id, title=title, where=CUSTOMER_MESSAGES,
                      conversation_name=CUSTOMER_MESSAGES, body=_clip(body), mention=mention,
                      attention="mention" if mention else "customer_issue", open={"issue_id": issue.issue_id})


def customer_named(issue: IssueSnapshot) -> str:
    """How a toast names an issue's customer: the label (name, phone or email), the name, never an internal id."""
    return issue.customer_label or issue.customer_name or "a customer"


# ---- bounded memories ---------------------------------------------------------------------------------


class RecentIds:
    """The last N ids seen, to handle each event once however often it arrives."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> bool:
        """Remember `key`; False if it was seen already."""
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True

    def __contains__(self, key: object) -> bool:
        return key in self._ids


class EndedSessions:
    """Sessions the gateway ended, remembered (bounded) so their tokens open no new connection here."""

    def __init__(self, capacity: int) -> None:
        self._ids = RecentIds(capacity)

    def end(self, session_ids: Iterable[str]) -> None:
        """Remember sessions that ended."""
        for session_id in session_ids:
            self._ids.add(session_id)

    def has_ended(self, session_id: str | None) -> bool:
        """Whether a token's session is one that ended."""
        return session_id is not None and session_id in self._ids


def uuid7_millis(event_id: UUID) -> int | None:
    """The Unix time in milliseconds inside a UUIDv7 (None for another version)."""
    return event_id.int >> 80 if event_id.version == 7 else None


@dataclass(slots=True)
class Buffered:
    """One event kept for catch-up: its frame text and who may see it (None: all staff of the tenant)."""

    event_id: UUID
    millis: int
    kept_at: float
    text: str
    audience: frozenset[str] | None


class CatchUpBuffer:
    """A tenant's recent events, bounded by count and age, for clients that reconnect with `since`."""

    def __init__(self, *, capacity: int, max_age_seconds: float, complete_since_millis: int) -> None:
        self.capacity = capacity
        self.max_age_seconds = max_age_seconds
        self.complete_since_millis = complete_since_millis  # every event from this time on is held
        self.entries: deque[Buffered] = deque()

    def add(self, *, event_id: UUID, text: str, audience: Iterable[str] | None, now: float) -> None:
        """Keep an event; forget the oldest beyond the bounds."""
        millis = uuid7_millis(event_id) or int(time.time() * 1000)
        self.entries.append(Buffered(event_id, millis, now, text, frozenset(audience) if audience is not None
                                     else None))
        self.trim(now=now)

    def trim(self, *, now: float) -> None:
        """Forget events beyond the count or older than the age bound."""
        while self.entries and (len(self.entries) > self.capacity
                                or now - self.entries[0].kept_at > self.max_age_seconds):
            gone = self.entries.popleft()
            self.complete_since_millis = max(self.complete_since_millis, gone.millis + 1)

    def since(self, event_id: UUID, *, staff_id: str) -> list[str] | None:
        """Frames this staff member may see that came after `event_id`; None if that is too old or unknown."""
        millis = uuid7_millis(event_id)
        if millis is None:
            return None
        position = next((i for i in range(len(self.entries) - 1, -1, -1)
                         if self.entries[i].event_id == event_id), None)
        if position is None and millis < self.complete_since_millis:
            return None
        if position is None and millis > time.time() * 1000 + 60_000:
            return None
        missed = []
        for index, entry in enumerate(self.entries):
            # After the known event, plus anything stamped later that arrived earlier (producers' clocks differ).
            later = index > position if position is not None else entry.millis > millis
            if position is not None and index < position and entry.event_id > event_id:
                later = True
            if later and (entry.audience is None or staff_id in entry.audience):
                missed.append(entry.text)
        return missed


class TypingThrottle:
    """At most one typing signal per person and conversation per interval."""

    def __init__(self, *, interval_seconds: float) -> None:
        self.interval = interval_seconds
        self._last: dict[tuple[str, str, str], float] = {}

    def allow(self, key: tuple[str, str, str], *, now: float) -> bool:
        """Whether a typing signal may go out now (and remember it if so)."""
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            return False
        self._last[key] = now
        if len(self._last) > 50_000:
            self._last = {k: t for k, t in self._last.items() if now - t < self.interval}
        return True

    def reset(self, key: tuple[str, str, str]) -> None:
        """Typing stopped: the next start goes out at once."""
        self._last.pop(key, None)


# ---- presence -----------------------------------------------------------------------------------------

_RANK = {PresenceStatus.OFFLINE: 0, PresenceStatus.AWAY: 1, PresenceStatus.ONLINE: 2}


def local_status(statuses: Iterable[str]) -> PresenceStatus:
    """One replica's view of a person from their tabs: online if any tab is active, away if all idle."""
    seen = list(statuses)
    if not seen:
        return PresenceStatus.OFFLINE
    return PresenceStatus.ONLINE if "active" in seen else PresenceStatus.AWAY


class PresenceBook:
    """Each person's status on each notify replica; their status is the best of them. Entries expire."""

    def __init__(self) -> None:
        # tenant -> staff -> replica -> (status, expires at (monotonic) or None for this replica's own)
        self._book: dict[str, dict[str, dict[str, tuple[PresenceStatus, float | None]]]] = {}

    def status(self, tenant_id: str, staff_id: str) -> PresenceStatus:
        """The person's status across replicas."""
        replicas = self._book.get(tenant_id, {}).get(staff_id, {})
        return max((s for s, _ in replicas.values()), key=_RANK.__getitem__, default=PresenceStatus.OFFLINE)

    def replica_status(self, tenant_id: str, staff_id: str, *, replica_id: str) -> PresenceStatus:
        """The person's status as one replica last told it."""
        entry = self._book.get(tenant_id, {}).get(staff_id, {}).get(replica_id)
        return entry[0] if entry else PresenceStatus.OFFLINE

    def set(self, tenant_id: str, staff_id: str, *, replica_id: str, status: PresenceStatus,
            expires_at: float | None) -> PresenceStatus | None:
        """Record one replica's view; the person's new status if it changed."""
        before = self.status(tenant_id, staff_id)
        people = self._book.setdefault(tenant_id, {})
        replicas = people.setdefault(staff_id, {})
        if status == PresenceStatus.OFFLINE:
            replicas.pop(replica_id, None)
            if not replicas:
                people.pop(staff_id, None)
        else:
            replicas[replica_id] = (status, expires_at)
        after = self.status(tenant_id, staff_id)
        return after if after != before else None

    def heartbeat(self, tenant_id: str, *, replica_id: str, statuses: dict[str, PresenceStatus],
                  expires_at: float) -> list[tuple[str, PresenceStatus]]:
        """A replica's full list for a tenant: refresh those listed, drop those it no longer lists."""
        changes = []
        listed_before = [s for s, replicas in self._book.get(tenant_id, {}).items() if replica_id in replicas]
        for staff_id in listed_before:
            if staff_id not in statuses:
                changed = self.set(tenant_id, staff_id, replica_id=replica_id, status=PresenceStatus.OFFLINE,
                                   expires_at=None)
                if changed:
                    changes.append((staff_id, changed))
        for staff_id, status in statuses.items():
            changed = self.set(tenant_id, staff_id, replica_id=replica_id, status=status, expires_at=expires_at)
            if changed:
                changes.append((staff_id, changed))
        return changes

    def expire(self, *, now: float) -> list[tuple[str, str, PresenceStatus]]:
        """Forget views not repeated in time (a replica that died); (tenant, staff, new status) changes."""
        changes = []
        for tenant_id, people in list(self._book.items()):
            for staff_id, replicas in list(people.items()):
                stale = [r for r, (_, expires) in replicas.items() if expires is not None and expires < now]
                for replica_id in stale:
                    changed = self.set(tenant_id, staff_id, replica_id=replica_id, status=PresenceStatus.OFFLINE,
                                       expires_at=None)
                    if changed:
                        changes.append((tenant_id, staff_id, changed))
            if not people:
                self._book.pop(tenant_id, None)
        return changes

    def snapshot(self, tenant_id: str) -> dict[str, str]:
        """Everyone of the tenant who is online or away."""
        return {staff_id: self.status(tenant_id, staff_id).value for staff_id in self._book.get(tenant_id, {})}


# ---- unread badges ------------------------------------------------------------------------------------


@dataclass(slots=True)
class ConversationUnread:
    """One person's read state in one conversation, as notify follows it."""

    read_up_to_seq: int = 0
    last_seq: int = 0
    unread: int = 0
    first_unread_seq: int | None = None

    def counts(self) -> UnreadCounts:
        """As the frames carry it."""
        return UnreadCounts(unread=self.unread, first_unread_seq=self.first_unread_seq,
                            read_up_to_seq=self.read_up_to_seq, last_seq=self.last_seq)


@dataclass
class UnreadProjection:
    """A connected person's unread counts: loaded once from chat, then kept current from chat events.

    Outcome of each change: the conversation ids whose counts changed, or "reload" when the
    events cannot say (a deleted message, a conversation joined with history): then notify asks
    chat again. Events that arrive while the first load is in flight are replayed after it.
    """

    staff_id: str
    loaded: bool = False
    conversations: dict[str, ConversationUnread] = field(default_factory=dict)
    pending: list[Envelope[ChatEvent]] = field(default_factory=list)
    overflowed: bool = False
    max_pending: int = 500

    @property
    def total(self) -> int:
        return sum(c.unread for c in self.conversations.values())

    def load(self, snapshot: ChatUnread) -> set[str] | str:
        """Take chat's answer to GET /api/chat/me/unread, then replay what arrived meanwhile."""
        self.conversations = {
            row.conversation_id: ConversationUnread(read_up_to_seq=row.read_up_to_seq, last_seq=row.last_seq,
                                                    unread=row.unread_count, first_unread_seq=row.first_unread_seq)
            for row in snapshot.conversations
        }
        self.loaded = True
        pending, self.pending = self.pending, []
        needs_reload, self.overflowed = self.overflowed, False
        for event in pending:
            if self.apply(event) == "reload":
                needs_reload = True
        return "reload" if needs_reload else set(self.conversations)

    def apply(self, event: Envelope[ChatEvent]) -> set[str] | str:
        """Follow one chat event addressed to this person."""
        if not self.loaded:
            if len(self.pending) >= self.max_pending:  # too much happened while loading: load again after
                self.pending.clear()
                self.overflowed = True
            self.pending.append(event)
            return set()
        payload = event.payload
        conversation_id = payload.conversation.conversation_id
        state = self.conversations.get(conversation_id)
        if isinstance(payload, ChatMessagePosted):
            message = payload.message
            if state is None:
                state = self.conversations[conversation_id] = ConversationUnread(
                    read_up_to_seq=message.seq - 1, last_seq=message.seq - 1)
                outcome: set[str] | str = "reload" if message.seq > 1 else {conversation_id}
            else:
                outcome = {conversation_id}
            if message.seq <= state.last_seq:
                return set()
            state.last_seq = message.seq
            if message.author.id == self.staff_id:  # my post moves my marker: nothing here is unread for me
                state.read_up_to_seq, state.unread, state.first_unread_seq = message.seq, 0, None
            elif message.seq > state.read_up_to_seq:
                state.unread += 1
                state.first_unread_seq = state.first_unread_seq or message.seq
            return outcome
        if isinstance(payload, ReadMarkerMoved) and payload.staff_id == self.staff_id:
            state = state or self.conversations.setdefault(conversation_id, ConversationUnread())
            if payload.read_up_to_seq < state.read_up_to_seq:
                return set()
            state.read_up_to_seq = payload.read_up_to_seq
            if payload.last_seq is not None and payload.last_seq >= state.last_seq:
                state.last_seq = payload.last_seq
                state.unread, state.first_unread_seq = payload.unread_count, payload.first_unread_seq
                return {conversation_id}
            return "reload"
        if isinstance(payload, ChatMessageDeleted):
            if state and payload.author_id != self.staff_id and state.read_up_to_seq < payload.seq <= state.last_seq:
                return "reload"
            return set()
        if isinstance(payload, ConversationCreated) and state is None:
            self.conversations[conversation_id] = ConversationUnread()
            return {conversation_id}
        if isinstance(payload, MembershipChanged) and payload.member.id == self.staff_id:
            if payload.change in (MembershipChange.LEFT, MembershipChange.REMOVED):
                if self.conversations.pop(conversation_id, None) is not None:
                    return {conversation_id}
                return set()
            return "reload"
        return set()

    def frame(self, conversation_id: str, *, event_id: str) -> Unread:
        """The `unread` frame for one conversation."""
        state = self.conversations.get(conversation_id) or ConversationUnread()
        return Unread(conversation_id=conversation_id, **state.counts().model_dump(), total=self.total,
                      event_id=event_id)

    def snapshot_frame(self) -> UnreadSnapshot:
        """The `unread_snapshot` frame: every conversation and the total."""
        return UnreadSnapshot(total=self.total,
                              conversations={cid: state.counts() for cid, state in self.conversations.items()})
