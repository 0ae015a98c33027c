"""Kafka: staff replies to send (outbound.messages), decoded and handed to the sending flow."""

from typing import Any

from relay_contracts import Envelope
from relay_contracts.customer_messages import OutboundMessageRequested
from relay_contracts.topics import OUTBOUND_MESSAGES
from relay_ingest import flows
from relay_kit.service import Runtime


def register(runtime: Runtime, *, desk: flows.Desk) -> None:
    """Consume outbound.messages in the ingest group; each reply is sent at most once."""

    async def send_reply(event: Envelope[Any]) -> None:
        if isinstance(event.payload, OutboundMessageRequested):
            await flows.send_outbound(desk=desk, event=event)

    runtime.subscribe(OUTBOUND_MESSAGES, send_reply, group_id=desk.settings.outbound_group_id)
