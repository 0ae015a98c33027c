"""Kafka handlers, typed by payload: chat's manager actions in (a channel archived, someone else's message
deleted), each recorded once in the audit log by one flow."""

import logging

from relay_contracts import Envelope
from relay_contracts.chat import ChatMessageDeleted, ConversationUpdated
from relay_kit.consuming import EventHandlers
from relay_kit.store import Database

from relay_gateway import flows

log = logging.getLogger(__name__)


def handlers(database: Database) -> EventHandlers:
    """The gateway's handlers on chat.events: both record a manager's action in the audit log, keyed by event id."""
    registered = EventHandlers()

    @registered.on(ConversationUpdated, ChatMessageDeleted)
    async def on_chat_action(event: Envelope[ConversationUpdated | ChatMessageDeleted]) -> None:
        if await flows.record_chat_action(database=database, event=event):
            log.info("audit: recorded %s", event.type)

    return registered
