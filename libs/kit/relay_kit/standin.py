"""In-process MongoDB stand-in with the async interface of PyMongo's AsyncMongoClient.

Query, update and index logic is mongomock's; this module only gives it the awaitable
surface the services use, so embedded mode and the tests run the same store code as
production. Keep to operations that a real MongoDB 7 performs the same way.

Given a data folder (`StandInClient(data_dir=...)`), every write is journaled there and fsynced before it
returns, and the folder is loaded again at start (`relay_kit.journal`): the data outlives the process.
Without one, the data lives in this process only.
"""

from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import mongomock
from mongomock import helpers
from pymongo import DeleteMany, DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne
from pymongo.errors import DuplicateKeyError

from relay_kit.journal import DEFAULT_COMPACT_AFTER_BYTES, Journal

WRITES = frozenset({
    "insert_one", "insert_many", "update_one", "update_many", "replace_one", "delete_one", "delete_many",
    "find_one_and_update", "find_one_and_replace", "find_one_and_delete", "bulk_write", "create_index",
    "drop_index",
})
"""The pass-through operations that change data or indexes: each is journaled when there is a data folder."""

_UNDONE_ON_DUPLICATE = frozenset({
    "insert_one", "update_one", "replace_one", "find_one_and_update", "find_one_and_replace",
})
"""Single-document writes that mongomock undoes itself when they hit a unique index: nothing to journal."""

_BULK_OPERATIONS = {cls.__name__: cls for cls in (InsertOne, UpdateOne, UpdateMany, ReplaceOne, DeleteOne, DeleteMany)}
_BULK_FIELDS = {"_filter": "filter", "_doc": None, "_upsert": "upsert", "_collation": "collation",
                "_array_filters": "array_filters", "_hint": "hint", "_sort": "sort"}


class StandInCursor:
    """Async face of a mongomock cursor (`find`, `aggregate`)."""

    def __init__(self, cursor: Iterable[dict[str, Any]]) -> None:
        self._cursor = cursor

    def sort(self, *args: Any, **kwargs: Any) -> "StandInCursor":
        self._cursor = self._cursor.sort(*args, **kwargs)  # type: ignore[attr-defined]
        return self

    def skip(self, count: int) -> "StandInCursor":
        self._cursor = self._cursor.skip(count)  # type: ignore[attr-defined]
        return self

    def limit(self, count: int) -> "StandInCursor":
        self._cursor = self._cursor.limit(count)  # type: ignore[attr-defined]
        return self

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        documents = []
        for document in self._cursor:
            documents.append(document)
            if length is not None and len(documents) >= length:
                break
        return documents

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        for document in self._cursor:
            yield document


