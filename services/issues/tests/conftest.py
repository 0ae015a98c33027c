"""The issues service as a real process on the session's broker, and a shop (a fresh tenant) to drive it."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from relay_contracts import Envelope, EventPayload, new_event
from relay_contracts.customer_messages import Channel, EmailThreading, InboundMessageReceived
from relay_contracts.staff import StaffAccountSaved, StaffRole
from relay_contracts.topics import Topic
from relay_kit.auth import StaffPrincipal, issue_token
from relay_kit.kafka import make_broker, publish_event
from relay_stack.polling import eventually
from relay_stack.processes import ServiceProcess

SECRET = "issues-test-secret-of-at-least-32-bytes"


@pytest.fixture(scope="session")
def issues_service(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One issues process for the session, in a consumer group of its own (so no other replica shares its work)."""
    process = ServiceProcess("issues", log_dir=Path(tmp_path_factory.mktemp("issues-logs")), env={
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "RELAY_JWT_SECRET": SECRET,
        "RELAY_CONSUMER_GROUP": f"issues-test-{uuid.uuid4().hex[:8]}",
        "RELAY_METRICS_REFRESH_SECONDS": "0.3",
    }).start()
    process.wait_ready()
    yield process
    process.stop()


class TopicWatch:
    """Everything published on a topic from the moment the watch started (no consumer group involved)."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.seen: list[dict[str, Any]] = []

    async def _drain(self) -> None:
        batch = await self.consumer.getmany(timeout_ms=100)
        for messages in batch.values():
            for message in messages:
                try:
                    self.seen.append(json.loads(message.value))
                except ValueError:
                    self.seen.append({"raw": message.value, "headers": dict(message.headers or [])})

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float = 20.0,
                       what: str = "event") -> dict[str, Any]:
        """The first event matching the predicate, waiting for it up to the deadline."""

        async def probe() -> dict[str, Any] | None:
            await self._drain()
            return next((event for event in self.seen if predicate(event)), None)

        return await eventually(probe, timeout=timeout, what=what)

    async def all_matching(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Every event seen so far that matches."""
        await self._drain()
        return [event for event in self.seen if predicate(event)]


@dataclass
class Shop:
    """A fresh tenant: publishes what ingest and the gateway would, and calls the issues API as its staff."""

    tenant_id: str
    url: str
    bootstrap: str
    broker: Any
    http: httpx.AsyncClient
    watches: list[AIOKafkaConsumer] = field(default_factory=list)

    def staff(self, staff_id: str, name: str | None = None, *, tenant_id: str | None = None,
              role: StaffRole = StaffRole.STAFF) -> dict[str, str]:
        """Authorization headers of a signed-in staff member."""
        principal = StaffPrincipal(staff_id=staff_id, tenant_id=tenant_id or self.tenant_id,
                                   name=name or staff_id.title(), role=role)
        return {"authorization": f"Bearer {issue_token(principal, secret=SECRET)}"}

    async def publish(self, payload: EventPayload, *, tenant_id: str | None = None) -> Envelope[Any]:
        """Publish an event as its producer would."""
        event = new_event(payload, tenant_id=tenant_id or self.tenant_id, producer="test")
        await publish_event(self.broker, event, service="test")
        return event

    async def republish(self, event: Envelope[Any]) -> None:
        """Deliver the very same event again (a redelivery)."""
        await publish_event(self.broker, event, service="test")

    async def customer_writes(
        self, customer_id: str, text: str, *, channel: Channel = Channel.SMS, address: str | None = None,
        subject: str | None = None, threading: EmailThreading | None = None, name: str | None = None,
    ) -> Envelope[InboundMessageReceived]:
        """A customer's text or email, as ingest publishes it."""
        sms = channel == Channel.SMS
        return await self.publish(InboundMessageReceived(
            customer_id=customer_id, message_id=f"msg_{uuid.uuid4().hex}", customer_name=name, channel=channel,
            provider="twilio" if sms else "mailgun", provider_message_id=f"P{uuid.uuid4().hex}",
            from_address=address or ("+14155550123" if sms else f"{customer_id}@example.com"),
            to_address="+15550100000" if sms else "help@shop.example", subject=subject, text=text,
            threading=threading, received_at=datetime.now(UTC),
        ))

    async def staff_joins(self, staff_id: str, name: str, *, active: bool = True) -> None:
        """The gateway announces a staff account."""
        await self.publish(StaffAccountSaved(staff_id=staff_id, username=staff_id, display_name=name, active=active))

    async def get(self, path: str, staff: dict[str, str], **params: Any) -> httpx.Response:
        return await self.http.get(f"{self.url}{path}", headers=staff, params=params)

    async def post(self, path: str, staff: dict[str, str], body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post(f"{self.url}{path}", headers=staff, json=body or {})

    async def open_issue_of(self, customer_id: str, staff: dict[str, str], *, count: int = 1,
                            timeout: float = 20.0) -> dict[str, Any]:
        """Wait until the customer's open issue holds `count` messages; return it in full."""

        async def probe() -> dict[str, Any] | None:
            listing = await self.get("/api/issues", staff, status="open", limit=200)
            assert listing.status_code == 200, listing.text
            found = [i for i in listing.json()["issues"] if i["customer_id"] == customer_id]
            if not found or found[0]["message_count"] < count:
                return None
            detail = await self.get(f"/api/issues/{found[0]['issue_id']}", staff)
            return detail.json()

        return await eventually(probe, timeout=timeout, what=f"open issue of {customer_id} with {count} messages")

    async def watch(self, topic: Topic | str) -> TopicWatch:
        """Start collecting what is published on a topic from now on."""
        name = topic if isinstance(topic, str) else topic.name
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        partitions = [TopicPartition(name, p) for p in (consumer.partitions_for_topic(name) or [])]
        if not partitions:
            await consumer.topics()
            partitions = [TopicPartition(name, p) for p in (consumer.partitions_for_topic(name) or [])]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for partition in partitions:
            await consumer.position(partition)  # pin "from now on" before anything is published
        self.watches.append(consumer)
        return TopicWatch(consumer)


@pytest.fixture
async def shop(issues_service: ServiceProcess, kafka_bootstrap: str) -> AsyncIterator[Shop]:
    """A new tenant on the shared issues process, so no test sees another's data."""
    broker = make_broker(bootstrap_servers=kafka_bootstrap, client_id="issues-tests")
    await broker.start()
    async with httpx.AsyncClient(timeout=15) as http:
        shop = Shop(tenant_id=f"t-{uuid.uuid4().hex[:10]}", url=issues_service.url, bootstrap=kafka_bootstrap,
                    broker=broker, http=http)
        try:
            yield shop
        finally:
            await asyncio.gather(*(c.stop() for c in shop.watches), return_exceptions=True)
            await broker.stop()
