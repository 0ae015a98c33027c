"""Consumer lag: the backlog behind a stuck handler is shown, then 0, then nothing once stopped; never raises."""

import asyncio
import contextlib
import uuid
from types import SimpleNamespace

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from prometheus_client import REGISTRY

from relay_contracts import new_event
from relay_contracts.staff import StaffAccountSaved
from relay_contracts.topics import Topic
from relay_kit.consuming import EventHandlers, consume
from relay_kit.kafka import ensure_topics, keep_consumer_lag_fresh, make_broker, measure_consumer_lag
from relay_stack.polling import eventually


def _staff_event(name: str) -> bytes:
    return new_event(StaffAccountSaved(staff_id=name, username=name, display_name=name),
                     tenant_id="t", producer="test").to_bytes()


async def test_lag_shows_the_backlog_behind_a_stuck_handler_then_zero_then_nothing_once_stopped(
    kafka_bootstrap: str,
) -> None:
    topic = Topic(f"test.lag.{uuid.uuid4().hex[:8]}", partitions=1)
    group = f"g-{topic.name}"
    await ensure_topics(kafka_bootstrap, [topic])
    broker = make_broker(bootstrap_servers=kafka_bootstrap, client_id="test-lag")
    handled: list[str] = []
    release = asyncio.Event()

    async def stuck_until_released(event) -> None:
        handled.append(event.payload.staff_id)
        await release.wait()

    handlers = EventHandlers()
    handlers.add(StaffAccountSaved, stuck_until_released)
    consume(broker, handlers, topics=[topic], group_id=group, service="lag-test")
    labels = {"service": "lag-test", "group": group, "topic": topic.name, "partition": "0"}

    def lag() -> float | None:
        return REGISTRY.get_sample_value("relay_consumer_lag", labels)

    await broker.start()
    measuring = asyncio.create_task(keep_consumer_lag_fresh(broker, service="lag-test", every=0.1))
    try:
        await broker.publish(_staff_event("first"), topic=topic.name, key=b"k")

        async def first_is_being_handled() -> bool:
            return handled == ["first"]

        await eventually(first_is_being_handled, timeout=20, what="the handler stuck on the first event")
        for number in range(5):
            await broker.publish(_staff_event(f"waiting-{number}"), topic=topic.name, key=b"k")

        async def backlog_shown() -> bool:
            return lag() == 5

        await eventually(backlog_shown, timeout=20, what=f"lag 5 behind the stuck handler (last seen {lag()})")
        release.set()

        async def caught_up() -> bool:
            return len(handled) == 6 and lag() == 0

        await eventually(caught_up, timeout=20, what=f"lag back to 0 (last seen {lag()}, handled {len(handled)})")
        await broker.stop()

        async def no_longer_reported() -> bool:
            return lag() is None

        await eventually(no_longer_reported, timeout=10, what="a stopped consumer's partitions dropped from the gauge")
    finally:
        measuring.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await measuring
        release.set()
        await broker.stop()


async def test_a_consumer_the_broker_cannot_answer_for_is_skipped_not_raised() -> None:
    class Unreachable:
        """A consumer that owns a partition while the broker cannot be asked for its newest offset."""

        def assignment(self) -> set[TopicPartition]:
            return {TopicPartition("inbound.messages", 0)}

        async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
            raise KafkaConnectionError("broker unreachable")

    broker = SimpleNamespace(subscribers=[SimpleNamespace(group_id="issues", consumer=Unreachable()),
                                          SimpleNamespace(group_id="chat", consumer=None)])
    assert await measure_consumer_lag(broker, service="lag-test") == set()
