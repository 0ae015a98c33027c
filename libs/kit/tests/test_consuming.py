"""Consuming through relay_kit on the real broker: handled, redelivered on failure, dead-lettered when invalid."""

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer

from relay_contracts import new_event
from relay_contracts.staff import StaffAccountSaved
from relay_contracts.topics import Topic
from relay_kit.kafka import ensure_topics, make_broker, publish_event, subscribe
from relay_stack.polling import eventually


async def test_invalid_event_is_dead_lettered_with_reason_and_failures_are_redelivered(kafka_bootstrap: str) -> None:
    topic = Topic(f"test.consuming.{uuid.uuid4().hex[:8]}", partitions=1)
    await ensure_topics(kafka_bootstrap, [topic])
    broker = make_broker(bootstrap_servers=kafka_bootstrap, client_id="test")
    handled: list[str] = []
    failures = {"left": 1}

    async def handler(event) -> None:
        if event.payload.staff_id == "flaky" and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("database briefly unavailable")
        handled.append(event.payload.staff_id)

    subscribe(broker, topic, handler, group_id=f"g-{topic.name}", service="test")
    await broker.start()
    try:
        await broker.publish(b"{not json", topic=topic.name, key=b"k")
        for name in ("flaky", "steady"):
            event = new_event(StaffAccountSaved(staff_id=name, username=name, display_name=name),
                              tenant_id="t", producer="test")
            await broker.publish(event.to_bytes(), topic=topic.name, key=b"k")

        async def both_handled() -> bool:
            return handled == ["flaky", "steady"]

        await eventually(both_handled, timeout=20, what="valid events handled in order after a retry")
    finally:
        await broker.stop()

    dead = AIOKafkaConsumer(topic.dead_letter, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                            group_id=f"dlt-{topic.name}")
    await dead.start()
    try:
        message = await asyncio.wait_for(dead.getone(), timeout=10)
    finally:
        await dead.stop()
    assert message.value == b"{not json"
    headers = dict(message.headers)
    assert headers["source-topic"] == topic.name.encode()
    assert b"bad envelope" in headers["dead-letter-reason"]


async def test_publish_event_uses_the_events_topic_and_key(kafka_bootstrap: str) -> None:
    broker = make_broker(bootstrap_servers=kafka_bootstrap, client_id="test")
    await broker.start()
    tenant = f"t{uuid.uuid4().hex[:6]}"
    event = new_event(StaffAccountSaved(staff_id="s1", username="u", display_name="U"), tenant_id=tenant,
                      producer="test")
    consumer = AIOKafkaConsumer(event.topic.name, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                                group_id=f"g-{tenant}")
    await consumer.start()
    try:
        await publish_event(broker, event, service="test")
        seen = []

        async def arrived():
            batch = await consumer.getmany(timeout_ms=200)
            seen.extend(m for ms in batch.values() for m in ms if m.key == event.key)
            return seen

        message = (await eventually(arrived, what="published event"))[0]
        assert dict(message.headers)["event-type"] == b"staff.account_saved"
    finally:
        await consumer.stop()
        await broker.stop()
