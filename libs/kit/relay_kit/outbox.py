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
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel

from relay_contracts import Envelope, parse_event
from relay_kit import metrics

log = logging.getLogger(__name__)

FIELD = "_outbox"
PENDING_SINCE = f"{FIELD}.stored_at"
# Only documents with pending events have entries here, so the sweeper never scans a whole collection.
PENDING_INDEX = IndexModel([(PENDING_SINCE, ASCENDING)], name="outbox_pending")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Publish = Callable[[Envelope[Any]], Awaitable[None]]


def with_events(document: dict[str, Any], events: Iterable[Envelope[Any]]) -> dict[str, Any]:
    """A new document carrying the events that announce its creation."""
    return {**document, FIELD: [_stored(event) for event in events]}


def push_events(events: Iterable[Envelope[Any]]) -> dict[str, Any]:
    """The `$push` part of an update that stores events beside the change."""
    return {FIELD: {"$each": [_stored(event) for event in events]}}


def _stored(event: Envelope[Any]) -> dict[str, Any]:
    return {"event_id": str(event.event_id), "stored_at": datetime.now(UTC), "event": event.to_document()}


class Outbox:
    """Publishes the events stored in a service's documents, in order, then removes them."""

    def __init__(self, *, service: str, publish: Publish, collections: Iterable[Any]) -> None:
        self.service = service
        self._publish = publish
        self._collections = list(collections)
        self._lock = asyncio.Lock()

    async def prepare(self) -> None:
        """Declare the index the sweeper finds pending events by (idempotent, at start)."""
        for collection in self._collections:
            await collection.create_indexes([PENDING_INDEX])

    async def flush(self, collection: Any, document_id: Any) -> None:
        """Publish the pending events of one document (right after the write that stored them)."""
        document = await collection.find_one({"_id": document_id}, {FIELD: 1})
        if document:
            await self._publish_pending(collection, document)

    async def sweep(self, *, older_than: timedelta = timedelta(seconds=2)) -> int:
        """Publish events left pending (a crash or a broker outage after the write); returns how many."""
        published = 0
        async with self._lock:
            cutoff = datetime.now(UTC) - older_than
            pending_total = 0
            for collection in self._collections:
                cursor = collection.find({PENDING_SINCE: {"$gte": _EPOCH}}, {FIELD: 1})
                async for document in cursor:
                    pending_total += len(document[FIELD])
                    if document[FIELD][0]["stored_at"].replace(tzinfo=UTC) <= cutoff:
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
            await self._publish(parse_event(stored["event"]))
            await collection.update_one(
                {"_id": document["_id"]}, {"$pull": {FIELD: {"event_id": stored["event_id"]}}}
            )
            count += 1
        return count
