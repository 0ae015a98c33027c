"""The gateway's edge, before any route: paths that could reach past a route are refused, and every answer
carries the browser security headers."""

from urllib.parse import unquote_to_bytes, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relay_kit.errors import error_body

# Percent-encodings that would let a path say something other than what its segments show.
_ENCODED_SEPARATORS = (b"%2f", b"%5c", b"%2e", b"%00")


def path_problem(raw_path: bytes) -> str | None:
    """Why a request path is refused (dot segments, encoded separators, control characters), or None."""
    lowered = raw_path.lower()
    if any(encoded in lowered for encoded in _ENCODED_SEPARATORS):
        return "The path carries an encoded '/', '\\', '.' or NUL; send the path as it is."
    decoded = unquote_to_bytes(raw_path)
    if any(byte < 0x20 or byte == 0x7F for byte in decoded):
        return "The path carries a control character."
    if b"\\" in decoded:
        return "The path carries a backslash."
    if any(segment in (b".", b"..") for segment in decoded.split(b"/")):
        return "The path carries a '.' or '..' segment."
    try:
        decoded.decode("utf-8")
    except UnicodeDecodeError:
        return "The path is not UTF-8."
    return None


class PathGuard:
    """ASGI middleware: a path with dot segments, encoded separators or control characters gets 400, unrouted."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
            problem = path_problem(raw)
            if problem is not None:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008, "reason": "bad path"})
                    return
                await JSONResponse(error_body("bad_path", problem), status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'{websocket}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def security_headers(*, public_url: str) -> dict[str, str]:
    """The headers every answer carries; HSTS only when the public address is https."""
    parts = urlsplit(public_url)
    secure = parts.scheme == "https"
    websocket = f" {'wss' if secure else 'ws'}://{parts.netloc}" if parts.netloc else ""
    headers = {
        "content-security-policy": CONTENT_SECURITY_POLICY.format(websocket=websocket),
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cross-origin-opener-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
    }
    if secure:
        headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"
    return headers


class SecurityHeaders:
    """ASGI middleware: adds `security_headers` to every HTTP answer."""

    def __init__(self, app: ASGIApp, *, public_url: str) -> None:
        self.app = app
        self.headers = security_headers(public_url=public_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def origin_allowed(origin: str | None, *, public_url: str, host: str | None, scheme: str) -> bool:
    """A WebSocket's `Origin` is the public address or the page's own (absent: not a browser, allowed)."""
    if origin is None:
        return True
    allowed = {_origin_of(public_url)}
    if host:
        allowed.add(f"{'https' if scheme in ('https', 'wss') else 'http'}://{host}".lower())
    return origin.rstrip("/").lower() in allowed


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
