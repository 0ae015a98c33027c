"""Wiring shared by every service: runtime (settings, database, broker, outbox), app lifespan, `run`."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from relay_contracts import Envelope
from relay_kit import kafka, store
from relay_kit.errors import error_body, install_error_handlers
from relay_kit.health import router as health_router
from relay_kit.logs import configure_logging
from relay_kit.metrics import install_http_metrics
from relay_kit.outbox import Outbox
from relay_kit.settings import ServiceSettings

log = logging.getLogger(__name__)


class Runtime:
    """One service's connections: its settings, its own database, its broker and its outbox."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.service = settings.service_name
        self.client = store.connect(settings)
        self.database = self.client[settings.database_name]
        self.broker = kafka.make_broker(
            bootstrap_servers=settings.kafka_bootstrap_servers, client_id=f"relay-{self.service}"
        )
        self.broker_started = False
        self.outbox: Outbox | None = None
        self.background: list[Callable[[], Awaitable[None]]] = []
        self.on_stop: list[Callable[[], Awaitable[object]]] = []

    async def publish(self, event: Envelope[Any]) -> None:
        """Publish one event and wait for the broker's ack."""
        await kafka.publish_event(self.broker, event, service=self.service)

    def use_outbox(self, collections: Iterable[str]) -> Outbox:
        """Declare which collections carry pending events; their sweeper runs with the service."""
        self.outbox = Outbox(
            service=self.service, publish=self.publish, collections=[self.database[c] for c in collections]
        )
        return self.outbox

    def subscribe(self, topic: Any, handler: kafka.EventHandler, *, group_id: str, **options: Any) -> None:
        """Consume a topic in a consumer group; see `relay_kit.kafka.subscribe`."""
        options.setdefault("fetch_max_wait_ms", self.settings.consumer_fetch_max_wait_ms)
        kafka.subscribe(self.broker, topic, handler, group_id=group_id, service=self.service, **options)


def service_app(
    runtime: Runtime,
    *,
    title: str,
    routers: Iterable[APIRouter] = (),
    prepare: Callable[[Any], Awaitable[None]] | None = None,
    start_broker: bool = True,
) -> FastAPI:
    """A FastAPI app with health, metrics, errors, body limit and a lifespan that starts and drains."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if prepare:
            await prepare(runtime.database)
        if runtime.outbox:
            await runtime.outbox.prepare()
        if start_broker:
            await runtime.broker.start()
            runtime.broker_started = True
        tasks = []
        if runtime.outbox:
            tasks.append(asyncio.create_task(runtime.outbox.run(every=runtime.settings.outbox_sweep_seconds)))
        if runtime.broker_started:
            tasks.append(asyncio.create_task(kafka.keep_consumer_lag_fresh(
                runtime.broker, service=runtime.service, every=runtime.settings.consumer_lag_refresh_seconds)))
        tasks.extend(asyncio.create_task(job()) for job in runtime.background)
        log.info("%s ready on %s:%s", runtime.service, runtime.settings.http_host, runtime.settings.http_port)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if runtime.broker_started:
                await runtime.broker.stop()  # finishes the in-flight message and commits its offset
            for stop in runtime.on_stop:
                await stop()
            await runtime.client.close()
            log.info("%s stopped", runtime.service)

    app = FastAPI(title=title, lifespan=lifespan)
    app.state.runtime = runtime
    app.state.settings = runtime.settings
    install_error_handlers(app)
    install_http_metrics(app, service=runtime.service)
    _limit_body_size(app, max_bytes=runtime.settings.max_body_bytes)
    app.include_router(health_router)
    for router in routers:
        app.include_router(router)
    return app


def _limit_body_size(app: FastAPI, *, max_bytes: int) -> None:
    @app.middleware("http")
    async def _limit(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_bytes):
            return JSONResponse(
                error_body("payload_too_large", f"The body is larger than the {max_bytes} bytes accepted."),
                status_code=413,
            )
        return await call_next(request)


def run(create_app: Callable[[ServiceSettings], FastAPI], settings: ServiceSettings) -> None:
    """Start a service: JSON logs, HTTP and consumers, and a graceful stop on SIGTERM/SIGINT."""
    configure_logging(service=settings.service_name, level=settings.log_level, as_json=settings.log_json)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        ws_max_size=1_000_000,
    )
