"""The issues service as a real process on the session's broker, and a shop (a fresh tenant) to drive it."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from relay_contracts import Envelope, EventPayload
from relay_contracts.customer_messages import (
    Channel,
    CustomerConsentChanged,
    CustomerProfileChanged,
    EmailThreading,
    InboundMessageReceived,
)
from relay_contracts.staff import StaffAccountSaved, StaffRole
from relay_contracts.topics import Topic
from relay_kit.auth import StaffPrincipal, issue_token
from relay_stack.polling import eventually
from relay_stack.processes import ServiceProcess
from relay_stack.testing import StaffTeam, TopicWatch

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


class Shop(StaffTeam):
    """A fresh tenant: publishes what ingest and the gateway would, and calls the issues API as its staff.

    Its staff are named by the ids the tests choose ("alice"), so their tokens are signed here directly.
    """

    def __init__(self, *, bootstrap: str, url: str, http: httpx.AsyncClient) -> None:
        super().__init__(bootstrap=bootstrap, secret=SECRET)
        self.bootstrap = bootstrap
        self.url = url
        self.http = http
        self.watches: list[TopicWatch] = []

    def staff(self, staff_id: str, name: str | None = None, *, tenant_id: str | None = None,
              role: StaffRole = StaffRole.STAFF) -> dict[str, str]:
        """Authorization headers of a signed-in staff member."""
        principal = StaffPrincipal(staff_id=staff_id, tenant_id=tenant_id or self.tenant_id,
                                   name=name or staff_id.title(), role=role)
        return {"authorization": f"Bearer {issue_token(principal, secret=self.secret)}"}

    async def publish(self, payload: EventPayload, *, tenant_id: str | None = None) -> Envelope[Any]:
        """Publish an event as its producer would."""
        return await self.publisher.publish_payload(payload, tenant_id=tenant_id or self.tenant_id)

    async def republish(self, event: Envelope[Any]) -> None:
        """Deliver the very same event again (a redelivery)."""
        await self.publisher.publish(event)

    async def publish_raw(self, topic: Topic, value: bytes, *, key: bytes) -> None:
        """Publish bytes that are no event (for dead-letter tests)."""
        await self.publisher.publish_raw(topic, value, key=key)

    async def customer_writes(
        self, customer_id: str, text: str, *, channel: Channel = Channel.SMS, address: str | None = None,
        subject: str | None = None, threading: EmailThreading | None = None, name: str | None = None,
        label: str | None = None, unknown_contact: bool = False,
    ) -> Envelope[InboundMessageReceived]:
        """A customer's text or email, as ingest publishes it."""
        sms = channel == Channel.SMS
        return await self.publish(InboundMessageReceived(
            customer_id=customer_id, message_id=f"msg_{uuid.uuid4().hex}", customer_name=name, channel=channel,
            customer_label=label, unknown_contact=unknown_contact,
            provider="twilio" if sms else "mailgun", provider_message_id=f"P{uuid.uuid4().hex}",
            from_address=address or ("+14155550123" if sms else f"{customer_id}@example.com"),
            to_address="+15550100000" if sms else "help@shop.example", subject=subject, text=text,
            threading=threading, received_at=datetime.now(UTC),
        ))

    async def customer_texts_keyword(self, customer_id: str, *, phone: str, opted_out: bool,
                                     at: datetime | None = None) -> Envelope[CustomerConsentChanged]:
        """The customer texted STOP (`opted_out`) or START, as ingest announces it."""
        return await self.publish(CustomerConsentChanged(customer_id=customer_id, phone=phone, opted_out=opted_out,
                                                         at=at or datetime.now(UTC), source="keyword"))

    async def customer_renamed(self, customer_id: str, *, label: str, name: str | None = None,
                               merged_into: str | None = None) -> Envelope[CustomerProfileChanged]:
        """Staff named an unknown contact, or linked it to a directory customer, as ingest announces it."""
        return await self.publish(CustomerProfileChanged(customer_id=customer_id, customer_name=name,
                                                         customer_label=label, merged_into_customer_id=merged_into))

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
        watch = TopicWatch(self.bootstrap, topic)
        await asyncio.to_thread(watch.start)
        self.watches.append(watch)
        return watch

    async def close(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(watch.stop) for watch in self.watches))
        await super().close()


@pytest.fixture
async def shop(issues_service: ServiceProcess, kafka_bootstrap: str) -> AsyncIterator[Shop]:
    """A new tenant on the shared issues process, so no test sees another's data."""
    async with httpx.AsyncClient(timeout=15) as http:
        shop = Shop(bootstrap=kafka_bootstrap, url=issues_service.url, http=http)
        try:
            yield shop
        finally:
            await shop.close()
