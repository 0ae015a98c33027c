"""What the chat service consumes: staff accounts (from staff.events) keep its directory and default channels."""

from relay_chat import flows
from relay_contracts import Envelope
from relay_contracts.staff import StaffAccountSaved
from relay_kit.consuming import EventHandlers


def handlers(chat: flows.Chat) -> EventHandlers:
    """The chat service's typed handlers."""
    registered = EventHandlers()

    @registered.on(StaffAccountSaved)
    async def on_staff_account_saved(event: Envelope[StaffAccountSaved]) -> None:
        await flows.save_staff_account(chat, tenant_id=event.tenant_id, account=event.payload)

    return registered
