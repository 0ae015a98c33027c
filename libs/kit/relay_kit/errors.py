"""User-facing errors: typed exceptions a client can act on, free of any web framework.

`relay_kit.http` maps them to HTTP answers once; domain rules raise them without loading FastAPI.
"""


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


class Unprocessable(RelayError):
    status_code = 422
    code = "unprocessable"


class PayloadTooLarge(RelayError):
    status_code = 413
    code = "payload_too_large"


class Unavailable(RelayError):
    status_code = 503
    code = "unavailable"


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    """The one shape of every error answer."""
    return {"error": {"code": code, "message": message, **extra}}
