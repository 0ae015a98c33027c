"""The one way a service consumes topics: handlers typed by payload class, dispatched by type.

A service declares its handlers with `EventHandlers.on(PayloadClass)`; the topics it consumes follow from
the payload classes. Each event reaches only the handler registered for its payload's class (or, where a
service handles a whole family, its nearest registered base class): a handler for `IssueAssigned` never
sees a `ChatMessagePosted`. Decoding, dead-lettering, metrics, log context and commit-after-handler live
here and nowhere else.

Consumers recover on their own: after a group-membership error (a broker restart loses the group) aiokafka
rejoins and the group goes on from its committed offsets. On every assignment a rebalance listener checks what
a restarted or wiped broker can get wrong: a subscribed topic that no longer exists is re-created, and a
committed offset past the end of its partition (the topic was re-created empty) is reported loudly and the
partition re-read from its start, instead of waiting forever for offsets that will never come. A handler that
fails `max_attempts` times in a row on the same event sets it aside on the topic's dead-letter topic, with the
reason, so the events behind it go on.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream import AckPolicy
from prometheus_client import Counter
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from relay_contracts import Envelope, EventPayload, InvalidEvent, parse_event
from relay_contracts.topics import Topic
from relay_kit import metrics
from relay_kit.logs import correlation_id_var, event_id_var, tenant_id_var

log = logging.getLogger(__name__)

P = TypeVar("P", bound=EventPayload)
Handler = Callable[[Envelope[Any]], Awaitable[None]]
RETRY_BACKOFF_SECONDS = 0.5
DEFAULT_MAX_ATTEMPTS = 5
RECOVERY_PROBE_TIMEOUT_SECONDS = 10.0

EVENTS_SET_ASIDE = Counter(
    "relay_events_set_aside_total",
    "Events sent to a dead-letter topic, by reason (invalid: cannot be decoded; failed: the handler failed on it "
    "max_attempts times in a row)",
    ["service", "topic", "reason"],
)
CONSUMER_RECOVERIES = Counter(
    "relay_consumer_recoveries_total",
    "Times a consumer found its broker state wrong and repaired it (offset_past_end: committed offset beyond the "
    "partition's end, re-read from its start; topic_missing: a subscribed topic was re-created)",
    ["service", "group", "topic", "reason"],
)


class EventHandlers:
    """A service's handlers, one per payload class; the topics to consume follow from those classes."""

    def __init__(self) -> None:
        self._by_class: dict[type[EventPayload], Handler] = {}

    def on(self, *payload_classes: type[EventPayload]) -> Callable[[Handler], Handler]:
        """Decorator: `handler` receives events whose payload is one of these classes (or a subclass)."""

        def register(handler: Handler) -> Handler:
            for payload_class in payload_classes:
                self.add(payload_class, handler)
            return handler

        return register

    def add(self, payload_class: type[EventPayload], handler: Handler) -> None:
        """Register `handler` for one payload class; a class has at most one handler."""
        if payload_class in self._by_class:
            raise ValueError(f"{payload_class.__name__} already has a handler")
        if not isinstance(getattr(payload_class, "topic", None), Topic):
            raise ValueError(f"{payload_class.__name__} names no topic; register its concrete event classes")
        self._by_class[payload_class] = handler

    @property
    def topics(self) -> list[Topic]:
        """Every topic a registered payload class is published on, in registration order, once each."""
        seen: dict[str, Topic] = {}
        for payload_class in self._by_class:
            seen.setdefault(payload_class.topic.name, payload_class.topic)
        return list(seen.values())

    @property
    def payload_classes(self) -> list[type[EventPayload]]:
        """The registered payload classes."""
        return list(self._by_class)

    def handler_for(self, payload: EventPayload) -> Handler | None:
        """The handler of this payload's class, or of its nearest registered base class; None if there is none."""
        for cls in type(payload).__mro__:
            handler = self._by_class.get(cls)
            if handler is not None:
                return handler
        return None


@dataclass(frozen=True)
class Delivery:
    """How a consumer treats what it cannot decode and what its handler fails on.

    The owner of a topic's effects dead-letters invalid events and lets a failed event be redelivered
    (its offset is committed only after the handler). A pusher (notify) that must never stall skips both.
    """

    dead_letter_invalid: bool = True
    redeliver_failures: bool = True


