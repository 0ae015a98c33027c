"""Invariants 1 and 2 under races: concurrent deliveries, a crash between write and commit, consumer rebalances."""

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from relay_contracts import new_event
from relay_contracts.customer_messages import Channel, InboundMessageReceived
from relay_issues import flows, store
from relay_issues.app import create_runtime
from relay_issues.settings import IssuesSettings
from relay_kit.outbox import Outbox, StoredEvent
from relay_kit.standin import StandInClient
from relay_kit.unit_of_work import UnitOfWork
from relay_stack.polling import eventually
from relay_stack.processes import ServiceProcess
from relay_stack.testing import EventPublisher


def _inbound(tenant_id: str, customer_id: str, text: str) -> Any:
    return new_event(InboundMessageReceived(
        customer_id=customer_id, message_id=f"msg_{uuid.uuid4().hex}", channel=Channel.SMS, provider="twilio",
        provider_message_id=f"SM{uuid.uuid4().hex}", from_address="+14155550199", to_address="+15550100000",
        text=text, received_at=datetime.now(UTC),
    ), tenant_id=tenant_id, producer="test")


class SimulatedCrash(Exception):
    """The consumer 'dies' right after its write, before its offset is committed."""


class Tap:
    """A consumer's view of the shared store: records which consumer applied which message, can crash after a write."""

    def __init__(self, database: Any, *, name: str, applied: list[tuple[str, str]],
                 crash_after: set[str] | None = None, race_inserts: asyncio.Barrier | None = None) -> None:
        self._database = database
        self.name = name
        self.applied = applied
        self.crash_after = crash_after or set()
        self.race_inserts = race_inserts
        self.raced = False

    def __getitem__(self, name: str) -> Any:
        collection = self._database[name]
        return _TappedIssues(collection, self) if name == store.ISSUES else collection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._database, name)


