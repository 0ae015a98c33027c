"""Chat wiring: the API, the staff-directory consumer, indexes and the outbox."""

from typing import Any

from fastapi import FastAPI

from relay_chat import api, consumers, domain, store
from relay_chat.settings import ChatSettings
from relay_kit.service import Runtime, service_app
from relay_kit.store import apply_indexes


def create_app(settings: ChatSettings | None = None) -> FastAPI:
    """The chat service: HTTP under /api/chat, staff.events in, chat.events out (through the outbox)."""
    settings = settings or ChatSettings()
    runtime = Runtime(settings)
    outbox = runtime.use_outbox(store.WITH_EVENTS)
    chat = domain.Chat(database=runtime.database, outbox=outbox, max_private_group=settings.max_private_group,
                       max_page_size=settings.max_page_size)
    consumers.register(runtime, chat, group_id=settings.consumer_group)

    async def prepare(database: Any) -> None:
        await apply_indexes(database, store.INDEXES)

    app = service_app(runtime, title="Relay chat", routers=[api.router], prepare=prepare)
    app.state.chat = chat
    return app
