"""Gateway wiring: sign-in and admin API, API documents, routes to the services, the WebSocket relay and the UI."""

import httpx
from fastapi import FastAPI

from relay_contracts.staff import StaffAccountSaved, StaffSessionsEnded
from relay_gateway import api, consumers, edge, live, proxy, sandbox, store, ui
from relay_gateway.access import system_clock
from relay_gateway.settings import GatewaySettings
from relay_gateway.upstream import Refused, Services, answer_refused
from relay_kit.service import Runtime, service_app
from relay_kit.store import Database, apply_indexes


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The gateway app: it publishes staff account and session events, and consumes chat's manager actions into
    its audit log."""
    settings = settings or GatewaySettings()
    runtime = Runtime(settings)
    runtime.use_unit_of_work([store.STAFF])
    runtime.declare_publishing(StaffAccountSaved, StaffSessionsEnded)
    runtime.consume(consumers.handlers(runtime.database), group_id=settings.consumer_group or "gateway-audit")
    services = Services(settings=settings, client=httpx.AsyncClient(timeout=settings.upstream_timeout_seconds))
    runtime.on_stop.append(services.close)

    async def prepare(database: Database) -> None:
        await apply_indexes(database, store.INDEXES)
        await store.settle_audit(database)  # entries a process that died left on staff documents

    app = service_app(
        runtime, title="Relay gateway", routers=[api.router, live.router, ui.router, sandbox.router, proxy.router],
        prepare=prepare,
    )
    app.state.services = services
    app.state.clock = system_clock
    app.add_middleware(edge.PathGuard)  # inside the headers, so its refusals carry them too
    app.add_middleware(edge.SecurityHeaders, public_url=settings.public_url)
    app.add_exception_handler(Refused, answer_refused)  # type: ignore[arg-type]
    app.mount("/ui", ui.built_files(), name="ui")
    return app
