"""The one unit of work: store a change with its events in one document write, publish them, apply a policy.

Every service commits a change through `UnitOfWork.commit`: the store function it is handed writes the
change and its events (`outbox.with_events` / `outbox.push_events`) in one single-document write, then the
events are published right away. What happens when publishing fails is chosen at the call site, never
defaulted, because it differs by caller:

- `ANSWER_UNAVAILABLE`: a provider webhook must not be answered 2xx before the broker acknowledged its
  event, so the caller gets `Unavailable` (503) and the provider retries; the retry is recorded once.
- `LEAVE_TO_SWEEPER`: a staff action or a consumed event whose state is stored succeeds; the outbox sweeper
  publishes the event later, and `relay_outbox_pending_events` shows it waiting meanwhile.

An event the broker refuses for good is set aside by the outbox (`_outbox_dead`); retrying cannot help, so a
webhook is answered `Unprocessable` (422, the provider does not retry) and a staff action still succeeds, its
event counted in `relay_outbox_dead_lettered_total` for an operator to look at.
"""

import asyncio
import logging
from collections.abc import Awaitable
from enum import StrEnum
from typing import Any, TypeVar

from relay_kit.errors import Unavailable, Unprocessable
from relay_kit.outbox import EventDeadLettered, Outbox

log = logging.getLogger(__name__)

T = TypeVar("T")


class OnPublishFailure(StrEnum):
    """What a caller wants when the change is stored but its events could not be published yet."""

    ANSWER_UNAVAILABLE = "answer_unavailable"
    LEAVE_TO_SWEEPER = "leave_to_sweeper"


class UnitOfWork:
    """Commits changes with their events for one service, through its outbox."""

    def __init__(self, outbox: Outbox, *, publish_timeout_seconds: float = 5.0) -> None:
        self.outbox = outbox
        self.publish_timeout_seconds = publish_timeout_seconds

    async def commit(
        self, write: Awaitable[T], *, collection: str, document_id: Any, on_publish_failure: OnPublishFailure
    ) -> T:
        """Await the store write that keeps the change with its events, then publish them.

        A write that answers None or False wrote nothing (it lost a race and is decided again): nothing is
        published for it. Whatever else it answers is returned once its events are published (or left to the
        sweeper, as the policy says).
        """
        result = await write
        if result is None or result is False:
            return result
        await self.publish_pending(collection=collection, document_id=document_id,
                                   on_publish_failure=on_publish_failure)
        return result

    async def publish_pending(self, *, collection: str, document_id: Any, on_publish_failure: OnPublishFailure) -> None:
        """Publish the events a document still carries (a retried delivery of a change stored earlier)."""
        try:
            # bounded: a broker that does not answer must not hold a webhook or a staff action for the client's
            # whole request timeout; what is not acknowledged by then stays pending for the sweeper. The publish
            # itself is shielded, never cancelled: cancelling the Kafka client's delivery future mid-flight can
            # leave its sender unable to deliver anything after (it finishes or fails on its own).
            flushing = asyncio.ensure_future(self.outbox.flush(collection, document_id))
            flushing.add_done_callback(_retrieve_outcome)
            await asyncio.wait_for(asyncio.shield(flushing), self.publish_timeout_seconds)
        except EventDeadLettered as error:
            if on_publish_failure is OnPublishFailure.ANSWER_UNAVAILABLE:
                raise Unprocessable(f"Recorded, but the broker refused its event for good ({error.reason}); "
                                    "it was set aside and will not be announced.", code="event_refused") from error
        except Exception as error:
            if on_publish_failure is OnPublishFailure.ANSWER_UNAVAILABLE:
                log.warning("publishing the events of %s/%s failed; answering 503", collection, document_id,
                            exc_info=True)
                raise Unavailable("Recorded, but the event could not be published yet; retry shortly.") from error
            log.warning("publishing the events of %s/%s failed; the outbox sweeper will retry", collection,
                        document_id, exc_info=True)


def _retrieve_outcome(task: "asyncio.Future[None]") -> None:
    """Take a shielded publish's outcome once it ends, so a late failure is logged, never left unretrieved."""
    if not task.cancelled() and task.exception() is not None:
        log.info("a publish that outlived its wait failed; the outbox sweeper will retry", exc_info=task.exception())
