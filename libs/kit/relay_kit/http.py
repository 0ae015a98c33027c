"""The kit's HTTP layer: user-facing errors mapped to JSON answers once, and the request body limit."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from relay_kit.errors import RelayError, error_body

log = logging.getLogger(__name__)


def install_error_handlers(app: FastAPI) -> None:
    """Map RelayError, validation errors and anything unexpected to JSON answers."""

    @app.exception_handler(RelayError)
    async def _relay_error(_: Request, error: RelayError) -> JSONResponse:
        return JSONResponse(error_body(error.code, error.message), status_code=error.status_code)

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


def limit_body_size(app: FastAPI, *, max_bytes: int) -> None:
    """Refuse a declared body larger than `max_bytes` with 413 before any route reads it."""

    @app.middleware("http")
    async def _limit(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_bytes):
            return JSONResponse(
                error_body("payload_too_large", f"The body is larger than the {max_bytes} bytes accepted."),
                status_code=413,
            )
        return await call_next(request)
