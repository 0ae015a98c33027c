"""User-facing errors: typed exceptions mapped once to HTTP answers, never a stack trace."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class RelayError(Exception):
    """Base of errors a client can act on: carries the status, a code and a readable message."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class BadRequest(RelayError):
    status_code = 400
    code = "bad_request"


class Unauthorized(RelayError):
    status_code = 401
    code = "unauthorized"


class Forbidden(RelayError):
    status_code = 403
    code = "forbidden"


class NotFound(RelayError):
    status_code = 404
    code = "not_found"


class Conflict(RelayError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(RelayError):
    status_code = 413
    code = "payload_too_large"


class Unavailable(RelayError):
    status_code = 503
    code = "unavailable"


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    """The one shape of every error answer."""
    return {"error": {"code": code, "message": message, **extra}}


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
