"""Kafka subscribers of the chat service: the staff directory from staff.events."""

from typing import Any

from relay_chat import domain
from relay_contracts import Envelope
from relay_contracts.staff import StaffAccountSaved
from relay_contracts.topics import STAFF_EVENTS
from relay_kit.service import Runtime

def register(runtime: Runtime, chat: domain.Chat, *, group_id: str) -> None:
    """Keep the directory and default-channel membership from staff account events."""

    async def on_staff_event(event: Envelope[Any]) -> None:
        if isinstance(event.payload, StaffAccountSaved):
            await domain.save_staff_account(chat, tenant_id=event.tenant_id, account=event.payload)

    runtime.subscribe(STAFF_EVENTS, on_staff_event, group_id=group_id)
