"""One consumer per replica, in its own group, on chat, issue and presence events, starting at the latest.

Every replica has its own group (notify-<replica id>), so every replica sees every event and
pushes to its own connections. Notify only pushes: an event it cannot decode is logged and
skipped here (the owning services' consumers dead-letter it), and a push never fails the offset.
"""

import logging
import time
from datetime import UTC, datetime
from typing import Any

from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage

from relay_contracts import InvalidEvent, parse_event
from relay_contracts.topics import CHAT_EVENTS, ISSUE_EVENTS, PRESENCE_EVENTS, Topic
from relay_kit import metrics
from relay_kit.service import Runtime
from relay_notify.hub import Hub
from relay_notify.settings import NotifySettings

log = logging.getLogger(__name__)

TOPICS: tuple[Topic, ...] = (CHAT_EVENTS, ISSUE_EVENTS, PRESENCE_EVENTS)


def group_id(settings: NotifySettings) -> str:
    """This replica's own consumer group."""
    return f"notify-{settings.replica_id}"


def register(runtime: Runtime, hub: Hub, settings: NotifySettings) -> Any:
    """Subscribe this replica to every event it pushes; returns the subscriber (for readiness)."""

    async def raw_body(message: Any) -> bytes:
        return message.body

    subscriber = runtime.broker.subscriber(
        *(t.name for t in TOPICS),
        group_id=group_id(settings),
        auto_offset_reset="latest",
        ack_policy=AckPolicy.ACK_FIRST,
        decoder=raw_body,
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=max(100, settings.consumer_session_timeout_ms // 4),
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        title=f"notify:{group_id(settings)}",
    )

    @subscriber
    async def on_event(body: bytes, message: KafkaMessage) -> None:
        topic = message.raw_message.topic
        try:
            event = parse_event(body)
        except InvalidEvent as error:
            log.warning("skipping an invalid event on %s: %s", topic, error, extra={"topic": topic})
            return
        started = time.perf_counter()
        metrics.EVENT_AGE.labels("notify", topic).observe(
            max(0.0, (datetime.now(UTC) - event.occurred_at).total_seconds()))
        try:
            hub.on_event(event)
        except Exception:
            metrics.EVENTS_FAILED.labels("notify", topic).inc()
            log.exception("pushing %s failed", event.type)
            return
        finally:
            metrics.HANDLER_LATENCY.labels("notify", topic).observe(time.perf_counter() - started)
        metrics.EVENTS_CONSUMED.labels("notify", topic, event.type).inc()

    return subscriber


async def positioned(subscriber: Any) -> bool:
    """Whether the consumer owns every partition of its topics and knows where it reads from."""
    consumer = getattr(subscriber, "consumer", None)
    if consumer is None:
        return False
    assignment = consumer.assignment()
    if len(assignment) < sum(t.partitions for t in TOPICS):
        return False
    for partition in assignment:
        await consumer.position(partition)
    return True
