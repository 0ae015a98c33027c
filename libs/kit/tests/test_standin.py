"""The MongoDB stand-in offers the async surface the services use, with mongomock's semantics."""

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError
import pytest

from relay_kit.standin import StandInClient


@pytest.fixture
def collection():
    return StandInClient()["relay_test"]["issues"]


async def test_partial_unique_index_allows_one_open_document_per_key(collection) -> None:
    await collection.create_indexes([IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING)],
                                                unique=True, partialFilterExpression={"is_open": True})])
    await collection.insert_one({"tenant_id": "t", "customer_id": "c", "is_open": True})
    await collection.insert_one({"tenant_id": "t", "customer_id": "c", "is_open": False})
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"tenant_id": "t", "customer_id": "c", "is_open": True})
    assert await collection.count_documents({"tenant_id": "t"}) == 2


async def test_find_returns_an_async_cursor_with_sort_limit_and_to_list(collection) -> None:
    await collection.insert_many([{"n": n, "tenant_id": "t"} for n in (3, 1, 2)])
    assert [d["n"] async for d in collection.find({"tenant_id": "t"}).sort("n", ASCENDING)] == [1, 2, 3]
    assert [d["n"] for d in await collection.find({}).sort("n", -1).limit(2).to_list(None)] == [3, 2]


async def test_find_one_and_update_and_aggregate(collection) -> None:
    await collection.insert_one({"_id": "x", "count": 1})
    after = await collection.find_one_and_update({"_id": "x"}, {"$inc": {"count": 1}},
                                                 return_document=ReturnDocument.AFTER)
    assert after["count"] == 2
    cursor = await collection.aggregate([{"$group": {"_id": None, "total": {"$sum": "$count"}}}])
    assert (await cursor.to_list(None))[0]["total"] == 2


async def test_operations_the_stand_in_does_not_offer_fail_loudly(collection) -> None:
    with pytest.raises(AttributeError, match="does not offer"):
        collection.watch
