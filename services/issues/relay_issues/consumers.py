"""Kafka handlers, typed by payload: customer messages, consent and profile changes, delivery status and staff accounts
in; each calls one flow."""

import logging

from relay_contracts import Envelope
from relay_contracts.customer_messages import (
    CustomerConsentChanged,
    CustomerProfileChanged,
    DeliveryStatusChanged,
    InboundMessageReceived,
)
from relay_contracts.staff import StaffAccountSaved
from relay_kit.consuming import EventHandlers
from relay_kit.service import Runtime
from relay_kit.unit_of_work import UnitOfWork

from relay_issues import flows

log = logging.getLogger(__name__)


def register(runtime: Runtime, *, uow: UnitOfWork, group_id: str) -> None:
    """Consume the three topics with one consumer in the group (one join, one rebalance)."""
    database = runtime.database
    handlers = EventHandlers()

    @handlers.on(InboundMessageReceived)
    async def on_inbound_message(event: Envelope[InboundMessageReceived]) -> None:
        outcome = await flows.open_or_append(database=database, uow=uow, event=event)
        log.info("inbound message %s: %s", event.payload.message_id, outcome.value)

    @handlers.on(CustomerConsentChanged)
    async def on_consent(event: Envelope[CustomerConsentChanged]) -> None:
        await flows.record_consent(database=database, uow=uow, event=event)

    @handlers.on(CustomerProfileChanged)
    async def on_customer_profile(event: Envelope[CustomerProfileChanged]) -> None:
        await flows.change_customer(database=database, uow=uow, event=event)

    @handlers.on(DeliveryStatusChanged)
    async def on_delivery_status(event: Envelope[DeliveryStatusChanged]) -> None:
        await flows.record_delivery(database=database, uow=uow, event=event)

    @handlers.on(StaffAccountSaved)
    async def on_staff_account(event: Envelope[StaffAccountSaved]) -> None:
        await flows.save_staff_member(database=database, event=event)

    runtime.consume(handlers, group_id=group_id)
