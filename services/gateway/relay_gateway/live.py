"""The browser's WebSocket: checked here, then relayed both ways to notify."""

import asyncio
import contextlib
import logging
from urllib.parse import urlencode

import websockets
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from relay_gateway.access import signed_in, token_of
from relay_gateway.edge import origin_allowed
from relay_kit.errors import Unauthorized

log = logging.getLogger(__name__)
router = APIRouter()

UNAUTHORIZED_CLOSE = 4401
FORBIDDEN_ORIGIN_CLOSE = 4403
UPSTREAM_GONE_CLOSE = 1011


@router.websocket("/ws")
async def live_updates(websocket: WebSocket) -> None:
    """Relay one browser tab's live connection to notify, after checking its origin and its open session.

    The token goes to notify in a header, never in the URL (URLs end up in logs).
    """
    settings = websocket.app.state.settings
    if not origin_allowed(websocket.headers.get("origin"), public_url=settings.public_url,
                          host=websocket.headers.get("host"), scheme=websocket.url.scheme):
        log.warning("refused a live connection from another origin")
        await websocket.close(code=FORBIDDEN_ORIGIN_CLOSE, reason="origin not allowed")
        return
    token = websocket.query_params.get("token") or token_of(websocket) or ""
    try:
        await signed_in(websocket, token)
    except Unauthorized:
        await websocket.close(code=UNAUTHORIZED_CLOSE, reason="sign in again")
        return
    query = {"since": websocket.query_params["since"]} if websocket.query_params.get("since") else {}
    upstream_url = settings.notify_url.replace("http", "ws", 1) + "/ws" + (f"?{urlencode(query)}" if query else "")
    try:
        upstream = await websockets.connect(upstream_url, open_timeout=5, max_size=1_000_000,
                                            additional_headers={"authorization": f"Bearer {token}"})
    except (OSError, websockets.WebSocketException, TimeoutError) as error:
        log.warning("notify did not accept a live connection: %r", error)
        await websocket.close(code=UPSTREAM_GONE_CLOSE, reason="live updates unavailable")
        return
    await websocket.accept()
    try:
        await _pump(websocket, upstream)
    finally:
        await upstream.close()
        code, reason = _close_of(upstream)
        with contextlib.suppress(RuntimeError):
            await websocket.close(code=code, reason=reason)


def _close_of(upstream: websockets.ClientConnection) -> tuple[int, str]:
    """How notify closed (a revoked session: 4401 with its reason), passed on to the browser as it is."""
    code = upstream.close_code
    if code is None or code in (1005, 1006, 1015):  # none given, or the connection dropped
        return 1000, ""
    return code, upstream.close_reason or ""


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
