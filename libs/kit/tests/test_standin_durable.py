"""With a data folder the stand-in keeps every write across a restart, survives a torn last write, compacts."""

import datetime
import logging
from pathlib import Path

import pytest
from bson import Binary, ObjectId
from pymongo import ASCENDING, DeleteOne, IndexModel, InsertOne, ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from relay_kit import store
from relay_kit.journal import JOURNAL, SNAPSHOT, CorruptSnapshot, DataFolderInUse
from relay_kit.settings import ServiceSettings
from relay_kit.standin import StandInClient

ONE_OPEN_PER_CUSTOMER = IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING)], unique=True,
                                   partialFilterExpression={"is_open": True}, name="one_open_issue")
NUMBER_PER_TENANT = IndexModel([("tenant_id", ASCENDING), ("number", ASCENDING)], unique=True)


def reopen(folder: Path, **options: object) -> StandInClient:
    return StandInClient(data_dir=folder, **options)


async def test_every_kind_of_write_is_there_after_a_restart(tmp_path: Path) -> None:
    client = reopen(tmp_path)
    things = client["db"]["things"]
    await things.insert_one({"_id": "a", "n": 1})
    await things.insert_many([{"_id": "b", "n": 2}, {"_id": "c", "n": 3}, {"n": 4}])
    await things.update_one({"_id": "a"}, {"$inc": {"n": 10}})
    await things.update_many({"n": {"$gte": 3}}, {"$set": {"big": True}})
    await things.update_one({"_id": "u"}, {"$setOnInsert": {"n": 0}}, upsert=True)
    await things.update_one({"key": "no-id"}, {"$set": {"n": 5}}, upsert=True)  # an ObjectId drawn by the store
    await things.replace_one({"_id": "b"}, {"n": 20})
    await things.update_one({"_id": "a"}, {"$currentDate": {"touched": True}})  # the clock the store read is kept
    await things.find_one_and_update({"_id": "c"}, {"$push": {"tags": "x"}}, return_document=ReturnDocument.AFTER)
    await things.find_one_and_replace({"_id": "u"}, {"n": -1})
    await things.find_one_and_delete({"n": 4})
    await things.insert_one({"_id": "d"})
    await things.delete_one({"_id": "d"})
    await things.insert_many([{"_id": "e", "gone": True}, {"_id": "f", "gone": True}])
    await things.delete_many({"gone": True})
    await things.bulk_write([InsertOne({"_id": "g"}), DeleteOne({"_id": "nothing"})])
    await things.create_index("n", name="by_n")
    await things.create_index([("big", ASCENDING)], name="by_big")
    await things.drop_index("by_big")
    before = await things.find({}).to_list(None)
    indexes = await things.index_information()
    await client.close()

    again = reopen(tmp_path)
    assert await again["db"]["things"].find({}).to_list(None) == before
    assert await again["db"]["things"].index_information() == indexes
    assert {"by_n"} < set(indexes) and "by_big" not in indexes
    await again.close()


async def test_unique_and_partial_unique_indexes_still_refuse_after_a_restart(tmp_path: Path) -> None:
    client = reopen(tmp_path)
    issues = client["relay_issues"]["issues"]
    await store.apply_indexes(client["relay_issues"], {"issues": [ONE_OPEN_PER_CUSTOMER, NUMBER_PER_TENANT]})
    await issues.insert_one({"tenant_id": "t", "customer_id": "c", "is_open": False, "number": 1})
    await issues.insert_one({"tenant_id": "t", "customer_id": "c", "is_open": False, "number": 2})
    await issues.insert_one({"tenant_id": "t", "customer_id": "c", "is_open": True, "number": 3})
    await client.close()

    again = reopen(tmp_path)
    issues = again["relay_issues"]["issues"]
    # every service re-creates its indexes at start: on closed issues sharing a customer this must work
    await store.apply_indexes(again["relay_issues"], {"issues": [ONE_OPEN_PER_CUSTOMER, NUMBER_PER_TENANT]})
    with pytest.raises(DuplicateKeyError):
        await issues.insert_one({"tenant_id": "t", "customer_id": "c", "is_open": True, "number": 4})
    with pytest.raises(DuplicateKeyError):
        await issues.insert_one({"tenant_id": "t", "customer_id": "other", "is_open": True, "number": 3})
    with pytest.raises(DuplicateKeyError):
        await issues.update_one({"number": 2}, {"$set": {"is_open": True}})
    await issues.insert_one({"tenant_id": "t", "customer_id": "other", "is_open": True, "number": 4})
    assert await issues.count_documents({"tenant_id": "t"}) == 4
    await again.close()


