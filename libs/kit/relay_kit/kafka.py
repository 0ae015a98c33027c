"""Kafka through FastStream: one broker per service, publishing, topics and consumer lag (consuming: relay_kit.consuming)."""

import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker

from relay_contracts import Envelope, EventPayload
from relay_contracts.topics import Topic
from relay_kit import metrics, outbox

log = logging.getLogger(__name__)

LAG_PROBE_TIMEOUT_SECONDS = 5.0
# How often clients re-read topic metadata. aiokafka's 5 minutes would leave a topic re-created with other
# partitions (a restarted broker, a producer that auto-created it) partly unread that long; a consumer group's
# leader rebalances as soon as it sees the change.
METADATA_MAX_AGE_MS = 5_000


def make_broker(*, bootstrap_servers: str, client_id: str) -> KafkaBroker:
    """A FastStream Kafka broker that waits for every replica's ack and never uses the idempotent producer."""
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
        logger=logging.getLogger(f"faststream.{client_id}"),
    )


async def publish_event(broker: KafkaBroker, event: Envelope[Any], *, service: str) -> None:
    """Publish an event under its topic and key; returns once the broker acknowledged it."""
    await publish_stored(broker, outbox.StoredEvent(
        event_id=str(event.event_id), topic=event.topic.name, key=event.key, type=event.type,
        correlation_id=event.correlation_id, body=event.to_bytes()), service=service)


def declare_publishers(broker: KafkaBroker, payload_classes: Iterable[type[EventPayload]], *, service: str) -> None:
    """One FastStream publisher per topic the classes are published on, documented with their envelope schema."""
    from relay_kit.asyncapi import envelope_model

    by_topic: dict[str, list[type[EventPayload]]] = {}
    for payload_class in payload_classes:
        by_topic.setdefault(payload_class.topic.name, []).append(payload_class)
    declared = _publishers(broker)
    for topic, classes in by_topic.items():
        if topic not in declared:
            declared[topic] = broker.publisher(
                topic, title=f"{service}:{topic}", schema=envelope_model(classes),
                description="Publishes " + ", ".join(c.__name__ for c in classes))


def _publishers(broker: KafkaBroker) -> dict[str, Any]:
    publishers: dict[str, Any] | None = getattr(broker, "_relay_publishers", None)
    if publishers is None:
        publishers = {}
        broker._relay_publishers = publishers  # type: ignore[attr-defined]
    return publishers


async def publish_stored(broker: KafkaBroker, stored: "outbox.StoredEvent", *, service: str) -> None:
    """Publish an already encoded event (an outbox entry) as it is; returns once the broker acknowledged it.

    A topic with a declared publisher is published through it; others (tests, tools) through the broker.
    """
    publisher = _publishers(broker).get(stored.topic)
    send = publisher.publish if publisher is not None else functools.partial(broker.publish, topic=stored.topic)
    await send(
        stored.body,
        key=stored.key,
        headers={
            "content-type": "application/json",
            "event-type": stored.type,
            "event-id": stored.event_id,
            "correlation-id": stored.correlation_id,
        },
    )
    metrics.EVENTS_PRODUCED.labels(service, stored.topic, stored.type).inc()


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