OWNER = Delivery()
PUSHER = Delivery(dead_letter_invalid=False, redeliver_failures=False)


def consume(
    broker: KafkaBroker,
    handlers: EventHandlers,
    *,
    service: str,
    group_id: str,
    delivery: Delivery = OWNER,
    topics: Iterable[Topic] | None = None,
    auto_offset_reset: str = "earliest",
    fetch_max_wait_ms: int = 500,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    **consumer_options: Any,
) -> Any:
    """Subscribe one consumer of the group to the handlers' topics (one join); returns the subscriber.

    `topics` overrides the topics that follow from the handlers' payload classes (a test topic).
    `max_attempts`: how many times in a row a handler may fail on one event before it is set aside (an owner's
    consumer; a pusher skips a failed event at once).
    """
    by_name = {topic.name: topic for topic in (handlers.topics if topics is None else topics)}
    if not by_name:
        raise ValueError("no handlers registered: nothing to consume")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    failures: dict[tuple[str, int, int], int] = {}  # (topic, partition, offset) -> failed attempts so far
    listener = RecoveringListener(service=service, group_id=group_id, topics=list(by_name.values()))

    async def raw_body(message: Any) -> bytes:
        return message.body

    subscriber = broker.subscriber(
        *by_name,
        group_id=group_id,
        auto_offset_reset=auto_offset_reset,
        ack_policy=AckPolicy.NACK_ON_ERROR if delivery.redeliver_failures else AckPolicy.ACK_FIRST,
        fetch_max_wait_ms=fetch_max_wait_ms,
        decoder=raw_body,
        title=f"{service}:{group_id}",
        description="Handles " + ", ".join(c.__name__ for c in handlers.payload_classes),
        listener=listener,
        **consumer_options,
    )
    listener.subscriber = subscriber

    @subscriber
    async def on_message(body: bytes, message: KafkaMessage) -> None:
        topic = by_name[message.raw_message.topic]
        try:
            event = parse_event(body)
        except InvalidEvent as error:
            if delivery.dead_letter_invalid:
                await _dead_letter(broker, topic, message, reason=str(error), service=service, group_id=group_id)
            else:
                log.warning("skipping an invalid event on %s: %s", topic.name, error, extra={"topic": topic.name})
            return
        handler = handlers.handler_for(event.payload)
        if handler is None:
            return  # another service's concern on a shared topic
        raw = message.raw_message
        where = (raw.topic, raw.partition, raw.offset)
        try:
            await _handle(event, handler, topic=topic, service=service, delivery=delivery)
        except Exception as error:
            attempts = failures.get(where, 0) + 1
            if attempts < max_attempts:
                failures[where] = attempts
                raise  # redelivered: the offset is not committed
            failures.pop(where, None)
            reason = f"handler failed {attempts} times in a row: {type(error).__name__}: {error}"
            log.error("setting %s aside after %s failed attempts; the events behind it go on", event.type, attempts,
                      extra={"topic": topic.name})
            await _dead_letter(broker, topic, message, reason=reason, service=service, group_id=group_id,
                               kind="failed")
            return
        failures.pop(where, None)

    return subscriber


async def _handle(event: Envelope[Any], handler: Handler, *, topic: Topic, service: str, delivery: Delivery) -> None:
    tokens = (
        tenant_id_var.set(event.tenant_id),
        event_id_var.set(str(event.event_id)),
        correlation_id_var.set(event.correlation_id),
    )
    started = time.perf_counter()
    try:
        metrics.EVENT_AGE.labels(service, topic.name).observe(
            max(0.0, (datetime.now(UTC) - event.occurred_at).total_seconds())
        )
        await handler(event)
    except Exception:
        metrics.EVENTS_FAILED.labels(service, topic.name).inc()
        if not delivery.redeliver_failures:
            log.exception("handling %s failed; skipped", event.type)
            return
        log.exception("handling %s failed; it will be redelivered", event.type)
        await asyncio.sleep(RETRY_BACKOFF_SECONDS)
        raise
    finally:
        metrics.HANDLER_LATENCY.labels(service, topic.name).observe(time.perf_counter() - started)
        for var, token in zip((tenant_id_var, event_id_var, correlation_id_var), tokens, strict=True):
            var.reset(token)
    metrics.EVENTS_CONSUMED.labels(service, topic.name, event.type).inc()


