"""Notify wiring: the WebSocket, the per-replica consumer, presence heartbeats and the announcer."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from relay_contracts import Envelope
from relay_contracts.chat import PresenceChanged, PresenceEvent, PresenceHeartbeat, TypingNotified
from relay_contracts.topics import PRESENCE_EVENTS
from relay_kit.kafka import ensure_topics
from relay_kit.service import Runtime, service_app
from relay_kit.store import Database
from relay_notify import api, consumers
from relay_notify.chat_api import ChatApi
from relay_notify.hub import Hub
from relay_notify.settings import NotifySettings

log = logging.getLogger(__name__)


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    """The notify service: chat.events, issue.events and presence.events in; WebSocket pushes out."""
    settings = settings or NotifySettings()
    runtime = Runtime(settings)
    chat = ChatApi(base_url=settings.chat_url, timeout=settings.chat_timeout_seconds)
    outgoing: asyncio.Queue[Envelope[PresenceEvent]] = asyncio.Queue(maxsize=10_000)

    def announce(event: Envelope[PresenceEvent]) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # presence and typing are ephemeral: dropping one is fine
            outgoing.put_nowait(event)

    hub = Hub(replica_id=settings.replica_id, chat=chat, announce=announce,
              buffer_size=settings.catchup_buffer_size, buffer_max_age_seconds=settings.catchup_max_age_seconds,
              typing_interval=settings.typing_throttle_seconds, presence_ttl_seconds=settings.presence_ttl_seconds,
              queue_limit=settings.send_queue_limit, members_ttl_seconds=settings.members_cache_seconds)
    following = consumers.register(runtime, hub, settings)
    runtime.declare_publishing(PresenceChanged, PresenceHeartbeat, TypingNotified)

    async def publish_announcements() -> None:
        while True:
            event = await outgoing.get()
            try:
                await runtime.publish(event)
            except Exception:
                log.warning("could not share %s with the other replicas", event.type, exc_info=True)

    async def beat() -> None:
        while True:
            await asyncio.sleep(settings.presence_heartbeat_seconds)
            hub.heartbeat()

    async def note_when_positioned() -> None:
        while not await following.positioned():
            await asyncio.sleep(0.05)
        hub.complete_since_millis = int(time.time() * 1000)
        log.info("notify replica %s follows every event from now on", settings.replica_id)

    runtime.background.extend([publish_announcements, beat, note_when_positioned])
    runtime.on_stop.extend([hub.close, chat.close])

    async def prepare(_: Database) -> None:
        try:
            await ensure_topics(settings.kafka_bootstrap_servers, [PRESENCE_EVENTS])
        except Exception:  # another replica created it at the same moment, or the topic is managed elsewhere
            log.info("presence topic not created here", exc_info=True)

    app = service_app(runtime, title="Relay notify", routers=[api.router], prepare=prepare)

    @app.middleware("http")
    async def not_ready_until_positioned(request: Request,
                                         call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """/healthz says ready only once this replica follows every event (so no push is missed after)."""
        if request.url.path == "/healthz" and hub.complete_since_millis is None:
            return JSONResponse({"status": "starting", "service": settings.service_name,
                                 "checks": {"consumer_positioned": False}}, status_code=503)
        return await call_next(request)

    app.state.hub = hub
    app.state.following = following
    return app
