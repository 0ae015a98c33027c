"""State and the event announcing it, stored in one atomic write and published after it.

An event is stored in the `_outbox` array of the very document whose change it announces,
in the same single-document update, so the two can never be apart: there is no moment
where the state is written and the event is not. After the write the event is published
and pulled from the array; if the process dies in between, the sweeper publishes it later.
Consumers are idempotent, so publishing twice is harmless (at-least-once, exactly-once effect).
This needs no multi-document transaction, so it works the same on a MongoDB replica set and
on the in-process stand-in.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import Binary
from pymongo import ASCENDING, IndexModel

from relay_contracts import Envelope
from relay_kit import metrics

log = logging.getLogger(__name__)

FIELD = "_outbox"
PENDING_SINCE = f"{FIELD}.stored_at"
# Only documents with pending events have entries here, so the sweeper never scans a whole collection.
PENDING_INDEX = IndexModel([(PENDING_SINCE, ASCENDING)], name="outbox_pending")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)



@dataclass(frozen=True)
class StoredEvent:
    """An event as kept in a document's outbox: the very bytes to publish, with their topic, key and headers."""

    event_id: str
    topic: str
    key: bytes
    type: str
    correlation_id: str
    body: bytes

    @classmethod
    def from_document(cls, stored: dict[str, Any]) -> "StoredEvent":
        """Read an outbox entry back (bytes come back as bytes from MongoDB and from the stand-in)."""
        return cls(event_id=stored["event_id"], topic=stored["topic"], key=bytes(stored["key"]), type=stored["type"],
                   correlation_id=stored["correlation_id"], body=bytes(stored["body"]))


Publish = Callable[[StoredEvent], Awaitable[None]]


def with_events(document: dict[str, Any], events: Iterable[Envelope[Any]]) -> dict[str, Any]:
    """A new document carrying the events that announce its creation."""
    return {**document, FIELD: [_stored(event) for event in events]}


def push_events(events: Iterable[Envelope[Any]]) -> dict[str, Any]:
    """The `$push` part of an update that stores events beside the change."""
    return {FIELD: {"$each": [_stored(event) for event in events]}}


def _stored(event: Envelope[Any]) -> dict[str, Any]:
    """The outbox entry of an event: encoded once, here; the outbox publishes these bytes as they are."""
    return {"event_id": str(event.event_id), "stored_at": datetime.now(UTC), "topic": event.topic.name,
            "key": Binary(event.key), "type": event.type, "correlation_id": event.correlation_id,
            "body": Binary(event.to_bytes())}


class Outbox:
    """Publishes the events stored in a service's documents, in order, then removes them."""

    def __init__(self, *, service: str, publish: Publish, collections: Iterable[Any]) -> None:
        self.service = service
        self._publish = publish
        self._collections = list(collections)
        self._by_name = {collection.name: collection for collection in self._collections}
        self._lock = asyncio.Lock()

    async def prepare(self) -> None:
        """Declare the index the sweeper finds pending events by (idempotent, at start)."""
        for collection in self._collections:
            await collection.create_indexes([PENDING_INDEX])

    async def flush(self, collection: Any, document_id: Any) -> None:
        """Publish the pending events of one document (right after the write that stored them).

        `collection` is one of the outbox's collections, or its name.
        """
        if isinstance(collection, str):
            collection = self._by_name[collection]
        document = await collection.find_one({"_id": document_id}, {FIELD: 1})
        if document:
            await self._publish_pending(collection, document)

    async def sweep(self, *, older_than: timedelta = timedelta(seconds=2)) -> int:
        """Publish events left pending (a crash or a broker outage after the write); returns how many.

        The pending gauge is set before publishing, so events held back by a broker outage are counted while
        the outage lasts (a failed publish raises, and the next sweep tries again).
        """
        published = 0
        async with self._lock:
            cutoff = datetime.now(UTC) - older_than
            pending_total = 0
            due: list[tuple[Any, dict[str, Any]]] = []
            for collection in self._collections:
                cursor = collection.find({PENDING_SINCE: {"$gte": _EPOCH}}, {FIELD: 1})
                async for document in cursor:
                    pending_total += len(document[FIELD])
                    if document[FIELD][0]["stored_at"].replace(tzinfo=UTC) <= cutoff:
                        due.append((collection, document))
            metrics.OUTBOX_PENDING.labels(self.service).set(pending_total)
            for collection, document in due:
                published += await self._publish_pending(collection, document)
                metrics.OUTBOX_PENDING.labels(self.service).set(pending_total - published)
        return published

    async def run(self, *, every: float) -> None:
        """Sweep forever (cancelled at shutdown)."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox sweep failed; retrying")

    async def _publish_pending(self, collection: Any, document: dict[str, Any]) -> int:
        count = 0
        for stored in document.get(FIELD, []):
            await self._publish(StoredEvent.from_document(stored))
            await collection.update_one(
                {"_id": document["_id"]}, {"$pull": {FIELD: {"event_id": stored["event_id"]}}}
            )
            count += 1
        return count
