"""This replica's live connections and the fan-out of every event to exactly the people who may see it.

Every replica consumes every event; each pushes only to its own connections. Notify only delivers: the
audience is what the owning service put on the event (a chat event's `audience`, an issue event's
`IssueAudience`), the other members of a conversation for typing, the tenant's staff for presence.
"""

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from relay_contracts import Envelope, new_event
from relay_contracts.chat import (
    ChatEvent,
    ChatMessagePosted,
    MembershipChanged,
    PresenceChanged,
    PresenceEvent,
    PresenceHeartbeat,
    PresenceStatus,
    TypingNotified,
    TypingState,
)
from relay_contracts.issues import IssueEvent, IssueMessageAppended, IssueOpened, StaffRef
from relay_contracts.staff import StaffSessionsEnded
from relay_kit.auth import StaffPrincipal
from relay_notify import domain, metrics
from relay_notify.models import (
    CaughtUp,
    ChatUnread,
    ErrorFrame,
    Frame,
    Hello,
    Presence,
    PresenceSnapshot,
    Reload,
    Typing,
)

log = logging.getLogger(__name__)

UNREAD_RETRY_SECONDS = 5.0
LAGGING_CLOSE = 4008  # the client read too slowly; it reconnects with ?since= and catches up
SESSION_ENDED_CLOSE = 4401  # the session was ended at the gateway (signed out, deactivated, ...): sign in again

E = TypeVar("E", bound=Envelope[Any])


def once(handle: Callable[["Hub", E], None]) -> Callable[["Hub", E], None]:
    """Handle each consumed event once, whatever replica or retry it came from."""

    @functools.wraps(handle)
    def first_time_only(hub: "Hub", event: E) -> None:
        if hub.seen.add(str(event.event_id)):
            handle(hub, event)

    return first_time_only


class Socket(Protocol):
    """What the hub needs of a WebSocket."""

    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class ChatLookup(Protocol):
    """What the hub asks the chat service, with the connected user's own token."""

    async def unread(self, *, token: str) -> ChatUnread | None: ...

    async def members(self, *, token: str, conversation_id: str) -> set[str] | None: ...


class Connection:
    """One browser tab: its person, its presence, and frames waiting to be written (bounded)."""

    __slots__ = ("id", "staff", "token", "session_id", "socket", "status", "_pending", "_writer", "_limit", "closing")

    def __init__(self, *, staff: StaffPrincipal, token: str, socket: Socket, queue_limit: int,
                 session_id: str | None = None) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.staff = staff
        self.token = token
        self.session_id = session_id
        self.socket = socket
        self.status = "active"
        self._pending: deque[str] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._limit = queue_limit
        self.closing = False

    @property
    def key(self) -> tuple[str, str]:
        return self.staff.tenant_id, self.staff.staff_id

    def send(self, text: str, *, kind: str) -> None:
        """Queue a frame; a writer task drains the queue (started only when there is something to write)."""
        if self.closing:
            return
        if len(self._pending) >= self._limit:
            self.closing = True
            self._pending.clear()
            asyncio.get_running_loop().create_task(self._close(LAGGING_CLOSE, "too far behind; reconnect with since"))
            return
        self._pending.append(text)
        metrics.PUSHES.labels(kind).inc()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    def send_frame(self, frame: Frame) -> None:
        """Queue one frame."""
        self.send(frame.encode(), kind=frame.kind)

    async def _drain(self) -> None:
        while self._pending and not self.closing:
            text = self._pending.popleft()
            try:
                await self.socket.send_text(text)
            except Exception:  # the tab went away; the receive loop notices and detaches it
                self.closing = True
                self._pending.clear()

    def end(self, *, code: int, reason: str) -> None:
        """Close the tab now, saying why; nothing queued is written after."""
        self.closing = True
        self._pending.clear()
        asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.socket.close(code=code, reason=reason)

    async def flushed(self) -> None:
        """Wait until queued frames are written (used before closing)."""
        if self._writer and not self._writer.done():
            with contextlib.suppress(Exception):
                await self._writer