class StandInCollection:
    """Async face of a mongomock collection."""

    _PASS_THROUGH = (
        "insert_one",
        "insert_many",
        "find_one",
        "find_one_and_update",
        "find_one_and_replace",
        "find_one_and_delete",
        "update_one",
        "update_many",
        "replace_one",
        "delete_one",
        "delete_many",
        "count_documents",
        "distinct",
        "create_index",
        "drop_index",
        "index_information",
        "bulk_write",
    )

    def __init__(self, collection: mongomock.Collection, *, journal: Journal | None = None) -> None:
        self._collection = collection
        self._journal = journal
        self.name = collection.name

    @property
    def database(self) -> "StandInDatabase":
        """The database this collection belongs to, journaled alike (PyMongo's `AsyncCollection.database`)."""
        return StandInDatabase(self._collection.database, journal=self._journal)

    def find(self, *args: Any, **kwargs: Any) -> StandInCursor:
        return StandInCursor(self._collection.find(*args, **kwargs))

    async def aggregate(self, pipeline: list[dict[str, Any]], **kwargs: Any) -> StandInCursor:
        return StandInCursor(self._collection.aggregate(pipeline, **kwargs))

    async def create_index(self, keys: Any, **options: Any) -> str:
        """Create an index; an identical one that exists already is left as it is (as MongoDB does)."""
        options.pop("session", None)
        key = _index_key(keys)
        name, spec = _index_spec(key, options)
        if self._collection._store.indexes.get(name) == spec:
            return name
        return self._write("create_index", [[list(pair) for pair in key]], options)

    async def create_indexes(self, models: list[Any]) -> list[str]:
        return [await self.create_index(model.document["key"].items(), **_index_options(model)) for model in models]

    def __getattr__(self, name: str) -> Any:
        if name not in self._PASS_THROUGH:
            raise AttributeError(f"the MongoDB stand-in does not offer {name!r}")
        method = getattr(self._collection, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            kwargs.pop("session", None)
            if name in WRITES:
                return self._write(name, list(args), kwargs)
            return method(*args, **kwargs)

        return call

    def _write(self, operation: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """One write, journaled with its answer's inputs when there is a data folder (no await: atomic)."""
        if self._journal is None:
            return perform(self._collection, operation, args, kwargs)
        return self._journal.write(
            database=self._collection.database.name, collection=self.name, operation=operation, args=args,
            kwargs=kwargs, rolled_back=lambda error: _rolled_back(operation, error))


def perform(collection: mongomock.Collection, operation: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Run one write operation on a mongomock collection: live, and again when a journal is replayed."""
    if operation == "create_index":
        return _create_index(collection, args[0], **kwargs)
    return getattr(collection, operation)(*args, **kwargs)


def encode_write(operation: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """A write's arguments as a BSON-ready document; documents to insert get their `_id` first, as in PyMongo."""
    args = list(args)
    if operation == "insert_one":
        _give_id(args[0] if args else kwargs["document"])
    elif operation == "insert_many":
        documents = list(args[0] if args else kwargs.pop("documents"))
        for document in documents:
            _give_id(document)
        args = [documents, *args[1:]]
    elif operation == "bulk_write":
        requests = args[0] if args else kwargs.pop("requests")
        args = [[_bulk_request(request) for request in requests], *args[1:]]
    return {"a": args, "k": kwargs}


def decode_write(operation: str, body: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """The arguments of a write as decoded from its journal record (or its BSON round trip)."""
    args, kwargs = body["a"], body["k"]
    if operation == "bulk_write":
        args = [[_bulk_operation(request) for request in args[0]], *args[1:]]
    return args, kwargs


def _give_id(document: Any) -> None:
    if isinstance(document, dict) and "_id" not in document:
        document["_id"] = mongomock.ObjectId()


def _bulk_request(request: Any) -> dict[str, Any]:
    kind = type(request).__name__
    if kind not in _BULK_OPERATIONS:
        raise TypeError(f"the MongoDB stand-in does not journal bulk operation {kind}")
    fields: dict[str, Any] = {"op": kind}
    for attribute, argument in _BULK_FIELDS.items():
        value = getattr(request, attribute, None)
        if value is None:
            continue
        if attribute == "_doc":
            argument = {"InsertOne": "document", "ReplaceOne": "replacement"}.get(kind, "update")
            if kind == "InsertOne":
                _give_id(value)
        fields[argument] = value
    return fields


def _bulk_operation(fields: dict[str, Any]) -> Any:
    fields = dict(fields)
    return _BULK_OPERATIONS[fields.pop("op")](**fields)


def _rolled_back(operation: str, error: BaseException) -> bool:
    """Whether a failed write left the data as it was (so it is not journaled)."""
    if operation in ("create_index", "drop_index"):
        return True  # both check before they change anything
    return operation in _UNDONE_ON_DUPLICATE and isinstance(error, DuplicateKeyError)


def _index_key(keys: Any) -> list[tuple[str, Any]]:
    if isinstance(keys, str):
        return [(keys, 1)]
    return [(pair, 1) if isinstance(pair, str) else (pair[0], pair[1]) for pair in keys]


def _index_spec(key: list[tuple[str, Any]], options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The name and the description mongomock keeps of an index (`create_index` builds the same)."""
    spec: dict[str, Any] = {"key": key}
    if options.get("sparse"):
        spec["sparse"] = True
    if options.get("unique"):
        spec["unique"] = True
    for option in ("expireAfterSeconds", "partialFilterExpression"):
        if options.get(option) is not None:
            spec[option] = options[option]
    return options.get("name") or helpers.gen_index_name(key), spec


def _create_index(collection: mongomock.Collection, keys: Any, **options: Any) -> str:
    """Create an index as MongoDB would, also where mongomock does not.

    mongomock checks a new unique index against every document, also those its partial filter leaves out;
    MongoDB checks only those it covers. Creating the index one-open-issue-per-customer on data that holds
    closed issues of one customer must work (every service creates its indexes at each start).
    """
    key = _index_key(keys)
    name, spec = _index_spec(key, options)
    existing = collection._store.indexes.get(name)
    if existing == spec:
        return name
    if existing is None and spec.get("unique") and "partialFilterExpression" in spec:
        seen: list[list[Any]] = []
        for document in collection.find(spec["partialFilterExpression"]):
            values = [_value_at(document, field) for field, _ in key]
            if values in seen:
                raise DuplicateKeyError(f"E11000 duplicate key error: index {name} dup key {values}", 11000)
            seen.append(values)
        collection._store.create_index(name, spec)
        return name
    return collection.create_index(key, **options)


def _value_at(document: dict[str, Any], field: str) -> Any:
    try:
        return helpers.get_value_by_dot(document, field)
    except KeyError:
        return None


def _index_options(model: Any) -> dict[str, Any]:
    return {k: v for k, v in model.document.items() if k != "key"}


class StandInDatabase:
    """Async face of a mongomock database."""

    def __init__(self, database: mongomock.Database, *, journal: Journal | None = None) -> None:
        self._database = database
        self._journal = journal
        self.name = database.name

    def __getitem__(self, name: str) -> StandInCollection:
        return StandInCollection(self._database[name], journal=self._journal)

    def get_collection(self, name: str) -> StandInCollection:
        return self[name]

    async def command(self, command: str | dict[str, Any]) -> dict[str, Any]:
        name = command if isinstance(command, str) else next(iter(command))
        if name == "ping":
            return {"ok": 1.0}
        raise NotImplementedError(f"the MongoDB stand-in does not run {name!r}")


class StandInClient:
    """Async face of a mongomock client: what `AsyncMongoClient(uri)` is in production.

    With `data_dir`, the data is loaded from that folder and every write is journaled there before it returns.
    """

    def __init__(self, *, data_dir: Path | str | None = None,
                 compact_after_bytes: int = DEFAULT_COMPACT_AFTER_BYTES) -> None:
        self._client = mongomock.MongoClient(tz_aware=True)
        self.journal = Journal(Path(data_dir), client=self._client, perform=perform, encode=encode_write,
                               decode=decode_write, compact_after_bytes=compact_after_bytes) if data_dir else None

    def __getitem__(self, name: str) -> StandInDatabase:
        return StandInDatabase(self._client[name], journal=self.journal)

    def get_database(self, name: str) -> StandInDatabase:
        return self[name]

    async def close(self) -> None:
        if self.journal is not None:
            self.journal.close()
        self._client.close()
