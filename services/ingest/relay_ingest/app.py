"""Ingest wiring: the providers' webhooks, senders and media, the directory and template routes, the outbound
consumer, the unit of work."""

import httpx
from fastapi import FastAPI

from relay_contracts.customer_messages import (
    CustomerConsentChanged,
    CustomerProfileChanged,
    DeliveryStatusChanged,
    InboundMessageReceived,
)
from relay_ingest import api, consumers, flows, store
from relay_ingest.providers import PROVIDERS
from relay_ingest.providers.base import SenderContext
from relay_ingest.settings import IngestSettings
from relay_kit.service import Runtime, service_app
from relay_kit.store import Database, apply_indexes


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    """The ingest app: webhooks in, inbound.messages and delivery.status out, outbound.messages consumed."""
    settings = settings or IngestSettings()
    runtime = Runtime(settings)
    uow = runtime.use_unit_of_work(store.OUTBOX_COLLECTIONS)
    runtime.declare_publishing(InboundMessageReceived, CustomerConsentChanged, CustomerProfileChanged,
                               DeliveryStatusChanged)
    client = httpx.AsyncClient(timeout=settings.send_timeout_seconds)
    runtime.on_stop.append(client.aclose)
    context = SenderContext(client=client, timeout=settings.send_timeout_seconds)
    desk = flows.Desk(database=runtime.database, uow=uow, settings=settings,
                      senders={p.name: p.sender(context) for p in PROVIDERS.values() if p.sender is not None},
                      media={p.name: p.media(context) for p in PROVIDERS.values() if p.media is not None})
    consumers.register(runtime, desk=desk)

    async def stop_background() -> None:
        for task in list(desk.background):
            task.cancel()

    runtime.on_stop.append(stop_background)

    async def prepare(database: Database) -> None:
        await apply_indexes(database, store.INDEXES)

    routers = [api.tenants, api.customers, api.templates, api.webhook_router(PROVIDERS.values(), settings=settings)]
    app = service_app(runtime, title="Relay ingest", routers=routers, prepare=prepare)
    app.state.desk = desk
    return app
