"""Kafka through FastStream: one broker per service, typed events in, invalid ones dead-lettered."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from relay_contracts import Envelope, EventPayload, InvalidEvent, parse_event
from relay_contracts.topics import Topic
from relay_kit import metrics
from relay_kit.logs import correlation_id_var, event_id_var, tenant_id_var

log = logging.getLogger(__name__)

EventHandler = Callable[[Envelope[EventPayload]], Awaitable[None]]
RETRY_BACKOFF_SECONDS = 0.5
LAG_PROBE_TIMEOUT_SECONDS = 5.0


def make_broker(*, bootstrap_servers: str, client_id: str) -> KafkaBroker:
    """A FastStream Kafka broker that waits for every replica's ack and never uses the idempotent producer."""
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        logger=logging.getLogger(f"faststream.{client_id}"),
    )


async def publish_event(broker: KafkaBroker, event: Envelope[Any], *, service: str) -> None:
    """Publish an event under its topic and key; returns once the broker acknowledged it."""
    await broker.publish(
        event.to_bytes(),
        topic=event.topic.name,
        key=event.key,
        headers={
            "content-type": "application/json",
            "event-type": event.type,
            "event-id": str(event.event_id),
            "correlation-id": event.correlation_id,
        },
    )
    metrics.EVENTS_PRODUCED.labels(service, event.topic.name, event.type).inc()


def subscribe(
    broker: KafkaBroker,
    topic: Topic,
    handler: EventHandler,
    *,
    group_id: str,
    service: str,
    auto_offset_reset: str = "earliest",
    fetch_max_wait_ms: int = 500,
) -> None:
    """Register a handler for a topic: decode, dead-letter invalid events, commit only after the handler."""
    subscribe_each(broker, {topic: handler}, group_id=group_id, service=service, auto_offset_reset=auto_offset_reset,
                   fetch_max_wait_ms=fetch_max_wait_ms)


def subscribe_each(
    broker: KafkaBroker,
    handlers: Mapping[Topic, EventHandler],
    *,
    group_id: str,
    service: str,
    auto_offset_reset: str = "earliest",
    fetch_max_wait_ms: int = 500,
) -> None:
    """One consumer in the group for several topics, each event going to its topic's handler (one group join)."""
    by_name = {topic.name: (topic, handler) for topic, handler in handlers.items()}

    async def raw_body(message: Any) -> bytes:
        return message.body

    @broker.subscriber(
        *by_name,
        group_id=group_id,
        auto_offset_reset=auto_offset_reset,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        fetch_max_wait_ms=fetch_max_wait_ms,
        decoder=raw_body,
        title=f"{service}:{','.join(by_name)}",
    )
    async def on_message(body: bytes, message: KafkaMessage) -> None:
        topic, handler = by_name[message.raw_message.topic]
        try:
            event = parse_event(body)
        except InvalidEvent as error:
            await _dead_letter(broker, topic, message, reason=str(error), service=service, group_id=group_id)
            return
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
            log.exception("handling %s failed; it will be redelivered", event.type)
            await asyncio.sleep(RETRY_BACKOFF_SECONDS)
            raise
        finally:
            metrics.HANDLER_LATENCY.labels(service, topic.name).observe(time.perf_counter() - started)
            for var, token in zip((tenant_id_var, event_id_var, correlation_id_var), tokens, strict=True):
                var.reset(token)
        metrics.EVENTS_CONSUMED.labels(service, topic.name, event.type).inc()


async def _dead_letter(
    broker: KafkaBroker, topic: Topic, message: Any, *, reason: str, service: str, group_id: str
) -> None:
    raw = message.raw_message
    log.warning("dead-lettering an invalid event from %s: %s", topic.name, reason, extra={"topic": topic.name})
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
        },
    )
    metrics.EVENTS_DEAD_LETTERED.labels(service, topic.name).inc()


async def ensure_topics(bootstrap_servers: str, topics: Iterable[Topic], *, replication_factor: int = 1) -> None:
    """Create topics (and their dead-letter topics) that do not exist yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="relay-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = []
        for topic in topics:
            if topic.name not in existing:
                wanted.append(NewTopic(topic.name, num_partitions=topic.partitions, replication_factor=replication_factor))
            if topic.dead_letter not in existing:
                wanted.append(NewTopic(topic.dead_letter, num_partitions=1, replication_factor=replication_factor))
        if wanted:
            await admin.create_topics(wanted)
    finally:
        await admin.close()


async def measure_consumer_lag(broker: KafkaBroker, *, service: str) -> set[tuple[str, str, str, str]]:
    """Set the lag gauge for every partition this broker's consumers own now; returns the label sets set."""
    measured: set[tuple[str, str, str, str]] = set()
    for subscriber in broker.subscribers:
        consumer = getattr(subscriber, "consumer", None)
        if consumer is None:  # not started, or stopped
            continue
        try:
            partitions = list(consumer.assignment())
            if not partitions:
                continue
            # asked of the broker: a consumer stuck on one event fetches nothing, so its highwater goes stale
            newest = await asyncio.wait_for(consumer.end_offsets(partitions), LAG_PROBE_TIMEOUT_SECONDS)
        except Exception:
            log.debug("consumer lag not measured for %s", getattr(subscriber, "group_id", None), exc_info=True)
            continue
        for partition in partitions:
            try:
                position = await asyncio.wait_for(consumer.position(partition), LAG_PROBE_TIMEOUT_SECONDS)
            except Exception:  # not positioned yet, or handed to another consumer meanwhile
                continue
            if partition not in newest:
                continue
            labels = (service, subscriber.group_id or "", partition.topic, str(partition.partition))
            metrics.CONSUMER_LAG.labels(*labels).set(max(0, newest[partition] - position))
            measured.add(labels)
    return measured


async def keep_consumer_lag_fresh(broker: KafkaBroker, *, service: str, every: float) -> None:
    """Measure consumer lag forever (a background job); partitions this process no longer owns stop being shown."""
    shown: set[tuple[str, str, str, str]] = set()
    while True:
        try:
            measured = await measure_consumer_lag(broker, service=service)
        except Exception:
            log.warning("measuring consumer lag failed; retrying", exc_info=True)
            measured = shown
        for labels in shown - measured:
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(*labels)
        shown = measured
        await asyncio.sleep(every)
