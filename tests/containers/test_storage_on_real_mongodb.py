"""The storage rules Relay relies on hold the same on the stand-in and on a real MongoDB 7."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.errors import DuplicateKeyError

from relay_chat import store as chat_store
from relay_contracts import new_event, parse_event
from relay_contracts.customer_messages import Channel, InboundMessageReceived
from relay_gateway import store as gateway_store
from relay_ingest import store as ingest_store
from relay_issues import flows
from relay_issues import store as issues_store
from relay_kit import outbox
from relay_kit.outbox import Outbox
from relay_kit.store import apply_indexes, is_duplicate_key
from relay_kit.unit_of_work import UnitOfWork

SERVICE_INDEXES = {
    "chat": chat_store.INDEXES, "gateway": gateway_store.INDEXES,
    "ingest": ingest_store.INDEXES, "issues": issues_store.INDEXES,
}


def _inbound(*, tenant_id: str, customer_id: str, text: str) -> Any:
    return new_event(InboundMessageReceived(
        customer_id=customer_id, message_id=f"msg_{uuid.uuid4().hex}", channel=Channel.SMS, provider="twilio",
        provider_message_id=f"SM{uuid.uuid4().hex}", from_address="+14155550199", to_address="+15550100000",
        text=text, received_at=datetime.now(UTC),
    ), tenant_id=tenant_id, producer="test")


@pytest.mark.parametrize("service", sorted(SERVICE_INDEXES))
async def test_every_declared_index_is_accepted_and_applying_twice_changes_nothing(database, service: str) -> None:
    indexes = SERVICE_INDEXES[service]
    await apply_indexes(database, indexes)
    await apply_indexes(database, indexes)
    for collection, models in indexes.items():
        names = set(await database[collection].index_information())
        assert {model.document["name"] for model in models} <= names, collection


async def test_a_second_open_issue_for_a_customer_is_refused_but_closed_ones_are_not(database) -> None:
    await issues_store.prepare(database)
    issues = database[issues_store.ISSUES]
    base = {"tenant_id": "t1", "customer_id": "cus_1"}
    await issues.insert_one({"_id": "i1", **base, "is_open": True, "applied_message_ids": ["m1"]})
    with pytest.raises(DuplicateKeyError) as refused:
        await issues.insert_one({"_id": "i2", **base, "is_open": True, "applied_message_ids": ["m2"]})
    assert is_duplicate_key(refused.value)
    await issues.insert_one({"_id": "i3", **base, "is_open": False, "applied_message_ids": ["m3"]})
    await issues.insert_one({"_id": "i4", "tenant_id": "t2", "customer_id": "cus_1", "is_open": True,
                             "applied_message_ids": ["m1"]})
    assert await issues.count_documents({"customer_id": "cus_1"}) == 3


async def test_concurrent_first_messages_open_one_issue_holding_every_message(database) -> None:
    await issues_store.prepare(database)
    published: list[Any] = []

    async def publish(event: Any) -> None:
        published.append(event)

    uow = UnitOfWork(Outbox(service="issues", publish=publish, collections=[database[issues_store.ISSUES]]))
    messages = [_inbound(tenant_id="t-race", customer_id="cus_new", text=f"message {n}") for n in range(6)]

    outcomes = await asyncio.gather(*(flows.open_or_append(database=database, uow=uow, event=m) for m in messages))

    assert sorted(outcomes).count("opened") == 1 and sorted(outcomes).count("appended") == 5
    stored = await database[issues_store.ISSUES].find({"tenant_id": "t-race"}).to_list(None)
    assert len(stored) == 1 and stored[0]["is_open"] is True
    assert sorted(stored[0]["applied_message_ids"]) == sorted(m.payload.message_id for m in messages)
    assert sorted(e.type for e in published) == ["issue.message_appended"] * 5 + ["issue.opened"]
    again = await flows.open_or_append(database=database, uow=uow, event=messages[0])
    assert again == "already_applied"


async def test_the_outbox_keeps_events_with_their_change_until_published(database) -> None:
    things = database["things"]
    published: list[str] = []
    broker_up = False

    async def publish(event: Any) -> None:
        if not broker_up:
            raise ConnectionError("broker down")
        published.append(parse_event(event.body).payload.message_id)

    box = Outbox(service="test", publish=publish, collections=[things])
    await box.prepare()
    assert "outbox_pending" in await things.index_information()
    first, second = (_inbound(tenant_id="t", customer_id="c", text=t) for t in ("a", "b"))
    await things.insert_one(outbox.with_events({"_id": 1}, [first]))
    await things.update_one({"_id": 1}, {"$set": {"x": 1}, "$push": outbox.push_events([second])})
    with pytest.raises(ConnectionError):
        await box.flush(things, 1)
    assert len((await things.find_one({"_id": 1}))[outbox.FIELD]) == 2

    broker_up = True
    assert await box.sweep(older_than=timedelta(0)) == 2
    assert published == [first.payload.message_id, second.payload.message_id]
    assert (await things.find_one({"_id": 1}))[outbox.FIELD] == []
