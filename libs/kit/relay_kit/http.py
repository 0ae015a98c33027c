"""The kit's HTTP layer: user-facing errors mapped to JSON answers once, and the request body limit."""

import logging
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relay_kit.errors import RelayError, error_body

log = logging.getLogger(__name__)


def install_error_handlers(app: FastAPI) -> None:
    """Map RelayError, validation errors and anything unexpected to JSON answers."""

    @app.exception_handler(RelayError)
    async def _relay_error(_: Request, error: RelayError) -> JSONResponse:
        return JSONResponse(error_body(error.code, error.message), status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "problem": e["msg"]}
            for e in error.errors()[:10]
        ]
        return JSONResponse(
            error_body("invalid_request", "The request is not valid; see problems.", problems=problems),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body("http_error", str(error.detail)), status_code=error.status_code, headers=error.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("internal_error", "Something went wrong on our side; it has been logged."),
            status_code=500,
        )


class BodyLimit:
    """ASGI middleware: refuse a body over `max_bytes` with 413, counted as it arrives (declared or chunked).

    A declared Content-Length over the limit is refused before anything is read. A chunked body (no
    Content-Length) is read here, at most `max_bytes` + one chunk, and refused the moment it passes the limit;
    a body within the limit is handed to the app as it came, so nothing over the limit is ever buffered.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if "chunked" not in headers.get("transfer-encoding", "").lower():
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)
                break
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            messages.append(message)
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            error_body("payload_too_large", f"The body is larger than the {self.max_bytes} bytes accepted; "
                       "send a smaller one."),
            status_code=413, headers={"connection": "close"},
        )
        await response(scope, receive, send)


def limit_body_size(app: FastAPI, *, max_bytes: int) -> None:
    """Refuse a body larger than `max_bytes` with 413 before any route reads it (see `BodyLimit`)."""
    app.add_middleware(BodyLimit, max_bytes=max_bytes)
