"""Gateway wiring: sign-in API, routes to the services, the WebSocket relay and the UI."""

import httpx
from fastapi import FastAPI

from relay_gateway import api, live, proxy, store, ui
from relay_kit.store import apply_indexes
from relay_gateway.settings import GatewaySettings
from relay_kit.service import Runtime, service_app


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The gateway app: it consumes nothing and publishes staff account events."""
    settings = settings or GatewaySettings()
    runtime = Runtime(settings)
    runtime.use_outbox([store.STAFF])
    upstream = httpx.AsyncClient(timeout=settings.upstream_timeout_seconds)
    runtime.on_stop.append(upstream.aclose)

    async def prepare(database: object) -> None:
        await apply_indexes(database, store.INDEXES)

    app = service_app(
        runtime, title="Relay gateway", routers=[api.router, live.router, ui.router, proxy.router], prepare=prepare
    )
    app.state.upstream = upstream
    app.mount("/static", ui.RevalidatedStaticFiles(directory=ui.STATIC), name="static")
    return app
