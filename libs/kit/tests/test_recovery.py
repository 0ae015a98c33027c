"""Consumers that recover, on the real broker: poison events set aside, broker restarts, offsets past the end."""

import asyncio
import logging
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from relay_contracts import new_event
from relay_contracts.staff import StaffAccountSaved
from relay_contracts.topics import Topic
from relay_kit.consuming import CONSUMER_RECOVERIES, EVENTS_SET_ASIDE, EventHandlers, consume
from relay_kit.kafka import ensure_topics, make_broker
from relay_stack.broker import EmbeddedBroker
from relay_stack.polling import eventually


def _event(name: str) -> bytes:
    return new_event(StaffAccountSaved(staff_id=name, username=name, display_name=name), tenant_id="t",
                     producer="test").to_bytes()


def _recording(handled: list[str], *, failing: set[str] = frozenset(), attempts: dict[str, int] | None = None):
    handlers = EventHandlers()

    @handlers.on(StaffAccountSaved)
    async def handler(event) -> None:
        name = event.payload.staff_id
        if attempts is not None:
            attempts[name] = attempts.get(name, 0) + 1
        if name in failing:
            raise RuntimeError(f"{name} can never be handled")
        handled.append(name)

    return handlers


async def _dead_letters(bootstrap: str, topic: Topic, count: int) -> list:
    dead = AIOKafkaConsumer(topic.dead_letter, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                            group_id=f"dlt-{uuid.uuid4().hex[:6]}")
    await dead.start()
    try:
        found = []
        async def enough() -> bool:
            batch = await dead.getmany(timeout_ms=200)
            found.extend(m for messages in batch.values() for m in messages)
            return len(found) >= count
        await eventually(enough, timeout=20, what=f"{count} dead letters on {topic.dead_letter}")
        return found
    finally:
        await dead.stop()


async def test_an_event_its_handler_always_fails_on_is_set_aside_and_the_events_behind_it_go_on(
    kafka_bootstrap: str,
) -> None:
    topic = Topic(f"test.poison.{uuid.uuid4().hex[:8]}", partitions=1)
    await ensure_topics(kafka_bootstrap, [topic])
    broker = make_broker(bootstrap_servers=kafka_bootstrap, client_id="test")
    handled: list[str] = []
    attempts: dict[str, int] = {}
    consume(broker, _recording(handled, failing={"poison"}, attempts=attempts), topics=[topic],
            group_id=f"g-{topic.name}", service="test", max_attempts=3)
    await broker.start()
    try:
        for name in ("poison", "behind-1", "behind-2"):  # one partition: without setting aside, they wait forever
            await broker.publish(_event(name), topic=topic.name, key=b"same-key")

        async def behind_handled() -> bool:
            return handled == ["behind-1", "behind-2"]

        await eventually(behind_handled, timeout=30, what="the events behind the poison event handled")
    finally:
        await broker.stop()
    assert attempts["poison"] == 3
    [letter] = await _dead_letters(kafka_bootstrap, topic, 1)
    assert b"poison" in letter.value  # the event's own bytes, as they were published
    headers = dict(letter.headers)
    assert headers["dead-letter-kind"] == b"failed"
    assert b"handler failed 3 times in a row: RuntimeError: poison can never be handled" in headers["dead-letter-reason"]
    assert EVENTS_SET_ASIDE.labels("test", topic.name, "failed")._value.get() == 1


@pytest.fixture
def own_broker(tmp_path: Path):
    broker = EmbeddedBroker(log_path=tmp_path / "tansu.log").start()
    yield broker
    broker.stop()


async def test_a_consumer_goes_on_after_the_broker_is_killed_and_restarted(own_broker: EmbeddedBroker) -> None:
    """kill -9 of the embedded broker: groups, offsets and topics are gone when it is back on its port.

    The consumer gets UnknownMemberIdError (its group is gone), rejoins, and reads the re-created topic.
    """
    topic = Topic(f"test.restart.{uuid.uuid4().hex[:8]}", partitions=2)
    await ensure_topics(own_broker.bootstrap_servers, [topic])
    group = f"g-{topic.name}"
    broker = make_broker(bootstrap_servers=own_broker.bootstrap_servers, client_id="test")
    handled: list[str] = []
    consume(broker, _recording(handled), topics=[topic], group_id=group, service="test")
    await broker.start()
    try:
        for i in range(5):
            await broker.publish(_event(f"before-{i}"), topic=topic.name, key=f"k{i}".encode())
        await eventually(lambda: _async(len(handled) == 5), timeout=30, what="events before the crash handled")

        await asyncio.to_thread(own_broker.kill)
        await asyncio.to_thread(own_broker.start)  # same port, empty: Relay's topics are re-created at start
        await ensure_topics(own_broker.bootstrap_servers, [topic])  # as the broker does for Relay's own topics

        for i in range(5):
            await asyncio.wait_for(broker.publish(_event(f"after-{i}"), topic=topic.name, key=f"k{i}".encode()), 30)
        await eventually(lambda: _async({f"after-{i}" for i in range(5)} <= set(handled)), timeout=60,
                         what="events after the restart handled, with no process restart")
    finally:
        await broker.stop()


async def test_a_committed_offset_past_the_end_is_reported_and_the_partition_reread(
    kafka_bootstrap: str, caplog: pytest.LogCaptureFixture,
) -> None:
    """A topic re-created empty under a group that kept its offsets: without the check, nothing is ever read."""
    caplog.set_level(logging.WARNING, logger="relay_kit.consuming")
    topic = Topic(f"test.pastend.{uuid.uuid4().hex[:8]}", partitions=1)
    await ensure_topics(kafka_bootstrap, [topic])
    group = f"g-{topic.name}"
    broker = make_broker(bootstrap_servers=kafka_bootstrap, client_id="test")
    await broker.start()
    try:
        for i in range(3):
            await broker.publish(_event(f"e{i}"), topic=topic.name, key=b"k")
    finally:
        await broker.stop()
    committer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await committer.start()
    try:
        partition = TopicPartition(topic.name, 0)
        committer.assign([partition])
        await committer.commit({partition: OffsetAndMetadata(1000, "")})
    finally:
        await committer.stop()

    handled: list[str] = []
    broker = make_broker(bootstrap_servers=kafka_bootstrap, client_id="test")
    consume(broker, _recording(handled), topics=[topic], group_id=group, service="test")
    await broker.start()
    try:
        await eventually(lambda: _async(handled == ["e0", "e1", "e2"]), timeout=30,
                         what="the partition re-read from its start")
    finally:
        await broker.stop()
    assert CONSUMER_RECOVERIES.labels("test", group, topic.name, "offset_past_end")._value.get() == 1
    [warning] = [r for r in caplog.records if "past the partition's end" in r.getMessage()]
    assert group in warning.getMessage() and topic.name in warning.getMessage() and "1000" in warning.getMessage()


async def _async(value: bool) -> bool:
    return value
