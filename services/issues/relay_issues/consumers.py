"""Kafka handlers: customer messages, delivery status and staff accounts in; each calls one flow."""

import logging
from typing import Any

from relay_contracts import Envelope
from relay_contracts.customer_messages import DeliveryStatusChanged, InboundMessageReceived
from relay_contracts.staff import StaffAccountSaved
from relay_contracts.topics import DELIVERY_STATUS, INBOUND_MESSAGES, STAFF_EVENTS
from relay_kit import kafka
from relay_kit.service import Runtime

from relay_issues import flows

log = logging.getLogger(__name__)


def register(runtime: Runtime, *, group_id: str) -> None:
    """Subscribe the issues handlers: one consumer in the group for all three topics (one join, one rebalance)."""
    database = runtime.database

    async def on_inbound_message(event: Envelope[Any]) -> None:
        if not isinstance(event.payload, InboundMessageReceived):
            log.warning("ignoring %s on %s", event.type, INBOUND_MESSAGES.name)
            return
        outcome = await flows.open_or_append(database=database, outbox=runtime.outbox, event=event)
        log.info("inbound message %s: %s", event.payload.message_id, outcome.value)

    async def on_delivery_status(event: Envelope[Any]) -> None:
        if not isinstance(event.payload, DeliveryStatusChanged):
            log.warning("ignoring %s on %s", event.type, DELIVERY_STATUS.name)
            return
        await flows.record_delivery(database=database, outbox=runtime.outbox, event=event)

    async def on_staff_event(event: Envelope[Any]) -> None:
        if isinstance(event.payload, StaffAccountSaved):
            await flows.save_staff_member(database=database, event=event)

    handlers = {INBOUND_MESSAGES: on_inbound_message, DELIVERY_STATUS: on_delivery_status, STAFF_EVENTS: on_staff_event}
    kafka.subscribe_each(runtime.broker, handlers, group_id=group_id, service=runtime.service,
                         fetch_max_wait_ms=runtime.settings.consumer_fetch_max_wait_ms)
