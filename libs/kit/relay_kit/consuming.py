"""The one way a service consumes topics: handlers typed by payload class, dispatched by type.

A service declares its handlers with `EventHandlers.on(PayloadClass)`; the topics it consumes follow from
the payload classes. Each event reaches only the handler registered for its payload's class (or, where a
service handles a whole family, its nearest registered base class): a handler for `IssueAssigned` never
sees a `ChatMessagePosted`. Decoding, dead-lettering, metrics, log context and commit-after-handler live
here and nowhere else.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from relay_contracts import Envelope, EventPayload, InvalidEvent, parse_event
from relay_contracts.topics import Topic
from relay_kit import metrics
from relay_kit.logs import correlation_id_var, event_id_var, tenant_id_var

log = logging.getLogger(__name__)

P = TypeVar("P", bound=EventPayload)
Handler = Callable[[Envelope[Any]], Awaitable[None]]
RETRY_BACKOFF_SECONDS = 0.5


class EventHandlers:
    """A service's handlers, one per payload class; the topics to consume follow from those classes."""

    def __init__(self) -> None:
        self._by_class: dict[type[EventPayload], Handler] = {}

    def on(self, *payload_classes: type[EventPayload]) -> Callable[[Handler], Handler]:
        """Decorator: `handler` receives events whose payload is one of these classes (or a subclass)."""

        def register(handler: Handler) -> Handler:
            for payload_class in payload_classes:
                self.add(payload_class, handler)
            return handler

        return register

    def add(self, payload_class: type[EventPayload], handler: Handler) -> None:
        """Register `handler` for one payload class; a class has at most one handler."""
        if payload_class in self._by_class:
            raise ValueError(f"{payload_class.__name__} already has a handler")
        if not isinstance(getattr(payload_class, "topic", None), Topic):
            raise ValueError(f"{payload_class.__name__} names no topic; register its concrete event classes")
        self._by_class[payload_class] = handler

    @property
    def topics(self) -> list[Topic]:
        """Every topic a registered payload class is published on, in registration order, once each."""
        seen: dict[str, Topic] = {}
        for payload_class in self._by_class:
            seen.setdefault(payload_class.topic.name, payload_class.topic)
        return list(seen.values())

    @property
    def payload_classes(self) -> list[type[EventPayload]]:
        """The registered payload classes."""
        return list(self._by_class)

    def handler_for(self, payload: EventPayload) -> Handler | None:
        """The handler of this payload's class, or of its nearest registered base class; None if there is none."""
        for cls in type(payload).__mro__:
            handler = self._by_class.get(cls)
            if handler is not None:
                return handler
        return None


@dataclass(frozen=True)
class Delivery:
    """How a consumer treats what it cannot decode and what its handler fails on.

    The owner of a topic's effects dead-letters invalid events and lets a failed event be redelivered
    (its offset is committed only after the handler). A pusher (notify) that must never stall skips both.
    """

    dead_letter_invalid: bool = True
    redeliver_failures: bool = True


OWNER = Delivery()
PUSHER = Delivery(dead_letter_invalid=False, redeliver_failures=False)


def consume(
    broker: KafkaBroker,
    handlers: EventHandlers,
    *,
    service: str,
    group_id: str,
    delivery: Delivery = OWNER,
    topics: Iterable[Topic] | None = None,
    auto_offset_reset: str = "earliest",
    fetch_max_wait_ms: int = 500,
    **consumer_options: Any,
) -> Any:
    """Subscribe one consumer of the group to the handlers' topics (one join); returns the subscriber.

    `topics` overrides the topics that follow from the handlers' payload classes (a test topic).
    """
    by_name = {topic.name: topic for topic in (handlers.topics if topics is None else topics)}
    if not by_name:
        raise ValueError("no handlers registered: nothing to consume")

    async def raw_body(message: Any) -> bytes:
        return message.body

    subscriber = broker.subscriber(
        *by_name,
        group_id=group_id,
        auto_offset_reset=auto_offset_reset,
        ack_policy=AckPolicy.NACK_ON_ERROR if delivery.redeliver_failures else AckPolicy.ACK_FIRST,
        fetch_max_wait_ms=fetch_max_wait_ms,
        decoder=raw_body,
        title=f"{service}:{group_id}",
        description="Handles " + ", ".join(c.__name__ for c in handlers.payload_classes),
        **consumer_options,
    )

    @subscriber
    async def on_message(body: bytes, message: KafkaMessage) -> None:
        topic = by_name[message.raw_message.topic]
        try:
            event = parse_event(body)
        except InvalidEvent as error:
            if delivery.dead_letter_invalid:
                await _dead_letter(broker, topic, message, reason=str(error), service=service, group_id=group_id)
            else:
                log.warning("skipping an invalid event on %s: %s", topic.name, error, extra={"topic": topic.name})
            return
        handler = handlers.handler_for(event.payload)
        if handler is None:
            return  # another service's concern on a shared topic
        await _handle(event, handler, topic=topic, service=service, delivery=delivery)

    return subscriber


async def _handle(event: Envelope[Any], handler: Handler, *, topic: Topic, service: str, delivery: Delivery) -> None:
    tokens = (
        tenant_id_var.set(event.tenant_id),
        event_id_var.set(str(event.event_id)),
        correlation_id_var.set(event.correlation_id),
    )
    started = time.perf_counter()
    try:
        metrics.EVENT_AGE.labels(service, topic.name).observe(
            max(0.0, (datetime.now(UTC) - event.occurred_at).total_seconds())
        )
        await handler(event)
    except Exception:
        metrics.EVENTS_FAILED.labels(service, topic.name).inc()
        if not delivery.redeliver_failures:
            log.exception("handling %s failed; skipped", event.type)
            return
        log.exception("handling %s failed; it will be redelivered", event.type)
        await asyncio.sleep(RETRY_BACKOFF_SECONDS)
        raise
    finally:
        metrics.HANDLER_LATENCY.labels(service, topic.name).observe(time.perf_counter() - started)
        for var, token in zip((tenant_id_var, event_id_var, correlation_id_var), tokens, strict=True):
            var.reset(token)
    metrics.EVENTS_CONSUMED.labels(service, topic.name, event.type).inc()


async def _dead_letter(
    broker: KafkaBroker, topic: Topic, message: Any, *, reason: str, service: str, group_id: str
) -> None:
    raw = message.raw_message
    log.warning("dead-lettering an invalid event from %s: %s", topic.name, reason, extra={"topic": topic.name})
    await broker.publish(
        message.body,
        topic=topic.dead_letter,
        key=raw.key,
        headers={
            "dead-letter-reason": reason[:1000],
            "source-topic": topic.name,
            "source-partition": str(raw.partition),
            "source-offset": str(raw.offset),
            "consumer-group": group_id,
        },
    )
    metrics.EVENTS_DEAD_LETTERED.labels(service, topic.name).inc()
