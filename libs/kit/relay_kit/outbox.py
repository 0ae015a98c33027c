"""State and the event announcing it, stored in one atomic write and published after it.

An event is stored in the `_outbox` array of the very document whose change it announces,
in the same single-document update, so the two can never be apart: there is no moment
where the state is written and the event is not. After the write the event is published
and pulled from the array; if the process dies in between, the sweeper publishes it later.
Consumers are idempotent, so publishing twice is harmless (at-least-once, exactly-once effect).
This needs no multi-document transaction, so it works the same on a MongoDB replica set and
on the in-process stand-in.

An event the broker refuses for good (too large, an invalid topic, a corrupt record) is a poison event: it is
moved out of `_outbox` into the `_outbox_dead` collection of the same database with the reason, counted in
`relay_outbox_dead_lettered_total{service}` and logged, and the events behind it go on. A transient failure (no
broker, a timeout) keeps the event where it is for the next try, and holds back only the events of its own
document (which must stay in order), never those of other documents.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import errors as kafka_errors
from bson import Binary
from prometheus_client import Counter
from pymongo import ASCENDING, IndexModel

from relay_contracts import Envelope
from relay_kit import metrics

log = logging.getLogger(__name__)

FIELD = "_outbox"
PENDING_SINCE = f"{FIELD}.stored_at"
# Only documents with pending events have entries here, so the sweeper never scans a whole collection.
PENDING_INDEX = IndexModel([(PENDING_SINCE, ASCENDING)], name="outbox_pending")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEAD_LETTERS = "_outbox_dead"
"""The collection, beside a service's own, where events the broker refused for good are kept with the reason."""

PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    kafka_errors.MessageSizeTooLargeError,  # also raised by the producer itself, before sending
    kafka_errors.RecordListTooLargeError,
    kafka_errors.InvalidTopicError,
    kafka_errors.CorruptRecordException,
    kafka_errors.UnsupportedForMessageFormatError,
)
"""Refusals that no retry can change. Anything else (no broker, a timeout, a leader election, missing rights
that an operator may grant) is transient: the event stays in the outbox and is tried again."""

DEAD_LETTERED = Counter("relay_outbox_dead_lettered_total",
                        "Stored events the broker refused for good, set aside in _outbox_dead", ["service"])



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


class EventDeadLettered(Exception):
    """A flushed event was refused by the broker for good and set aside; the change is stored, never announced."""

    def __init__(self, *, event_id: str, reason: str) -> None:
        super().__init__(f"event {event_id} was set aside: {reason}")
        self.event_id = event_id
        self.reason = reason


def is_permanent(error: BaseException) -> bool:
    """Whether a publish failure is a refusal no retry can change (see PERMANENT_ERRORS)."""
    return isinstance(error, PERMANENT_ERRORS)


def _dead_letter_collection(collection: Any) -> Any:
    """The `_outbox_dead` collection in the database of one of the outbox's collections (either mode)."""
    return collection.database[DEAD_LETTERS]


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

    def __init__(self, *, service: str, publish: Publish, collections: Iterable[Any],
                 dead_letters: Any | None = None) -> None:
        self.service = service
        self._publish = publish
        self._collections = list(collections)
        self._by_name = {collection.name: collection for collection in self._collections}
        self._lock = asyncio.Lock()
        self._dead_letters = dead_letters
        if self._dead_letters is None and self._collections:
            self._dead_letters = _dead_letter_collection(self._collections[0])

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
            await self._publish_pending(collection, document, raise_dead_lettered=True)

    async def sweep(self, *, older_than: timedelta = timedelta(seconds=2)) -> int:
        """Publish events left pending (a crash or a broker outage after the write); returns how many.

        The pending gauge is set before publishing, so events held back by a broker outage are counted while
        the outage lasts. A document whose publish fails is left for the next sweep and the sweep goes on with
        the others; a poison event is set aside (see the module's docstring).
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
            failed: Exception | None = None
            for collection, document in due:
                try:
                    published += await self._publish_pending(collection, document)
                except Exception as error:  # transient: this document waits, the ones behind it do not
                    failed = failed or error
                    log.warning("outbox: the events of %s/%s could not be published yet; retrying later: %s",
                                collection.name, document["_id"], error)
                metrics.OUTBOX_PENDING.labels(self.service).set(pending_total - published)
            if failed is not None and not published:
                raise failed  # nothing got through: the broker is probably down (logged by `run`)
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

    async def _publish_pending(self, collection: Any, document: dict[str, Any], *,
                               raise_dead_lettered: bool = False) -> int:
        """Publish a document's events in order; returns how many left the outbox (published or set aside)."""
        count = 0
        dead: EventDeadLettered | None = None
        for stored in document.get(FIELD, []):
            try:
                await self._publish(StoredEvent.from_document(stored))
            except Exception as error:
                if not is_permanent(error):
                    raise
                dead = dead or await self._set_aside(collection, document["_id"], stored, error)
            else:
                await collection.update_one(
                    {"_id": document["_id"]}, {"$pull": {FIELD: {"event_id": stored["event_id"]}}}
                )
            count += 1
        if dead is not None and raise_dead_lettered:
            raise dead
        return count

    async def _set_aside(self, collection: Any, document_id: Any, stored: dict[str, Any],
                         error: BaseException) -> EventDeadLettered:
        """Move a poison event from the document's outbox to `_outbox_dead`, with the reason, and count it."""
        reason = f"{type(error).__name__}: {error}"[:1000]
        record = {**stored, "service": self.service, "collection": collection.name, "document_id": document_id,
                  "reason": reason, "dead_lettered_at": datetime.now(UTC)}
        # kept first and keyed by the event, so a crash before the pull only repeats this, never loses the event
        await self._dead_letters.replace_one({"_id": stored["event_id"]}, {"_id": stored["event_id"], **record},
                                             upsert=True)
        await collection.update_one({"_id": document_id}, {"$pull": {FIELD: {"event_id": stored["event_id"]}}})
        DEAD_LETTERED.labels(self.service).inc()
        log.error("outbox: event %s (%s on %s, %d bytes) of %s/%s was refused for good and set aside in %s: %s",
                  stored["event_id"], stored["type"], stored["topic"], len(bytes(stored["body"])), collection.name,
                  document_id, DEAD_LETTERS, reason)
        return EventDeadLettered(event_id=stored["event_id"], reason=reason)