class _TappedIssues:
    def __init__(self, collection: Any, tap: Tap) -> None:
        self._collection = collection
        self._tap = tap

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    async def insert_one(self, document: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        barrier = self._tap.race_inserts
        if barrier:
            # Hold each opener here until the other arrives too: both have seen "no open issue".
            await asyncio.wait_for(barrier.wait(), timeout=5)
            self._tap.race_inserts, self._tap.raced = None, True
        result = await self._collection.insert_one(document, *args, **kwargs)
        self._written(document["applied_message_ids"][0])
        return result

    async def find_one_and_update(self, selector: dict[str, Any], update: dict[str, Any], *args: Any,
                                  **kwargs: Any) -> Any:
        result = await self._collection.find_one_and_update(selector, update, *args, **kwargs)
        message_ids = update.get("$push", {}).get("applied_message_ids", {}).get("$each", [])
        if result is not None and message_ids:
            self._written(message_ids[0])
        return result

    def _written(self, message_id: str) -> None:
        self._tap.applied.append((self._tap.name, message_id))
        if message_id in self._tap.crash_after:
            self._tap.crash_after.discard(message_id)
            raise SimulatedCrash(f"{self._tap.name} crashed after applying {message_id}")


def _collecting_unit_of_work(database: Any, published: list[StoredEvent]) -> UnitOfWork:
    """A unit of work whose outbox collects what it publishes (each a StoredEvent: its `.type` says which)."""

    async def publish(event: StoredEvent) -> None:
        published.append(event)

    return UnitOfWork(Outbox(service="issues", publish=publish, collections=[database[store.ISSUES]]))


async def _check_one_open_issue_with_every_message(database: Any, *, tenant_id: str, customer_id: str,
                                                   message_ids: list[str]) -> dict[str, Any]:
    issues = await database[store.ISSUES].find({"tenant_id": tenant_id, "customer_id": customer_id}).to_list(None)
    assert len(issues) == 1, f"{len(issues)} issues for one customer"
    issue = issues[0]
    assert issue["is_open"] is True
    applied = [e["inbound_message_id"] for e in issue["timeline"] if e["kind"] == "customer_message"]
    assert sorted(applied) == sorted(message_ids), "every message applied exactly once"
    assert sorted(issue["applied_message_ids"]) == sorted(message_ids)
    assert issue["message_count"] == len(message_ids)
    return issue


# --- the race forced directly on the store ------------------------------------------------------


async def test_two_first_messages_at_once_open_one_issue_holding_both() -> None:
    shared = StandInClient()["relay_issues"]
    await store.prepare(shared)
    applied: list[tuple[str, str]] = []
    tap = Tap(shared, name="both", applied=applied, race_inserts=asyncio.Barrier(2))
    published: list[Any] = []
    uow = _collecting_unit_of_work(shared, published)
    first, second = _inbound("t-race", "cus_new", "Hello?"), _inbound("t-race", "cus_new", "Anyone there?")

    outcomes = await asyncio.gather(flows.open_or_append(database=tap, uow=uow, event=first),
                                    flows.open_or_append(database=tap, uow=uow, event=second))

    assert tap.raced and sorted(outcomes) == ["appended", "opened"]
    await _check_one_open_issue_with_every_message(shared, tenant_id="t-race", customer_id="cus_new",
                                                   message_ids=[first.payload.message_id, second.payload.message_id])
    assert sorted(e.type for e in published) == ["issue.message_appended", "issue.opened"]


async def test_the_same_message_twice_at_once_is_applied_once() -> None:
    shared = StandInClient()["relay_issues"]
    await store.prepare(shared)
    tap = Tap(shared, name="both", applied=[], race_inserts=asyncio.Barrier(2))
    published: list[Any] = []
    message = _inbound("t-race", "cus_twice", "Hello?")

    outcomes = await asyncio.gather(*(flows.open_or_append(
        database=tap, uow=_collecting_unit_of_work(shared, published), event=message) for _ in range(2)))

    assert tap.raced and sorted(outcomes) == ["already_applied", "opened"]
    await _check_one_open_issue_with_every_message(shared, tenant_id="t-race", customer_id="cus_twice",
                                                   message_ids=[message.payload.message_id])
    assert [e.type for e in published] == ["issue.opened"]


# --- two consumers in one group on the real broker, sharing one store --------------------------


async def test_two_consumers_keep_one_open_issue_across_rebalances_and_a_crash_before_commit(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    settings = IssuesSettings(consumer_group=f"issues-rebalance-{uuid.uuid4().hex[:8]}")
    shared = StandInClient()["relay_issues"]
    await store.prepare(shared)
    tenant, customer = f"t-{uuid.uuid4().hex[:8]}", "cus_busy"
    messages = [_inbound(tenant, customer, f"message {n}") for n in range(60)]
    ids = [m.payload.message_id for m in messages]
    applied: list[tuple[str, str]] = []
    crash_after = {ids[5], ids[12], ids[18]}  # A dies between its write and its commit for these
    one = create_runtime(settings, database=Tap(shared, name="A", applied=applied, crash_after=crash_after))
    two = create_runtime(settings, database=Tap(shared, name="B", applied=applied))
    producer = EventPublisher(kafka_bootstrap)

    async def publish(batch: list[Any]) -> None:
        for message in batch:
            await producer.publish(message)

    async def applied_count(n: int) -> bool:
        issue = await shared[store.ISSUES].find_one({"tenant_id": tenant, "is_open": True})
        return issue is not None and len(set(issue["applied_message_ids"])) >= n

    try:
        await one.broker.start()
        await publish(messages[:20])
        await eventually(lambda: applied_count(20), timeout=30, what="A applied the first 20")
        await asyncio.gather(two.broker.start(), publish(messages[20:40]))  # B joins mid-stream: rebalance
        await eventually(lambda: applied_count(40), timeout=30, what="40 applied across the rebalance")
        await asyncio.gather(one.broker.stop(), publish(messages[40:50]))  # A leaves mid-stream: B takes all
        await publish(messages[50:])
        await eventually(lambda: applied_count(60), timeout=30, what="all 60 applied by B after A left")
    finally:
        await asyncio.gather(one.broker.stop(), two.broker.stop(), producer.close(), return_exceptions=True)

    await _check_one_open_issue_with_every_message(shared, tenant_id=tenant, customer_id=customer, message_ids=ids)
    assert not crash_after, "every simulated crash happened"
    writes = Counter(message_id for _, message_id in applied)
    assert all(writes[i] == 1 for i in ids), "a redelivered message is never written twice"
    assert {name for name, message_id in applied if message_id in ids[50:]} == {"B"}


# --- the same with two real processes, when a real MongoDB can be shared (two processes cannot share the stand-in)


@pytest.mark.docker
async def test_two_issues_processes_keep_one_open_issue_when_one_is_killed_mid_stream(
    kafka_bootstrap: str, real_mongodb_uri: str
) -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "MONGODB_URI": real_mongodb_uri,
           "RELAY_MONGODB_DATABASE": f"relay_issues_{uuid.uuid4().hex[:8]}",
           "RELAY_CONSUMER_GROUP": f"issues-kill-{uuid.uuid4().hex[:8]}"}
    first = ServiceProcess("issues-a", module="relay_issues", env=env).start()
    second = ServiceProcess("issues-b", module="relay_issues", env=env)
    tenant, customer = f"t-{uuid.uuid4().hex[:8]}", "cus_busy"
    messages = [_inbound(tenant, customer, f"message {n}") for n in range(40)]
    producer = EventPublisher(kafka_bootstrap)
    from pymongo import AsyncMongoClient

    client = AsyncMongoClient(real_mongodb_uri, tz_aware=True)
    database = client[env["RELAY_MONGODB_DATABASE"]]

    async def applied_count(n: int) -> bool:
        issue = await database[store.ISSUES].find_one({"tenant_id": tenant, "is_open": True})
        return issue is not None and len(set(issue["applied_message_ids"])) >= n

    try:
        await asyncio.to_thread(first.wait_ready, timeout=60)
        for message in messages[:15]:
            await producer.publish(message)
        second.start()
        for message in messages[15:30]:
            await producer.publish(message)
        await asyncio.to_thread(second.wait_ready, timeout=60)
        first.kill()  # no drain, no commit: whatever it wrote but did not commit is redelivered to the other
        for message in messages[30:]:
            await producer.publish(message)
        await eventually(lambda: applied_count(40), timeout=60, what="all 40 applied after the kill")
        await _check_one_open_issue_with_every_message(database, tenant_id=tenant, customer_id=customer,
                                                       message_ids=[m.payload.message_id for m in messages])
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{second.url}/healthz")).status_code == 200
    finally:
        first.kill()
        second.stop()
        await producer.close()
        await client.close()