class Hub:
    """Connections of this replica, the catch-up buffers, presence, typing and unread projections."""

    def __init__(self, *, replica_id: str, chat: ChatLookup, announce: Callable[[Envelope[PresenceEvent]], None],
                 buffer_size: int = 1000, buffer_max_age_seconds: float = 1800.0, typing_interval: float = 3.0,
                 presence_ttl_seconds: float = 45.0, queue_limit: int = 1000,
                 members_ttl_seconds: float = 60.0) -> None:
        self.replica_id = replica_id
        self.chat = chat
        self.announce = announce
        self.buffer_size = buffer_size
        self.buffer_max_age = buffer_max_age_seconds
        self.presence_ttl = presence_ttl_seconds
        self.queue_limit = queue_limit
        self.members_ttl = members_ttl_seconds
        self.connections: dict[tuple[str, str], set[Connection]] = {}
        self.tenants: dict[str, set[str]] = {}
        self.buffers: dict[str, domain.CatchUpBuffer] = {}
        self.seen = domain.RecentIds(50_000)
        self.presence = domain.PresenceBook()
        self.typing_throttle = domain.TypingThrottle(interval_seconds=typing_interval)
        self.unread: dict[tuple[str, str], domain.UnreadProjection] = {}
        self._reloading: dict[tuple[str, str], bool] = {}
        self._members: dict[tuple[str, str], tuple[frozenset[str], float]] = {}
        self.ended_sessions = domain.EndedSessions(100_000)
        self.complete_since_millis: int | None = None  # set once the consumer is positioned: catch-up from then
        self._tasks: set[asyncio.Task[Any]] = set()

    # ---- connections ----------------------------------------------------------------------------------

    def attach(self, connection: Connection, *, since: str | None) -> None:
        """Register a tab and queue its opening frames: hello, the catch-up (or reload), presence."""
        tenant_id, staff_id = connection.key
        self.connections.setdefault(connection.key, set()).add(connection)
        self.tenants.setdefault(tenant_id, set()).add(staff_id)
        metrics.CONNECTIONS.inc()
        connection.send_frame(Hello(connection_id=connection.id, replica_id=self.replica_id, tenant_id=tenant_id,
                                    staff_id=staff_id))
        if since:
            missed = self._catch_up(tenant_id=tenant_id, staff_id=staff_id, since=since)
            if missed is None:
                connection.send_frame(Reload(reason="Too much happened since your last update; "
                                                    "reload to see everything."))
            else:
                for text in missed:
                    connection.send(text, kind="event")
                connection.send_frame(CaughtUp(replayed=len(missed)))
        connection.send_frame(PresenceSnapshot(statuses=self.presence.snapshot(tenant_id)))
        self._presence_may_have_changed(connection.staff)

    def detach(self, connection: Connection) -> None:
        """Forget a tab that closed."""
        tabs = self.connections.get(connection.key)
        if not tabs or connection not in tabs:
            return
        tabs.discard(connection)
        metrics.CONNECTIONS.dec()
        tenant_id, staff_id = connection.key
        if not tabs:
            self.connections.pop(connection.key, None)
            self.unread.pop(connection.key, None)
            people = self.tenants.get(tenant_id)
            if people is not None:
                people.discard(staff_id)
                if not people:
                    self.tenants.pop(tenant_id, None)
        self._presence_may_have_changed(connection.staff)

    def on_sessions_ended(self, event: Envelope[StaffSessionsEnded]) -> None:
        """Close this replica's tabs of sessions the gateway ended, with the reason, and refuse them from now on."""
        ended = event.payload
        self.ended_sessions.end(ended.session_ids)
        closing = [tab for tab in self.tabs_of(event.tenant_id, ended.staff_id)
                   if ended.every_session or tab.session_id in ended.session_ids]
        for tab in closing:
            tab.end(code=SESSION_ENDED_CLOSE, reason=f"session ended: {ended.reason.value}; sign in again")
        if closing:
            log.info("closed %d live connection(s) of an ended session (%s)", len(closing), ended.reason.value)

    def tabs_of(self, tenant_id: str, staff_id: str) -> set[Connection]:
        """This replica's connections of one person."""
        return self.connections.get((tenant_id, staff_id), set())

    def _catch_up(self, *, tenant_id: str, staff_id: str, since: str) -> list[str] | None:
        try:
            event_id = UUID(since)
        except ValueError:
            return None
        buffer = self.buffers.get(tenant_id)
        if buffer is None:
            if self.complete_since_millis is None:
                return None
            buffer = self._buffer(tenant_id)
        return buffer.since(event_id, staff_id=staff_id)

    def _buffer(self, tenant_id: str) -> domain.CatchUpBuffer:
        buffer = self.buffers.get(tenant_id)
        if buffer is None:
            buffer = self.buffers[tenant_id] = domain.CatchUpBuffer(
                capacity=self.buffer_size, max_age_seconds=self.buffer_max_age,
                complete_since_millis=self.complete_since_millis or int(time.time() * 1000))
        return buffer

    def trim_buffers(self) -> None:
        """Drop events past their age from every tenant's buffer (called periodically)."""
        now = time.monotonic()
        for buffer in self.buffers.values():
            buffer.trim(now=now)

    # ---- events from the topics ---------------------------------------------------------------------

    @once
    def on_presence_changed(self, event: Envelope[PresenceChanged]) -> None:
        """Another replica saw a person's status change there."""
        payload = event.payload
        if payload.replica_id == self.replica_id:
            return
        changed = self.presence.set(event.tenant_id, payload.staff.id, replica_id=payload.replica_id,
                                    status=payload.status, expires_at=time.monotonic() + payload.ttl_seconds)
        if changed:
            self._push_presence(event.tenant_id, payload.staff.id, changed)

    @once
    def on_presence_heartbeat(self, event: Envelope[PresenceHeartbeat]) -> None:
        """Another replica repeated everyone connected to it."""
        payload = event.payload
        if payload.replica_id == self.replica_id:
            return
        for staff_id, status in self.presence.heartbeat(event.tenant_id, replica_id=payload.replica_id,
                                                        statuses=payload.statuses,
                                                        expires_at=time.monotonic() + payload.ttl_seconds):
            self._push_presence(event.tenant_id, staff_id, status)

    @once
    def on_typing(self, event: Envelope[TypingNotified]) -> None:
        """Someone typing on another replica (this replica's own notices were pushed when they were made)."""
        self._push_typing(event)

    @once
    def on_chat_event(self, event: Envelope[ChatEvent]) -> None:
        """A chat event: to the staff ids in its audience, with their toast and unread badges."""
        payload = event.payload
        tenant_id = event.tenant_id
        conversation_id = payload.conversation.conversation_id
        text = domain.event_frame(event).encode()
        self._buffer(tenant_id).add(event_id=event.event_id, text=text, audience=payload.audience,
                                    now=time.monotonic())
        if isinstance(payload, domain.MEMBERS_AUDIENCE):
            self._members[(tenant_id, conversation_id)] = (frozenset(payload.audience),
                                                           time.monotonic() + self.members_ttl)
        elif isinstance(payload, MembershipChanged):
            self._members.pop((tenant_id, conversation_id), None)
        local = self.tenants.get(tenant_id)
        if not local:
            return
        pushed = False
        for staff_id in local.intersection(payload.audience):
            tabs = self.tabs_of(tenant_id, staff_id)
            toast = domain.chat_toast(event, viewer=staff_id)
            toast_text = toast.encode() if toast else None
            unread_frames = self._follow_unread(tenant_id, staff_id, event)
            for tab in tabs:
                tab.send(text, kind="event")
                if toast_text:
                    tab.send(toast_text, kind="toast")
                for frame in unread_frames:
                    tab.send(frame, kind="unread")
                pushed = True
        if pushed and isinstance(payload, ChatMessagePosted):
            metrics.CHAT_POST_TO_PUSH.observe(_seconds_since(payload.message.posted_at))

    @once
    def on_issue_event(self, event: Envelope[IssueEvent]) -> None:
        """An issue event: to the audience the issues service put on it, with their toasts."""
        tenant_id = event.tenant_id
        text = domain.event_frame(event).encode()
        audience = domain.issue_recipients(event.payload.audience)
        self._buffer(tenant_id).add(event_id=event.event_id, text=text, audience=audience, now=time.monotonic())
        local = self.tenants.get(tenant_id)
        if not local:
            return
        for staff_id in list(local if audience is None else local.intersection(audience)):
            toast = domain.issue_toast(event, viewer=staff_id)
            toast_text = toast.encode() if toast else None
            for tab in self.tabs_of(tenant_id, staff_id):
                tab.send(text, kind="event")
                if toast_text:
                    tab.send(toast_text, kind="toast")
        payload = event.payload
        if isinstance(payload, IssueOpened | IssueMessageAppended) and payload.received_at:
            metrics.WEBHOOK_TO_PUSH.observe(_seconds_since(payload.received_at))

    # ---- unread badges ----------------------------------------------------------------------------

    def _follow_unread(self, tenant_id: str, staff_id: str, event: Envelope[ChatEvent]) -> list[str]:
        projection = self.unread.get((tenant_id, staff_id))
        if projection is None:
            return []
        outcome = projection.apply(event)
        if outcome == "reload":
            self._reload_unread(tenant_id, staff_id)
            return []
        return [projection.frame(cid, event_id=str(event.event_id)).encode() for cid in outcome]

    def load_unread(self, connection: Connection) -> None:
        """Give a new tab the person's unread counts (fetched from chat once per person and replica)."""
        projection = self.unread.get(connection.key)
        if projection is not None:
            if projection.loaded:
                connection.send_frame(projection.snapshot_frame())
            return  # a load is in flight: its snapshot goes to every tab of the person
        self.unread[connection.key] = domain.UnreadProjection(staff_id=connection.staff.staff_id)
        self._spawn(self._fetch_unread(*connection.key))

    def _reload_unread(self, tenant_id: str, staff_id: str) -> None:
        key = (tenant_id, staff_id)
        if key in self._reloading:
            self._reloading[key] = True  # one more after the one in flight
            return
        self._spawn(self._fetch_unread(tenant_id, staff_id))

    async def _fetch_unread(self, tenant_id: str, staff_id: str) -> None:
        key = (tenant_id, staff_id)
        self._reloading[key] = False
        try:
            while True:
                tabs = [t for t in self.tabs_of(tenant_id, staff_id) if not t.closing]
                projection = self.unread.get(key)
                if not tabs or projection is None:
                    return
                snapshot = await self.chat.unread(token=tabs[0].token)
                projection = self.unread.get(key)
                if projection is None:
                    return
                if snapshot is None:  # chat is not answering: no badges for now, ask again later
                    self.unread.pop(key, None)
                    self._spawn(self._retry_unread(tenant_id, staff_id))
                    return
                outcome = projection.load(snapshot)
                if outcome == "reload":
                    self._reloading[key] = True
                frame = projection.snapshot_frame()
                for tab in self.tabs_of(tenant_id, staff_id):
                    tab.send_frame(frame)
                if not self._reloading.get(key):
                    return
                self._reloading[key] = False
        finally:
            self._reloading.pop(key, None)

    async def _retry_unread(self, tenant_id: str, staff_id: str) -> None:
        await asyncio.sleep(UNREAD_RETRY_SECONDS)
        key = (tenant_id, staff_id)
        if self.tabs_of(tenant_id, staff_id) and key not in self.unread:
            self.unread[key] = domain.UnreadProjection(staff_id=staff_id)
            await self._fetch_unread(tenant_id, staff_id)

    # ---- presence -----------------------------------------------------------------------------------

    def set_status(self, connection: Connection, *, active: bool) -> None:
        """A tab went idle/hidden ("away") or came back ("active")."""
        connection.status = "active" if active else "away"
        self._presence_may_have_changed(connection.staff)

    def _presence_may_have_changed(self, staff: StaffPrincipal) -> None:
        tenant_id, staff_id = staff.tenant_id, staff.staff_id
        mine = domain.local_status(t.status for t in self.tabs_of(tenant_id, staff_id))
        if self.presence.replica_status(tenant_id, staff_id, replica_id=self.replica_id) == mine:
            return
        changed = self.presence.set(tenant_id, staff_id, replica_id=self.replica_id, status=mine, expires_at=None)
        announcement = new_event(
            PresenceChanged(replica_id=self.replica_id, staff=StaffRef(id=staff_id, name=staff.name), status=mine,
                            ttl_seconds=self.presence_ttl),
            tenant_id=tenant_id, producer="notify")
        self.seen.add(str(announcement.event_id))
        self.announce(announcement)
        if changed:
            self._push_presence(tenant_id, staff_id, changed)

    def _push_presence(self, tenant_id: str, staff_id: str, status: PresenceStatus) -> None:
        frame = Presence(staff_id=staff_id, status=status).encode()
        for person in self.tenants.get(tenant_id, ()):
            for tab in self.tabs_of(tenant_id, person):
                tab.send(frame, kind="presence")

    def heartbeat(self) -> None:
        """Repeat this replica's presence per tenant, and forget other replicas' views not repeated in time."""
        for tenant_id, people in self.tenants.items():
            statuses = {s: domain.local_status(t.status for t in self.tabs_of(tenant_id, s)) for s in people}
            beat = new_event(PresenceHeartbeat(replica_id=self.replica_id, statuses=statuses,
                                               ttl_seconds=self.presence_ttl), tenant_id=tenant_id, producer="notify")
            self.seen.add(str(beat.event_id))
            self.announce(beat)
        now = time.monotonic()
        for tenant_id, staff_id, status in self.presence.expire(now=now):
            self._push_presence(tenant_id, staff_id, status)
        self.trim_buffers()
        self._members = {key: cached for key, cached in self._members.items() if cached[1] > now}

    # ---- typing -------------------------------------------------------------------------------------

    async def typing(self, connection: Connection, *, conversation_id: str, state: TypingState) -> None:
        """Tell the other members of a conversation that this person is typing (throttled)."""
        tenant_id, staff_id = connection.key
        key = (tenant_id, staff_id, conversation_id)
        if state == TypingState.START and not self.typing_throttle.allow(key, now=time.monotonic()):
            return
        if state == TypingState.STOP:
            self.typing_throttle.reset(key)
        members = await self._members_of(connection, conversation_id)
        if members is None:
            connection.send_frame(ErrorFrame(code="not_found",
                                             message=f"No conversation {conversation_id!r} that you belong to."))
            return
        notice = new_event(
            TypingNotified(replica_id=self.replica_id, conversation_id=conversation_id,
                           staff=StaffRef(id=staff_id, name=connection.staff.name), state=state,
                           audience=sorted(members - {staff_id})),
            tenant_id=tenant_id, producer="notify")
        self.seen.add(str(notice.event_id))
        self._push_typing(notice)
        self.announce(notice)

    async def _members_of(self, connection: Connection, conversation_id: str) -> frozenset[str] | None:
        tenant_id, staff_id = connection.key
        cached = self._members.get((tenant_id, conversation_id))
        if cached and cached[1] > time.monotonic() and staff_id in cached[0]:
            return cached[0]
        members = await self.chat.members(token=connection.token, conversation_id=conversation_id)
        if members is None or staff_id not in members:
            return None
        frozen = frozenset(members)
        self._members[(tenant_id, conversation_id)] = (frozen, time.monotonic() + self.members_ttl)
        return frozen

    def _push_typing(self, event: Envelope[TypingNotified]) -> None:
        payload = event.payload
        frame = Typing(conversation_id=payload.conversation_id, staff_id=payload.staff.id, name=payload.staff.name,
                       state=payload.state).encode()
        for staff_id in self.tenants.get(event.tenant_id, set()).intersection(payload.audience):
            if staff_id == payload.staff.id:
                continue
            for tab in self.tabs_of(event.tenant_id, staff_id):
                tab.send(frame, kind="typing")

    # ---- housekeeping -------------------------------------------------------------------------------

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel background fetches (at shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _seconds_since(moment: datetime) -> float:
    return max(0.0, (datetime.now(UTC) - moment).total_seconds())
