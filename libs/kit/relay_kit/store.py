"""Connecting a service to its own database: a real MongoDB, or the in-process stand-in."""

from typing import Any, TypeAlias

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from relay_kit.settings import ServiceSettings
from relay_kit.standin import StandInClient, StandInCollection, StandInDatabase

Document: TypeAlias = dict[str, Any]
Database: TypeAlias = AsyncDatabase[Document] | StandInDatabase
"""A service's own database: a real MongoDB's (PyMongo's async API) or the in-process stand-in's."""
Collection: TypeAlias = AsyncCollection[Document] | StandInCollection
"""One collection of a service's database, in either mode."""


def connect(settings: ServiceSettings) -> Any:
    """Client for MONGODB_URI when set, else the stand-in: durable in `data_dir` when set, else in this process only."""
    if settings.mongodb_uri:
        return AsyncMongoClient(settings.mongodb_uri, tz_aware=True, appname=settings.service_name)
    if settings.data_dir:
        return StandInClient(data_dir=settings.data_dir, compact_after_bytes=settings.data_compact_bytes)
    return StandInClient()


def uses_real_mongodb(settings: ServiceSettings) -> bool:
    """Whether the service talks to a real MongoDB (MONGODB_URI)."""
    return bool(settings.mongodb_uri)


def data_outlives_process(settings: ServiceSettings) -> bool:
    """Whether data survives a restart of the process: a real MongoDB, or the stand-in with a data folder."""
    return bool(settings.mongodb_uri or settings.data_dir)


async def apply_indexes(database: Database, indexes: dict[str, list[IndexModel]]) -> None:
    """Create the declared indexes (idempotent), the same way in both modes."""
    for collection, models in indexes.items():
        if models:
            await database[collection].create_indexes(models)


def is_duplicate_key(error: BaseException) -> bool:
    """Whether a write failed on a unique index (the same exception type in both modes)."""
    from pymongo.errors import DuplicateKeyError

    return isinstance(error, DuplicateKeyError)