async def test_a_failed_write_is_not_journaled_and_a_part_done_one_is_kept_as_far_as_it_went(tmp_path: Path) -> None:
    client = reopen(tmp_path)
    things = client["db"]["things"]
    await things.insert_one({"_id": 1})
    journal = tmp_path / JOURNAL
    size = journal.stat().st_size
    with pytest.raises(DuplicateKeyError):
        await things.insert_one({"_id": 1, "dup": True})
    assert journal.stat().st_size == size
    with pytest.raises(BulkWriteError):
        await things.insert_many([{"_id": 2}, {"_id": 1}, {"_id": 3}])  # ordered: 2 goes in, then it stops
    await client.close()

    again = reopen(tmp_path)
    assert [d["_id"] for d in await again["db"]["things"].find({}).to_list(None)] == [1, 2]
    await again.close()


async def test_datetimes_bytes_and_object_ids_come_back_exactly(tmp_path: Path) -> None:
    moment = datetime.datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=datetime.UTC)
    document = {"_id": ObjectId(), "at": moment, "raw": b"\x00\xffbytes", "binary": Binary(b"\x01", 5),
                "nested": {"list": [moment, b"x", 2**40]}}
    client = reopen(tmp_path)
    await client["db"]["things"].insert_one(dict(document))
    live = await client["db"]["things"].find_one({"_id": document["_id"]})
    await client.close()

    again = reopen(tmp_path)
    restored = await again["db"]["things"].find_one({"_id": document["_id"]})
    assert restored == live == document
    assert restored["at"].utcoffset() == datetime.timedelta(0)
    assert await again["db"]["things"].count_documents({"at": {"$gte": moment}}) == 1
    await again.close()


