"""The WebSocket (one per browser tab) and the readiness probe.

Frames from the client: {"kind":"typing","conversation_id","state":"start"|"stop"}, {"kind":"away"},
{"kind":"active"}, {"kind":"ping"}. Everything the server sends is described in README.md.
"""

import json
import logging
import re
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from relay_contracts.chat import TypingState
from relay_kit.auth import verify_token
from relay_kit.errors import Unauthorized
from relay_notify import consumers
from relay_notify.hub import Connection, Hub

router = APIRouter()
log = logging.getLogger(__name__)

UNAUTHORIZED_CLOSE = 4401
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
MAX_CLIENT_FRAME = 4096


def _token(websocket: WebSocket) -> str:
    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return websocket.query_params.get("token") or websocket.cookies.get("relay_session") or ""


@router.websocket("/ws")
async def live(websocket: WebSocket) -> None:
    """One tab's live connection: checked on connect, then pushes until either side closes."""
    settings = websocket.app.state.settings
    hub: Hub = websocket.app.state.hub
    token = _token(websocket)
    try:
        staff = verify_token(token, secret=settings.jwt_secret.get_secret_value())
    except Unauthorized:
        await websocket.close(code=UNAUTHORIZED_CLOSE, reason="sign in again")
        return
    await websocket.accept()
    connection = Connection(staff=staff, token=token, socket=websocket, queue_limit=settings.send_queue_limit)
    hub.attach(connection, since=websocket.query_params.get("since"))
    try:
        hub.load_unread(connection)
        while True:
            text = await websocket.receive_text()
            try:
                await _on_client_frame(hub, connection, text)
            except Exception:
                log.exception("handling a client frame failed")
                connection.send_frame({"kind": "error", "code": "internal_error",
                                       "message": "That did not work on our side; it has been logged."})
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.detach(connection)


async def _on_client_frame(hub: Hub, connection: Connection, text: str) -> None:
    """Act on what a tab tells us; a bad frame gets an error frame, never a closed socket."""
    frame = _parse(text)
    kind = frame.get("kind") if frame else None
    if kind == "ping":
        connection.send_frame({"kind": "pong"})
    elif kind in ("away", "active"):
        hub.set_status(connection, active=kind == "active")
    elif kind == "typing":
        conversation_id = frame.get("conversation_id")
        state = frame.get("state", "start")
        if not isinstance(conversation_id, str) or not CONVERSATION_ID.match(conversation_id) or state not in (
                "start", "stop"):
            connection.send_frame({"kind": "error", "code": "bad_frame",
                                   "message": "typing needs a conversation_id and a state of start or stop."})
            return
        await hub.typing(connection, conversation_id=conversation_id, state=TypingState(state))
    else:
        connection.send_frame({"kind": "error", "code": "bad_frame",
                               "message": "Send JSON with kind typing, away, active or ping."})


def _parse(text: str) -> dict[str, Any] | None:
    if len(text) > MAX_CLIENT_FRAME:
        return None
    try:
        frame = json.loads(text)
    except ValueError:
        return None
    return frame if isinstance(frame, dict) else None


@router.get("/readyz", include_in_schema=False)
async def ready(request: Request) -> JSONResponse:
    """Ready when this replica's consumer owns every partition and knows where it reads from."""
    subscriber = request.app.state.subscriber
    is_ready = await consumers.positioned(subscriber)
    hub: Hub = request.app.state.hub
    return JSONResponse({"ready": is_ready, "replica_id": hub.replica_id,
                         "connections": sum(len(t) for t in hub.connections.values())},
                        status_code=200 if is_ready else 503)
