"""The browser's WebSocket: checked here, then relayed both ways to notify."""

import asyncio
import contextlib
import logging
from urllib.parse import urlencode

import websockets
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from relay_kit.auth import verify_token
from relay_kit.errors import Unauthorized

log = logging.getLogger(__name__)
router = APIRouter()

UNAUTHORIZED_CLOSE = 4401
UPSTREAM_GONE_CLOSE = 1011


@router.websocket("/ws")
async def live_updates(websocket: WebSocket) -> None:
    """Relay one browser tab's live connection to notify, after checking its session."""
    settings = websocket.app.state.settings
    token = websocket.query_params.get("token") or websocket.cookies.get("relay_session") or ""
    try:
        verify_token(token, secret=settings.jwt_secret.get_secret_value())
    except Unauthorized:
        await websocket.close(code=UNAUTHORIZED_CLOSE, reason="sign in again")
        return
    query = {"token": token}
    if websocket.query_params.get("since"):
        query["since"] = websocket.query_params["since"]
    upstream_url = settings.notify_url.replace("http", "ws", 1) + "/ws?" + urlencode(query)
    try:
        upstream = await websockets.connect(upstream_url, open_timeout=5, max_size=1_000_000)
    except (OSError, websockets.WebSocketException, TimeoutError) as error:
        log.warning("notify did not accept a live connection: %r", error)
        await websocket.close(code=UPSTREAM_GONE_CLOSE, reason="live updates unavailable")
        return
    await websocket.accept()
    try:
        await _pump(websocket, upstream)
    finally:
        await upstream.close()
        with contextlib.suppress(RuntimeError):
            await websocket.close()


async def _pump(browser: WebSocket, upstream: websockets.ClientConnection) -> None:
    async def down() -> None:
        async for frame in upstream:
            await browser.send_text(frame if isinstance(frame, str) else frame.decode())

    async def up() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await upstream.send(await browser.receive_text())

    tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task.exception() and not isinstance(task.exception(), websockets.ConnectionClosed):
            log.warning("live relay ended: %r", task.exception())
