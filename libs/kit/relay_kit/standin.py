"""In-process MongoDB stand-in with the async interface of PyMongo's AsyncMongoClient.

Query, update and index logic is mongomock's; this module only gives it the awaitable
surface the services use, so embedded mode and the tests run the same store code as
production. Keep to operations that a real MongoDB 7 performs the same way.
"""

from collections.abc import AsyncIterator, Iterable
from typing import Any

import mongomock


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

    def __init__(self, collection: mongomock.Collection) -> None:
        self._collection = collection
        self.name = collection.name

    def find(self, *args: Any, **kwargs: Any) -> StandInCursor:
        return StandInCursor(self._collection.find(*args, **kwargs))

    async def aggregate(self, pipeline: list[dict[str, Any]], **kwargs: Any) -> StandInCursor:
        return StandInCursor(self._collection.aggregate(pipeline, **kwargs))

    async def create_indexes(self, models: list[Any]) -> list[str]:
        return [
            self._collection.create_index(model.document["key"].items(), **_index_options(model))
            for model in models
        ]

    def __getattr__(self, name: str) -> Any:
        if name not in self._PASS_THROUGH:
            raise AttributeError(f"the MongoDB stand-in does not offer {name!r}")
        method = getattr(self._collection, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            kwargs.pop("session", None)
            return method(*args, **kwargs)

        return call


def _index_options(model: Any) -> dict[str, Any]:
    return {k: v for k, v in model.document.items() if k != "key"}


class StandInDatabase:
    """Async face of a mongomock database."""

    def __init__(self, database: mongomock.Database) -> None:
        self._database = database
        self.name = database.name

    def __getitem__(self, name: str) -> StandInCollection:
        return StandInCollection(self._database[name])

    def get_collection(self, name: str) -> StandInCollection:
        return self[name]

    async def command(self, command: str | dict[str, Any]) -> dict[str, Any]:
        name = command if isinstance(command, str) else next(iter(command))
        if name == "ping":
            return {"ok": 1.0}
        raise NotImplementedError(f"the MongoDB stand-in does not run {name!r}")


class StandInClient:
    """Async face of a mongomock client: what `AsyncMongoClient(uri)` is in production."""

    def __init__(self) -> None:
        self._client = mongomock.MongoClient(tz_aware=True)

    def __getitem__(self, name: str) -> StandInDatabase:
        return StandInDatabase(self._client[name])

    def get_database(self, name: str) -> StandInDatabase:
        return self[name]

    async def close(self) -> None:
        self._client.close()
