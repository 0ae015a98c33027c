"""Consuming through relay_kit on the real broker: handled, redelivered on failure, dead-lettered when invalid."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer

from relay_contracts import EventPayload, new_event
from relay_contracts.chat import ChatMessage, ChatMessagePosted, ConversationKind, ConversationRef
from relay_contracts.customer_messages import Channel
from relay_contracts.issues import IssueAssigned, IssueClosed, IssueEvent, IssueSnapshot, IssueStatus, StaffRef
from relay_contracts.staff import StaffAccountSaved
from relay_contracts.topics import Topic
from relay_kit.consuming import EventHandlers, consume
from relay_kit.kafka import ensure_topics, make_broker, publish_event
from relay_stack.polling import eventually


async def test_invalid_event_is_dead_lettered_with_reason_and_failures_are_redelivered(kafka_bootstrap: str) -> None:
    topic = Topic(f"test.consuming.{uuid.uuid4().hex[:8]}", partitions=1)
    await ensure_topics(kafka_bootstrap, [topic])
    broker = make_broker(bootstrap_servers=kafka_bootstrap, client_id="test")
    handled: list[str] = []
    failures = {"left": 1}

    handlers = EventHandlers()

    @handlers.on(StaffAccountSaved)
    async def handler(event) -> None:
        if event.payload.staff_id == "flaky" and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("database briefly unavailable")
        handled.append(event.payload.staff_id)

    consume(broker, handlers, topics=[topic], group_id=f"g-{topic.name}", service="test")
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


async def test_a_payload_of_one_type_never_reaches_a_handler_of_another(kafka_bootstrap: str) -> None:
    """Typed dispatch: issue, chat and staff events on one consumer each reach only their own handler."""
    topic = Topic(f"test.dispatch.{uuid.uuid4().hex[:8]}", partitions=1)
    await ensure_topics(kafka_bootstrap, [topic])
    broker = make_broker(bootstrap_servers=kafka_bootstrap, client_id="test-dispatch")
    seen: dict[str, list[str]] = {"assigned": [], "any_issue": [], "staff": []}
    handlers = EventHandlers()

    @handlers.on(IssueAssigned)
    async def on_assigned(event) -> None:
        seen["assigned"].append(type(event.payload).__name__)

    @handlers.on(IssueEvent)  # a whole family: every other issue event
    async def on_issue(event) -> None:
        seen["any_issue"].append(type(event.payload).__name__)

    @handlers.on(StaffAccountSaved)
    async def on_staff(event) -> None:
        seen["staff"].append(type(event.payload).__name__)

    now = datetime.now(UTC)
    ana = StaffRef(id="s1", name="Ana")
    issue = IssueSnapshot(issue_id="iss_1", customer_id="cus_1", channel=Channel.SMS, status=IssueStatus.ASSIGNED,
                          assignee=ana, opened_at=now, updated_at=now)
    posted = ChatMessagePosted(
        conversation=ConversationRef(conversation_id="cnv_1", kind=ConversationKind.CHANNEL, name="general"),
        audience=["s1"], message=ChatMessage(message_id="msg_1", seq=1, author=ana, text="has an issue field?",
                                             posted_at=now))
    payloads = [IssueAssigned(issue=issue), posted, StaffAccountSaved(staff_id="s1", username="ana", display_name="Ana"),
                IssueClosed(issue=issue)]
    consume(broker, handlers, topics=[topic], group_id=f"g-{topic.name}", service="test")
    await broker.start()
    try:
        for payload in payloads:
            event = new_event(payload, tenant_id="t1", producer="test")
            await broker.publish(event.to_bytes(), topic=topic.name, key=b"k")
        closing = new_event(StaffAccountSaved(staff_id="last", username="last", display_name="Last"),
                            tenant_id="t1", producer="test")
        await broker.publish(closing.to_bytes(), topic=topic.name, key=b"k")

        async def all_handled() -> bool:
            return "StaffAccountSaved" in seen["staff"] and len(seen["staff"]) == 2

        await eventually(all_handled, timeout=20, what="every event handled, in order, up to the last one")
    finally:
        await broker.stop()
    assert seen == {"assigned": ["IssueAssigned"], "any_issue": ["IssueClosed"],
                    "staff": ["StaffAccountSaved", "StaffAccountSaved"]}
    assert handlers.handler_for(posted) is None


def test_a_handler_family_without_a_topic_is_refused() -> None:
    handlers = EventHandlers()
    with pytest.raises(ValueError, match="names no topic"):
        handlers.add(EventPayload, on_nothing)


async def on_nothing(event) -> None:
    """A handler for the refused registration."""
