"""Kafka: staff replies to send (outbound.messages), each handed to the sending flow."""

from typing import Any

from relay_contracts import Envelope
from relay_contracts.customer_messages import OutboundMessageRequested
from relay_ingest import flows
from relay_kit.consuming import EventHandlers
from relay_kit.service import Runtime


def register(runtime: Runtime, *, desk: flows.Desk) -> Any:
    """Consume outbound.messages in the ingest group; each reply is sent at most once."""
    handlers = EventHandlers()

    @handlers.on(OutboundMessageRequested)
    async def send_reply(event: Envelope[OutboundMessageRequested]) -> None:
        await flows.send_outbound(desk=desk, event=event)

    return runtime.consume(handlers, group_id=desk.settings.outbound_group_id)
