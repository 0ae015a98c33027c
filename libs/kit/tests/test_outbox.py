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


# --- poison events --------------------------------------------------------------------------------


def _dead_lettered(service: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("relay_outbox_dead_lettered_total", {"service": service}) or 0.0


async def test_an_event_the_broker_refuses_for_good_is_set_aside_and_the_events_behind_it_go_on() -> None:
    from aiokafka.errors import MessageSizeTooLargeError

    database = StandInClient()["db"]
    collection = database["things"]
    published = []

    async def publish(event) -> None:
        name = parse_event(event.body).payload.staff_id
        if name == "poison":
            raise MessageSizeTooLargeError("The message is 3000000 bytes when serialized")
        published.append(name)

    box = Outbox(service="poison-test", publish=publish, collections=[collection])
    await collection.insert_one(outbox.with_events({"_id": 1}, [_event("before"), _event("poison"), _event("after")]))
    await collection.insert_one(outbox.with_events({"_id": 2}, [_event("other")]))
    assert await box.sweep(older_than=timedelta(0)) == 4
    assert published == ["before", "after", "other"]
    assert (await collection.find_one({"_id": 1}))["_outbox"] == []
    [dead] = [d async for d in database[outbox.DEAD_LETTERS].find({})]
    assert dead["collection"] == "things" and dead["document_id"] == 1 and dead["service"] == "poison-test"
    assert dead["reason"].startswith("MessageSizeTooLargeError") and parse_event(bytes(dead["body"]))
    assert _dead_lettered("poison-test") == 1
    assert await box.sweep(older_than=timedelta(0)) == 0  # never tried again


async def test_a_flush_that_hits_a_poison_event_says_so() -> None:
    import pytest
    from aiokafka.errors import MessageSizeTooLargeError

    database = StandInClient()["db"]
    collection = database["things"]

    async def publish(event) -> None:
        raise MessageSizeTooLargeError("too large")

    box = Outbox(service="poison-flush", publish=publish, collections=[collection])
    await collection.insert_one(outbox.with_events({"_id": 1}, [_event("poison")]))
    with pytest.raises(outbox.EventDeadLettered):
        await box.flush(collection, 1)
    assert (await collection.find_one({"_id": 1}))["_outbox"] == []
    assert await database[outbox.DEAD_LETTERS].count_documents({}) == 1


async def test_a_transient_failure_holds_back_only_its_own_document() -> None:
    collection = StandInClient()["db"]["things"]
    published = []

    async def publish(event) -> None:
        name = parse_event(event.body).payload.staff_id
        if name == "stuck":
            raise ConnectionError("leader not available")
        published.append(name)

    box = Outbox(service="transient-test", publish=publish, collections=[collection])
    await collection.insert_one(outbox.with_events({"_id": 1}, [_event("stuck"), _event("stuck-behind")]))
    await collection.insert_one(outbox.with_events({"_id": 2}, [_event("free")]))
    assert await box.sweep(older_than=timedelta(0)) == 1
    assert published == ["free"]  # the stuck document's second event waits, in order, behind its first
    assert [e["event_id"] for e in (await collection.find_one({"_id": 1}))["_outbox"]]  # both still pending
    assert len((await collection.find_one({"_id": 1}))["_outbox"]) == 2
    assert _dead_lettered("transient-test") == 0


async def test_the_real_broker_refusing_a_3_mb_event_does_not_block_the_next(kafka_bootstrap: str) -> None:
    import uuid

    from relay_contracts.topics import Topic
    from relay_kit.kafka import ensure_topics, make_broker, publish_stored
    from relay_stack.polling import eventually
    from relay_stack.testing import TopicWatch

    topic = Topic(f"test.poison.{uuid.uuid4().hex[:8]}", partitions=1)
    await ensure_topics(kafka_bootstrap, [topic])
    broker = make_broker(bootstrap_servers=kafka_bootstrap, client_id="test-poison")
    await broker.start()
    watch = TopicWatch(kafka_bootstrap, topic.name).start()
    try:
        database = StandInClient()["db"]
        collection = database["things"]

        async def publish(stored) -> None:
            await publish_stored(broker, outbox.StoredEvent(
                event_id=stored.event_id, topic=topic.name, key=stored.key, type=stored.type,
                correlation_id=stored.correlation_id, body=stored.body), service="poison-real")

        box = Outbox(service="poison-real", publish=publish, collections=[collection])
        huge = _event("x" * 3_000_000)
        await collection.insert_one(outbox.with_events({"_id": "huge"}, [huge]))
        await collection.insert_one(outbox.with_events({"_id": "next"}, [_event("next")]))
        assert await box.sweep(older_than=timedelta(0)) == 2
        async def next_arrived() -> list:
            return [e for e in watch.seen() if e["payload"]["staff_id"] == "next"]

        await eventually(next_arrived, timeout=30, what="the event behind the refused one")
        [dead] = [d async for d in database[outbox.DEAD_LETTERS].find({})]
        assert dead["event_id"] == str(huge.event_id) and "TooLarge" in dead["reason"]
        assert not [e for e in watch.seen() if e["payload"]["staff_id"].startswith("xxx")]
    finally:
        watch.stop()
        await broker.stop()


async def test_set_aside_events_survive_a_restart_of_a_durable_stand_in(tmp_path) -> None:
    from aiokafka.errors import MessageSizeTooLargeError

    try:
        client = StandInClient(data_dir=tmp_path)
    except TypeError:  # a stand-in without a data folder keeps nothing across restarts to prove
        import pytest

        pytest.skip("this stand-in keeps no data folder")

    async def publish(event) -> None:
        raise MessageSizeTooLargeError("too large")

    collection = client["db"]["things"]
    box = Outbox(service="poison-durable", publish=publish, collections=[collection])
    await collection.insert_one(outbox.with_events({"_id": 1}, [_event("poison")]))
    assert await box.sweep(older_than=timedelta(0)) == 1
    await client.close()
    reopened = StandInClient(data_dir=tmp_path)["db"]
    assert await reopened[outbox.DEAD_LETTERS].count_documents({}) == 1
    assert (await reopened["things"].find_one({"_id": 1}))["_outbox"] == []