async def _dead_letter(
    broker: KafkaBroker, topic: Topic, message: Any, *, reason: str, service: str, group_id: str,
    kind: str = "invalid",
) -> None:
    raw = message.raw_message
    log.warning("dead-lettering an event (%s) from %s: %s", kind, topic.name, reason, extra={"topic": topic.name})
    await broker.publish(
        message.body,
        topic=topic.dead_letter,
        key=raw.key,
        headers={
            "dead-letter-reason": reason[:1000],
            "source-topic": topic.name,
            "source-partition": str(raw.partition),
            "source-offset": str(raw.offset),
            "consumer-group": group_id,
            "dead-letter-kind": kind,
        },
    )
    metrics.EVENTS_DEAD_LETTERED.labels(service, topic.name).inc()
    EVENTS_SET_ASIDE.labels(service, topic.name, kind).inc()


class RecoveringListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka's rebalance hook: on each assignment, repair what a restarted or wiped broker left wrong.

    - a subscribed topic the broker no longer knows is re-created (aiokafka then rebalances onto it);
    - a partition whose committed offset is past its end (the topic was re-created, or the broker lost its
      data but not the group's offsets) is reported and re-read from its start. Without this the consumer
      would wait, silently, for offsets that will never exist.
    """

    def __init__(self, *, service: str, group_id: str, topics: list[Topic]) -> None:
        self.service = service
        self.group_id = group_id
        self.topics = topics
        self.subscriber: Any = None

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = getattr(self.subscriber, "consumer", None)
        if consumer is None:
            return
        try:
            await asyncio.wait_for(self._recreate_missing_topics(consumer), RECOVERY_PROBE_TIMEOUT_SECONDS)
            if assigned:
                await asyncio.wait_for(self._reseek_past_end(consumer, assigned), RECOVERY_PROBE_TIMEOUT_SECONDS)
        except Exception:  # never fail the join: the next rebalance checks again
            log.warning("checking the assignment of group %s failed", self.group_id, exc_info=True)

    async def _recreate_missing_topics(self, consumer: Any) -> None:
        from relay_kit.kafka import ensure_topics

        client = consumer._client
        await client.force_metadata_update()
        missing = [t for t in self.topics if client.cluster.partitions_for_topic(t.name) is None]
        for topic in self.topics:
            partitions = client.cluster.partitions_for_topic(topic.name)
            if partitions is not None and len(partitions) != topic.partitions:
                log.warning("RECOVERY: topic %s consumed by group %s has %s partitions, not %s (re-created by a "
                            "client after a broker restart?): every partition is read, but per-key order across "
                            "the change is not kept", topic.name, self.group_id, len(partitions), topic.partitions,
                            extra={"topic": topic.name})
                CONSUMER_RECOVERIES.labels(self.service, self.group_id, topic.name, "partitions_changed").inc()
        if not missing:
            return
        for topic in missing:
            log.warning("RECOVERY: topic %s consumed by group %s does not exist on the broker (a broker restart "
                        "lost it?): re-creating it", topic.name, self.group_id, extra={"topic": topic.name})
            CONSUMER_RECOVERIES.labels(self.service, self.group_id, topic.name, "topic_missing").inc()
        await ensure_topics(client._bootstrap_servers, missing)

    async def _reseek_past_end(self, consumer: Any, assigned: set[TopicPartition]) -> None:
        partitions = sorted(assigned)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        for partition in partitions:
            committed = await consumer.committed(partition)
            end = ends.get(partition)
            if committed is None or end is None or committed <= end:
                continue
            start = starts.get(partition, 0)
            log.warning(
                "RECOVERY: group %s has committed offset %s on %s[%s], past the partition's end %s (the topic was "
                "re-created or the broker lost its data): re-reading it from offset %s",
                self.group_id, committed, partition.topic, partition.partition, end, start,
                extra={"topic": partition.topic},
            )
            CONSUMER_RECOVERIES.labels(self.service, self.group_id, partition.topic, "offset_past_end").inc()
            consumer.seek(partition, start)
