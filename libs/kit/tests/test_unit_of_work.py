"""The unit of work: a change stored with its events is published as stored, and publish failures follow the caller's policy."""

from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from relay_contracts import new_event
from relay_contracts.staff import StaffAccountSaved
from relay_kit import outbox
from relay_kit.errors import Unavailable
from relay_kit.outbox import Outbox, StoredEvent
from relay_kit.standin import StandInClient
from relay_kit.unit_of_work import OnPublishFailure, UnitOfWork


def _event(name: str):
    return new_event(StaffAccountSaved(staff_id=name, username=name, display_name=name), tenant_id="t1",
                     producer="test")


class Broker:
    """Stands in for the broker: takes stored events, or refuses them while down."""

    def __init__(self) -> None:
        self.up = True
        self.published: list[StoredEvent] = []

    async def publish(self, stored: StoredEvent) -> None:
        if not self.up:
            raise ConnectionError("broker down")
        self.published.append(stored)


def _unit_of_work(service: str, broker: Broker) -> tuple[UnitOfWork, object]:
    collection = StandInClient()["db"]["things"]
    return UnitOfWork(Outbox(service=service, publish=broker.publish, collections=[collection])), collection


async def test_a_committed_change_publishes_the_very_bytes_it_stored() -> None:
    broker = Broker()
    uow, things = _unit_of_work("uow-bytes", broker)
    event = _event("ana")
    await uow.commit(things.insert_one(outbox.with_events({"_id": 1}, [event])), collection="things", document_id=1,
                     on_publish_failure=OnPublishFailure.ANSWER_UNAVAILABLE)
    [stored] = broker.published
    assert stored.body == event.to_bytes()
    assert (stored.topic, stored.key, stored.type) == ("staff.events", event.key, "staff.account_saved")
    assert (await things.find_one({"_id": 1}))[outbox.FIELD] == []


async def test_a_write_that_wrote_nothing_publishes_nothing() -> None:
    broker = Broker()
    uow, things = _unit_of_work("uow-none", broker)
    await things.insert_one(outbox.with_events({"_id": 1}, [_event("ana")]))

    async def lost_the_race() -> None:
        return None

    assert await uow.commit(lost_the_race(), collection="things", document_id=1,
                            on_publish_failure=OnPublishFailure.LEAVE_TO_SWEEPER) is None
    assert broker.published == []


async def test_a_webhook_gets_unavailable_when_the_broker_refuses_and_the_event_stays_pending() -> None:
    broker = Broker()
    broker.up = False
    uow, things = _unit_of_work("uow-503", broker)
    with pytest.raises(Unavailable):
        await uow.commit(things.insert_one(outbox.with_events({"_id": 1}, [_event("ana")])), collection="things",
                         document_id=1, on_publish_failure=OnPublishFailure.ANSWER_UNAVAILABLE)
    assert len((await things.find_one({"_id": 1}))[outbox.FIELD]) == 1


async def test_a_stored_staff_action_succeeds_and_the_sweeper_publishes_it_later() -> None:
    broker = Broker()
    broker.up = False
    uow, things = _unit_of_work("uow-sweeper", broker)
    result = await uow.commit(things.insert_one(outbox.with_events({"_id": 1}, [_event("ana")])),
                              collection="things", document_id=1,
                              on_publish_failure=OnPublishFailure.LEAVE_TO_SWEEPER)
    assert result is not None
    await uow.outbox.sweep(older_than=timedelta(hours=1))
    assert REGISTRY.get_sample_value("relay_outbox_pending_events", {"service": "uow-sweeper"}) == 1
    with pytest.raises(ConnectionError):  # the broker is still down: the sweep fails, the event stays counted
        await uow.outbox.sweep(older_than=timedelta(0))
    assert REGISTRY.get_sample_value("relay_outbox_pending_events", {"service": "uow-sweeper"}) == 1
    broker.up = True
    assert await uow.outbox.sweep(older_than=timedelta(0)) == 1
    assert [s.type for s in broker.published] == ["staff.account_saved"]
    assert REGISTRY.get_sample_value("relay_outbox_pending_events", {"service": "uow-sweeper"}) == 0


async def test_a_broker_that_does_not_answer_holds_a_change_no_longer_than_the_publish_timeout() -> None:
    import asyncio

    async def never_answers(stored: StoredEvent) -> None:
        await asyncio.Event().wait()

    things = StandInClient()["db"]["things"]
    uow = UnitOfWork(Outbox(service="uow-timeout", publish=never_answers, collections=[things]),
                     publish_timeout_seconds=0.2)
    with pytest.raises(Unavailable):
        await asyncio.wait_for(uow.commit(things.insert_one(outbox.with_events({"_id": 1}, [_event("ana")])),
                                          collection="things", document_id=1,
                                          on_publish_failure=OnPublishFailure.ANSWER_UNAVAILABLE), timeout=30)
    assert len((await things.find_one({"_id": 1}))[outbox.FIELD]) == 1


class RefusingBroker(Broker):
    """A broker that refuses every event as too large: retrying will never help."""

    async def publish(self, stored: StoredEvent) -> None:
        from aiokafka.errors import MessageSizeTooLargeError

        raise MessageSizeTooLargeError("too large")


async def test_a_webhook_whose_event_is_refused_for_good_gets_a_4xx_not_a_retry_forever() -> None:
    from relay_kit.errors import Unprocessable

    uow, collection = _unit_of_work("uow-poison-hook", RefusingBroker())
    write = collection.insert_one(outbox.with_events({"_id": 1}, [_event("a")]))
    with pytest.raises(Unprocessable):
        await uow.commit(write, collection="things", document_id=1,
                         on_publish_failure=OnPublishFailure.ANSWER_UNAVAILABLE)
    assert (await collection.find_one({"_id": 1}))["_outbox"] == []  # set aside, not retried by the sweeper


async def test_a_staff_action_whose_event_is_refused_for_good_still_succeeds() -> None:
    uow, collection = _unit_of_work("uow-poison-staff", RefusingBroker())
    write = collection.insert_one(outbox.with_events({"_id": 1}, [_event("a")]))
    assert await uow.commit(write, collection="things", document_id=1,
                            on_publish_failure=OnPublishFailure.LEAVE_TO_SWEEPER)
    assert REGISTRY.get_sample_value("relay_outbox_dead_lettered_total", {"service": "uow-poison-staff"}) == 1