async def test_a_torn_last_write_is_dropped_and_everything_before_it_is_kept(tmp_path: Path, caplog) -> None:
    client = reopen(tmp_path)
    things = client["db"]["things"]
    for n in range(5):
        await things.insert_one({"_id": n, "text": "x" * 100})
    journal = tmp_path / JOURNAL
    whole = journal.stat().st_size
    await things.insert_one({"_id": 99, "text": "the write the crash cut"})
    last_record = journal.stat().st_size - whole
    client.journal.close()  # the process "dies" here (its folder lock goes with it)
    with open(journal, "r+b") as file:
        file.truncate(whole + last_record // 2)

    with caplog.at_level(logging.WARNING, logger="relay_kit.journal"):
        again = reopen(tmp_path)
    assert [d["_id"] for d in await again["db"]["things"].find({}).to_list(None)] == [0, 1, 2, 3, 4]
    assert "torn record" in caplog.text
    assert list(tmp_path.glob(f"{JOURNAL}.torn-*"))
    await again["db"]["things"].insert_one({"_id": 5})  # writes go on after the good part
    await again.close()

    third = reopen(tmp_path)
    assert [d["_id"] for d in await third["db"]["things"].find({}).to_list(None)] == [0, 1, 2, 3, 4, 5]
    await third.close()


async def test_garbage_after_the_last_record_is_dropped_too(tmp_path: Path) -> None:
    client = reopen(tmp_path)
    await client["db"]["things"].insert_one({"_id": 1})
    client.journal.close()
    with open(tmp_path / JOURNAL, "ab") as file:
        file.write(b"\x40\x00\x00\x00" + b"\x00" * 20)  # a length with zeros behind it: fails its CRC

    again = reopen(tmp_path)
    assert await again["db"]["things"].count_documents({}) == 1
    await again.close()


async def test_compaction_keeps_the_contents_and_shrinks_the_journal(tmp_path: Path) -> None:
    client = reopen(tmp_path, compact_after_bytes=4_000)
    things = client["db"]["things"]
    await things.create_indexes([IndexModel([("n", ASCENDING)], unique=True)])
    for n in range(200):
        await things.update_one({"_id": n % 10}, {"$set": {"n": n}, "$inc": {"writes": 1}}, upsert=True)
    assert (tmp_path / SNAPSHOT).exists()
    assert (tmp_path / JOURNAL).stat().st_size < 4_000 + 500  # compacted while running, not grown to ~200 records
    before = await things.find({}).to_list(None)
    await client.close()

    again = reopen(tmp_path)
    assert await again["db"]["things"].find({}).to_list(None) == before
    assert [d["writes"] for d in before] == [20] * 10
    assert (tmp_path / JOURNAL).stat().st_size == 0  # compacted at start as well
    with pytest.raises(DuplicateKeyError):
        await again["db"]["things"].insert_one({"n": 199})
    await again.close()


async def test_a_crash_between_snapshot_and_journal_truncation_replays_nothing_twice(tmp_path: Path) -> None:
    client = reopen(tmp_path)
    things = client["db"]["things"]
    await things.insert_one({"_id": "counter", "n": 0})
    for _ in range(3):
        await things.update_one({"_id": "counter"}, {"$inc": {"n": 1}})
    journal_bytes = (tmp_path / JOURNAL).read_bytes()
    client.journal.compact()
    client.journal.close()
    (tmp_path / JOURNAL).write_bytes(journal_bytes)  # as if the process died before emptying the journal

    again = reopen(tmp_path)
    assert (await again["db"]["things"].find_one({"_id": "counter"}))["n"] == 3
    await again.close()


async def test_one_process_per_data_folder(tmp_path: Path) -> None:
    client = reopen(tmp_path)
    with pytest.raises(DataFolderInUse, match="in use by process"):
        reopen(tmp_path)
    await client.close()
    reopen(tmp_path).journal.close()


async def test_a_damaged_snapshot_stops_the_start_instead_of_starting_empty(tmp_path: Path) -> None:
    client = reopen(tmp_path)
    await client["db"]["things"].insert_one({"_id": 1})
    await client.close()
    reopen(tmp_path).journal.close()  # compacts into the snapshot
    snapshot = tmp_path / SNAPSHOT
    snapshot.write_bytes(snapshot.read_bytes()[:-3])
    with pytest.raises(CorruptSnapshot, match="move it aside"):
        reopen(tmp_path)


async def test_connect_opens_the_durable_stand_in_when_the_service_has_a_data_folder(tmp_path: Path,
                                                                                   monkeypatch) -> None:
    monkeypatch.delenv("MONGODB_URI", raising=False)
    monkeypatch.setenv("RELAY_DATA_DIR", str(tmp_path / "issues"))
    settings = ServiceSettings(service_name="issues")
    assert settings.data_dir == tmp_path / "issues" and store.data_outlives_process(settings)
    client = store.connect(settings)
    await client[settings.database_name]["things"].insert_one({"_id": 1})
    await client.close()
    assert (tmp_path / "issues" / JOURNAL).stat().st_size > 0

    monkeypatch.setenv("RELAY_DATA_DIR", "")
    plain = ServiceSettings(service_name="issues")
    assert plain.data_dir is None and not store.data_outlives_process(plain)
    assert store.connect(plain).journal is None


async def test_a_collections_database_is_journaled_alike(tmp_path: Path) -> None:
    client = reopen(tmp_path)
    things = client["db"]["things"]
    await things.database["set_aside"].insert_one({"_id": "dead", "reason": "too large"})
    await client.close()

    again = reopen(tmp_path)
    assert await again["db"]["set_aside"].find_one({"_id": "dead"}) == {"_id": "dead", "reason": "too large"}
    assert again["db"]["things"].database.name == "db"
    await again.close()
