"""The durable stand-in answers exactly as the in-memory one: the same random writes on both, restarts in between.

Values are what a real MongoDB keeps exactly (datetimes to the millisecond, as BSON has them); ObjectIds the
stores draw themselves (inserts without `_id`, upserts) differ between the two by nature, so each side's are
named by the order in which they first appear, and then compared.
"""

import asyncio
import copy
import datetime
import tempfile
from pathlib import Path
from typing import Any

from bson import ObjectId
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pymongo import ReturnDocument
from pymongo.results import BulkWriteResult, DeleteResult, InsertManyResult, InsertOneResult, UpdateResult

from relay_kit.standin import StandInClient

ids = st.integers(min_value=0, max_value=4)
small = st.integers(min_value=0, max_value=3)
moments = st.datetimes(min_value=datetime.datetime(2020, 1, 1), max_value=datetime.datetime(2030, 1, 1),
                       timezones=st.just(datetime.UTC)).map(
    lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))
fields = st.fixed_dictionaries({}, optional={
    "k": small, "open": st.booleans(), "n": st.integers(min_value=-5, max_value=5), "t": moments,
    "b": st.binary(max_size=4), "tags": st.lists(small, max_size=2)})
documents = st.one_of(fields, st.builds(lambda i, rest: {"_id": i, **rest}, ids, fields))
filters = st.one_of(
    st.just({}), ids.map(lambda i: {"_id": i}), small.map(lambda k: {"k": k}), st.booleans().map(lambda b: {"open": b}),
    st.integers(min_value=-5, max_value=5).map(lambda n: {"n": {"$gte": n}}), moments.map(lambda t: {"t": {"$lt": t}}))
updates = st.one_of(
    small.map(lambda k: {"$set": {"k": k}}), st.just({"$inc": {"n": 1}}),
    st.booleans().map(lambda b: {"$set": {"open": b}}), st.just({"$unset": {"t": ""}}),
    small.map(lambda v: {"$push": {"tags": v}}), moments.map(lambda t: {"$set": {"t": t}}),
    st.just({"$inc": {"k": 1}, "$setOnInsert": {"created": True}}))
sorts = st.sampled_from([None, [("n", 1)], [("n", -1), ("k", 1)]])
returns = st.sampled_from([ReturnDocument.BEFORE, ReturnDocument.AFTER])
INDEXES = {
    "one_open_per_k": ([("k", 1)], {"unique": True, "partialFilterExpression": {"open": True}}),
    "n_unique_sparse": ([("n", 1)], {"unique": True, "sparse": True}),
    "by_t": ([("t", -1)], {}),
}

operations = st.one_of(
    st.tuples(st.just("insert_one"), st.tuples(documents), st.just({})),
    st.tuples(st.just("insert_many"), st.tuples(st.lists(documents, min_size=1, max_size=3)),
              st.fixed_dictionaries({"ordered": st.booleans()})),
    st.tuples(st.sampled_from(["update_one", "update_many"]), st.tuples(filters, updates),
              st.fixed_dictionaries({"upsert": st.booleans()})),
    st.tuples(st.just("replace_one"), st.tuples(filters, fields), st.fixed_dictionaries({"upsert": st.booleans()})),
    st.tuples(st.just("find_one_and_update"), st.tuples(filters, updates),
              st.fixed_dictionaries({"upsert": st.booleans(), "return_document": returns, "sort": sorts})),
    st.tuples(st.just("find_one_and_replace"), st.tuples(filters, fields),
              st.fixed_dictionaries({"upsert": st.booleans(), "return_document": returns})),
    st.tuples(st.just("find_one_and_delete"), st.tuples(filters), st.fixed_dictionaries({"sort": sorts})),
    st.tuples(st.sampled_from(["delete_one", "delete_many"]), st.tuples(filters), st.just({})),
    st.tuples(st.just("create_index"), st.sampled_from(sorted(INDEXES)).map(lambda name: (INDEXES[name][0],)),
              st.sampled_from(sorted(INDEXES)).map(lambda name: {"name": name})),
    st.tuples(st.just("drop_index"), st.sampled_from(sorted(INDEXES)).map(lambda name: (name,)), st.just({})),
    st.tuples(st.just("reopen"), st.just(()), st.just({})),
)


class Names:
    """Names each ObjectId of one side by the order it first appeared in."""

    def __init__(self) -> None:
        self.names: dict[ObjectId, str] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, ObjectId):
            return self.names.setdefault(value, f"oid#{len(self.names)}")
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self(item) for item in value]
        return value


def answer(result: Any) -> Any:
    """What a caller can see of a write's result."""
    if isinstance(result, InsertOneResult):
        return ("inserted", result.inserted_id)
    if isinstance(result, InsertManyResult):
        return ("inserted", result.inserted_ids)
    if isinstance(result, UpdateResult):
        return ("updated", result.matched_count, result.modified_count, result.upserted_id)
    if isinstance(result, DeleteResult):
        return ("deleted", result.deleted_count)
    if isinstance(result, BulkWriteResult):
        return ("bulk", result.bulk_api_result)
    return result


async def apply(client: StandInClient, operation: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    collection = client["db"]["things"]
    args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    if operation == "create_index":
        kwargs = {**INDEXES[kwargs["name"]][1], **kwargs}
    try:
        return answer(await getattr(collection, operation)(*args, **kwargs))
    except Exception as error:  # the same failure on both sides is the same answer
        return ("failed", type(error).__name__)


async def contents(client: StandInClient) -> Any:
    collection = client["db"]["things"]
    return await collection.find({}).to_list(None), await collection.index_information()


async def run_both(steps: list[tuple[str, tuple[Any, ...], dict[str, Any]]], folder: Path, compact_after: int) -> None:
    memory = StandInClient()
    durable = StandInClient(data_dir=folder, compact_after_bytes=compact_after)
    memory_names, durable_names = Names(), Names()
    try:
        for number, (operation, args, kwargs) in enumerate(steps):
            if operation == "reopen":
                await durable.close()
                durable = StandInClient(data_dir=folder, compact_after_bytes=compact_after)
            else:
                expected = memory_names(await apply(memory, operation, args, kwargs))
                got = durable_names(await apply(durable, operation, args, kwargs))
                assert got == expected, f"step {number}: {operation}{args}{kwargs}"
            same = durable_names(await contents(durable)) == memory_names(await contents(memory))
            assert same, f"after step {number}"
        await durable.close()
        durable = StandInClient(data_dir=folder, compact_after_bytes=compact_after)
        assert durable_names(await contents(durable)) == memory_names(await contents(memory)), "after a final restart"
    finally:
        await durable.close()


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(steps=st.lists(operations, min_size=1, max_size=25), compact_after=st.sampled_from([400, 3_000, 10**9]))
@example(steps=[("insert_many", ([{"_id": 1}, {"_id": 1}, {"_id": 2}],), {"ordered": True}), ("reopen", (), {})],
         compact_after=10**9)  # failed part-way: what went in stays in
@example(steps=[("create_index", ([("k", 1)],), {"name": "one_open_per_k"}),
                ("insert_one", ({"k": 1, "open": True},), {}), ("insert_one", ({"k": 1, "open": True},), {}),
                ("update_one", ({"k": 1}, {"$set": {"open": False}}), {"upsert": False}),
                ("insert_one", ({"k": 1, "open": True},), {}), ("reopen", (), {}),
                ("insert_one", ({"k": 1, "open": True},), {})], compact_after=10**9)
def test_durable_stand_in_answers_as_the_in_memory_one_across_restarts(steps, compact_after) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run_both(steps, Path(folder), compact_after))
