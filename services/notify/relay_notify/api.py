"""The WebSocket (one per browser tab) and the readiness probe.

Frames from the client (relay_notify.models, validated here): {"kind":"typing","conversation_id","state":
"start"|"stop"}, {"kind":"away"}, {"kind":"active"}, {"kind":"ping"}. What the server sends: models.py, README.md.
"""

import json
import logging

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from relay_kit.auth import session_id_of, verify_token
from relay_kit.errors import Unauthorized
from relay_notify.consumers import Following
from relay_notify.hub import Connection, Hub
from relay_notify.models import CLIENT_FRAME, ErrorFrame, PingIn, Pong, Readiness, StatusIn, TypingIn

router = APIRouter()
log = logging.getLogger(__name__)

UNAUTHORIZED_CLOSE = 4401
MAX_CLIENT_FRAME = 4096


def _token(websocket: WebSocket) -> str:
    """The session token, from `Authorization: Bearer` only: a token in a URL would end up in logs."""
    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return ""


@router.websocket("/ws")
async def live(websocket: WebSocket) -> None:
    """One tab's live connection: checked on connect, then pushes until either side closes."""
    settings = websocket.app.state.settings
    hub: Hub = websocket.app.state.hub
    token = _token(websocket)
    try:
        staff = verify_token(token, secret=settings.jwt_secret.get_secret_value())
        session_id = session_id_of(token, secret=settings.jwt_secret.get_secret_value())
    except Unauthorized:
        await websocket.close(code=UNAUTHORIZED_CLOSE, reason="sign in again")
        return
    if hub.ended_sessions.has_ended(session_id):
        await websocket.close(code=UNAUTHORIZED_CLOSE, reason="session ended; sign in again")
        return
    await websocket.accept()
    connection = Connection(staff=staff, token=token, socket=websocket, queue_limit=settings.send_queue_limit,
                            session_id=session_id)
    hub.attach(connection, since=websocket.query_params.get("since"))
    try:
        hub.load_unread(connection)
        while True:
            text = await websocket.receive_text()
            try:
                await _on_client_frame(hub, connection, text)
            except Exception:
                log.exception("handling a client frame failed")
                connection.send_frame(ErrorFrame(code="internal_error",
                                                 message="That did not work on our side; it has been logged."))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.detach(connection)


async def _on_client_frame(hub: Hub, connection: Connection, text: str) -> None:
    """Act on what a tab tells us; a bad frame gets an error frame, never a closed socket."""
    match _parse(text):
        case PingIn():
            connection.send_frame(Pong())
        case StatusIn(kind=kind):
            hub.set_status(connection, active=kind == "active")
        case TypingIn(conversation_id=conversation_id, state=state):
            await hub.typing(connection, conversation_id=conversation_id, state=state)
        case "typing":
            connection.send_frame(ErrorFrame(code="bad_frame",
                                             message="typing needs a conversation_id and a state of start or stop."))
        case _:
            connection.send_frame(ErrorFrame(code="bad_frame",
                                             message="Send JSON with kind typing, away, active or ping."))


def _parse(text: str) -> TypingIn | StatusIn | PingIn | str | None:
    """The client frame; else the kind it claimed (to say what was wrong with it), or None."""
    if len(text) > MAX_CLIENT_FRAME:
        return None
    try:
        raw = json.loads(text)
    except ValueError:
        return None
    try:
        return CLIENT_FRAME.validate_python(raw)
    except ValidationError:
        kind = raw.get("kind") if isinstance(raw, dict) else None
        return kind if isinstance(kind, str) else None


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(request: Request) -> JSONResponse:
    """Ready (200) once this replica's consumer owns every partition and knows where it reads from, else 503."""
    following: Following = request.app.state.following
    is_ready = await following.positioned()
    hub: Hub = request.app.state.hub
    readiness = Readiness(ready=is_ready, replica_id=hub.replica_id,
                          connections=sum(len(t) for t in hub.connections.values()))
    return JSONResponse(readiness.model_dump(), status_code=200 if is_ready else 503)
