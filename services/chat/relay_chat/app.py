"""Chat wiring: the API, the staff-account consumer, indexes and the unit of work."""

from fastapi import FastAPI

from relay_chat import api, consumers, flows, store
from relay_chat.settings import ChatSettings
from relay_contracts.chat import ChatEvent
from relay_kit.service import Runtime, service_app
from relay_kit.store import Database, apply_indexes


def create_app(settings: ChatSettings | None = None) -> FastAPI:
    """The chat service: HTTP under /api/chat, staff.events in, chat.events out (through the unit of work)."""
    settings = settings or ChatSettings()
    runtime = Runtime(settings)
    chat = flows.Chat(database=runtime.database, uow=runtime.use_unit_of_work(store.WITH_EVENTS),
                      max_private_group=settings.max_private_group, max_page_size=settings.max_page_size)
    runtime.declare_publishing(ChatEvent)
    runtime.consume(consumers.handlers(chat), group_id=settings.consumer_group)

    async def prepare(database: Database) -> None:
        await store.drop_retired_indexes(database)
        await apply_indexes(database, store.INDEXES)
        await flows.backfill_search_terms(chat)

    app = service_app(runtime, title="Relay chat", routers=[api.router], prepare=prepare)
    app.state.chat = chat
    return app
