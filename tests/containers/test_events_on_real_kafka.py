"""Publishing, consuming and dead-lettering behave the same on the embedded broker and on Apache Kafka."""

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer

from relay_contracts import new_event
from relay_contracts.staff import StaffAccountSaved
from relay_contracts.topics import Topic
from relay_kit.consuming import EventHandlers, consume
from relay_kit.kafka import ensure_topics, make_broker
from relay_stack.polling import eventually


def _staff_event(name: str, *, tenant_id: str):
    return new_event(StaffAccountSaved(staff_id=name, username=name, display_name=name), tenant_id=tenant_id,
                     producer="test")


async def test_events_keep_their_order_per_key_and_invalid_ones_are_dead_lettered(bootstrap: str) -> None:
    topic = Topic(f"test.containers.{uuid.uuid4().hex[:8]}", partitions=3)
    await ensure_topics(bootstrap, [topic])
    broker = make_broker(bootstrap_servers=bootstrap, client_id="test")
    handled: list[str] = []

    handlers = EventHandlers()

    @handlers.on(StaffAccountSaved)
    async def handler(event) -> None:
        handled.append(event.payload.staff_id)

    consume(broker, handlers, topics=[topic], group_id=f"g-{topic.name}", service="test")
    await broker.start()
    names = [f"s{n:02d}" for n in range(20)]
    try:
        await broker.publish(b"{not json", topic=topic.name, key=b"tenant-a")
        for name in names:
            await broker.publish(_staff_event(name, tenant_id="tenant-a").to_bytes(), topic=topic.name,
                                 key=b"tenant-a")

        async def all_handled() -> bool:
            return len(handled) == len(names)

        await eventually(all_handled, timeout=30, what="every valid event handled")
    finally:
        await broker.stop()
    assert handled == names

    dead = AIOKafkaConsumer(topic.dead_letter, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                            group_id=f"dlt-{topic.name}")
    await dead.start()
    try:
        message = await asyncio.wait_for(dead.getone(), timeout=15)
    finally:
        await dead.stop()
    assert message.value == b"{not json"
    assert dict(message.headers)["source-topic"] == topic.name.encode()
