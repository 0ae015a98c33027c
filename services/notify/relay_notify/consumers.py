"""One consumer per replica, in its own group, on chat, issue, presence and staff events, starting at the latest.

Every replica has its own group (notify-<replica id>), so every replica sees every event and
pushes to its own connections. Handlers are typed by payload family and dispatched by type through
the kit's one consumer path; a payload of any other type is never pushed. Notify only pushes: an event
it cannot decode is logged and skipped (the owning services' consumers dead-letter it), and a failed
push never fails the offset (the kit's PUSHER delivery).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from relay_contracts import Envelope, EventPayload
from relay_contracts.chat import ChatEvent, PresenceChanged, PresenceHeartbeat, TypingNotified
from relay_contracts.issues import IssueEvent
from relay_contracts.staff import StaffSessionsEnded
from relay_contracts.topics import Topic
from relay_kit.consuming import PUSHER, EventHandlers
from relay_kit.service import Runtime
from relay_notify.hub import Hub
from relay_notify.settings import NotifySettings


def group_id(settings: NotifySettings) -> str:
    """This replica's own consumer group."""
    return f"notify-{settings.replica_id}"


def handlers_for(hub: Hub) -> EventHandlers:
    """What notify does with each event family: deliver it through the hub to whom the event names."""
    deliveries: dict[type[EventPayload], Callable[[Any], None]] = {
        ChatEvent: hub.on_chat_event,
        IssueEvent: hub.on_issue_event,
        TypingNotified: hub.on_typing,
        PresenceChanged: hub.on_presence_changed,
        PresenceHeartbeat: hub.on_presence_heartbeat,
        StaffSessionsEnded: hub.on_sessions_ended,  # closes the tabs of sessions ended at the gateway
    }
    handlers = EventHandlers()
    for payload_class, deliver in deliveries.items():
        handlers.add(payload_class, _delivering(deliver))
    return handlers


def _delivering(deliver: Callable[[Any], None]) -> Callable[[Envelope[Any]], Awaitable[None]]:
    async def handle(event: Envelope[Any]) -> None:
        deliver(event)

    return handle


@dataclass(frozen=True)
class Following:
    """This replica's consumer and the topics it follows (for readiness)."""

    subscriber: Any
    topics: tuple[Topic, ...]

    async def positioned(self) -> bool:
        """Whether the consumer owns every partition of its topics and knows where it reads from."""
        consumer = getattr(self.subscriber, "consumer", None)
        if consumer is None:
            return False
        assignment = consumer.assignment()
        if len(assignment) < sum(t.partitions for t in self.topics):
            return False
        for partition in assignment:
            await consumer.position(partition)
        return True


def register(runtime: Runtime, hub: Hub, settings: NotifySettings) -> Following:
    """Subscribe this replica to every event it pushes, from the latest offset, in its own group."""
    handlers = handlers_for(hub)
    subscriber = runtime.consume(
        handlers,
        group_id=group_id(settings),
        delivery=PUSHER,
        auto_offset_reset="latest",
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=max(100, settings.consumer_session_timeout_ms // 4),
    )
    return Following(subscriber=subscriber, topics=tuple(handlers.topics))
