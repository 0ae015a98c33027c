"""The outbox: an event stored with its change is published after the write, or later by the sweeper."""

from datetime import UTC, datetime, timedelta

from relay_contracts import new_event, parse_event
from relay_contracts.staff import StaffAccountSaved
from relay_kit import outbox
from relay_kit.outbox import Outbox
from relay_kit.standin import StandInClient


def _event(name: str):
    return new_event(StaffAccountSaved(staff_id=name, username=name, display_name=name), tenant_id="t",
                     producer="test")


async def test_flush_publishes_in_order_and_empties_the_outbox() -> None:
    collection = StandInClient()["db"]["things"]
    published = []

    async def publish(event) -> None:
        published.append(parse_event(event.body).payload.staff_id)

    box = Outbox(service="test", publish=publish, collections=[collection])
    await collection.insert_one(outbox.with_events({"_id": 1}, [_event("a")]))
    await collection.update_one({"_id": 1}, {"$set": {"x": 1}, "$push": outbox.push_events([_event("b")])})
    await box.flush(collection, 1)
    assert published == ["a", "b"]
    assert (await collection.find_one({"_id": 1}))["_outbox"] == []


async def test_sweeper_publishes_what_a_failed_publish_left_behind() -> None:
    collection = StandInClient()["db"]["things"]
    published = []
    broker_up = False

    async def publish(event) -> None:
        if not broker_up:
            raise ConnectionError("broker down")
        published.append(parse_event(event.body).payload.staff_id)

    box = Outbox(service="test", publish=publish, collections=[collection])
    await collection.insert_one(outbox.with_events({"_id": 1}, [_event("a")]))
    try:
        await box.flush(collection, 1)
    except ConnectionError:
        pass
    assert published == []
    assert len((await collection.find_one({"_id": 1}))["_outbox"]) == 1
    broker_up = True
    assert await box.sweep(older_than=timedelta(0)) == 1
    assert published == ["a"]
    assert await box.sweep(older_than=timedelta(0)) == 0


async def test_sweeper_leaves_fresh_events_to_the_writer() -> None:
    collection = StandInClient()["db"]["things"]
    box = Outbox(service="test", publish=lambda e: None, collections=[collection])  # type: ignore[arg-type]
    await collection.insert_one(outbox.with_events({"_id": 1, "at": datetime.now(UTC)}, [_event("a")]))
    assert await box.sweep(older_than=timedelta(minutes=5)) == 0


async def test_the_sweeper_finds_pending_events_through_its_index() -> None:
    collection = StandInClient()["db"]["things"]
    published = []

    async def publish(event) -> None:
        published.append(parse_event(event.body).payload.staff_id)

    box = Outbox(service="test", publish=publish, collections=[collection])
    await box.prepare()
    await box.prepare()
    assert "outbox_pending" in await collection.index_information()
    await collection.insert_one(outbox.with_events({"_id": 1}, [_event("a")]))
    await collection.insert_one({"_id": 2, "_outbox": []})
    await collection.insert_one({"_id": 3})
    assert await box.sweep(older_than=timedelta(0)) == 1
    assert published == ["a"]
