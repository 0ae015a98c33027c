"""The gateway's edge: paths that could reach past a route are refused (400, never forwarded, never 500), bodies
over the limit are refused while they stream (413), every answer carries the browser security headers, and the
WebSocket checks its Origin and its session and hands the token to notify in a header, never in the URL."""

import asyncio
import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets
from websockets.sync.server import ServerConnection, serve

from relay_stack.processes import ServiceProcess

PASSWORD = "correct-horse"
MAX_BODY = 10_000


@dataclass
class FakeNotify:
    """Notify's WebSocket as the gateway sees it: records each upgrade, says hello, closes with 4401 on request."""

    seen: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def start(self) -> "FakeNotify":
        def handle(connection: ServerConnection) -> None:
            request = connection.request
            self.seen.append({"path": request.path,
                              "headers": {k.lower(): v for k, v in request.headers.raw_items()}})
            connection.send(json.dumps({"kind": "hello"}))
            for message in connection:
                if message == "end my session":
                    connection.close(code=4401, reason="session ended: signed_out; sign in again")
                    return

        self.server = serve(handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.socket.getsockname()[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def fake_notify() -> Iterator[FakeNotify]:
    fake = FakeNotify().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def edge(start_gateway: Callable[..., ServiceProcess], kafka_bootstrap: str, fake_ingest: Any,
         fake_notify: FakeNotify) -> Iterator[ServiceProcess]:
    """A gateway behind https (public address), a small body limit, fake ingest and notify."""
    process = start_gateway(kafka_bootstrap=kafka_bootstrap, ingest_url=fake_ingest.url, notify_url=fake_notify.url,
                            env={"RELAY_PUBLIC_URL": "https://relay.example", "RELAY_MAX_BODY_BYTES": str(MAX_BODY)})
    yield process
    process.stop()


@pytest.fixture(scope="module")
def signed_in(edge: ServiceProcess, admin: dict[str, str]) -> str:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    assert httpx.put(f"{edge.url}/api/admin/tenants/{tenant}", json={"name": "Spotless"},
                     headers=admin).status_code == 200
    assert httpx.put(f"{edge.url}/api/admin/tenants/{tenant}/staff/dana",
                     json={"display_name": "Dana", "password": PASSWORD}, headers=admin).status_code == 200
    answer = httpx.post(f"{edge.url}/api/session", json={"tenant": tenant, "username": "dana", "password": PASSWORD})
    assert answer.status_code == 200
    assert "secure" in answer.headers["set-cookie"].lower()  # the public address is https
    return answer.json()["token"]


def _raw(gateway: ServiceProcess, request: bytes) -> tuple[int, bytes]:
    """Send bytes exactly as given (no client normalises the path); the status and body of the answer."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=15) as connection:
        connection.sendall(request)
        received = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            if b"content-length:" in head.lower():
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    break
    status = int(received.split(b" ", 2)[1])
    return status, received.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize("path", [
    "/api/issues/%2e%2e/metrics", "/api/issues/..%2Fmetrics", "/api/issues/%2E%2E/%2E%2E/openapi.json",
    "/api/issues/../docs", "/api/chat/x%2fy", "/api/chat/x%5C..%5Cdocs", "/webhooks/demo%00/twilio",
    "/api/issues/%01", "/api/issues/a%7f", "/api/customers/%0d%0aX-Injected:%201", "/ui/..%2f..%2fsettings.py",
    "/api/issues/%c0%ae%c0%ae/metrics",
])
def test_a_path_that_could_reach_past_its_route_is_refused_and_never_forwarded(
    edge: ServiceProcess, fake_ingest: Any, path: str
) -> None:
    calls_before = len(fake_ingest.calls)
    status, body = _raw(edge, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    assert status == 400, body
    assert json.loads(body)["error"]["code"] == "bad_path"
    assert len(fake_ingest.calls) == calls_before


def test_a_service_s_own_documents_are_reached_only_at_the_documented_address(
    edge: ServiceProcess, fake_ingest: Any
) -> None:
    assert httpx.get(f"{edge.url}/api/docs/ingest/openapi.json").status_code == 200
    calls_before = len(fake_ingest.calls)
    status, _ = _raw(edge, b"GET /api/customers/..%2F..%2Fopenapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 400
    assert httpx.get(f"{edge.url}/api/customers/openapi.json").status_code == 401  # no session: not forwarded
    assert len(fake_ingest.calls) == calls_before


def _chunks(total: int, size: int = 4096) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


@pytest.mark.parametrize("path", ["/webhooks/demo/twilio", "/api/session", "/api/customers/import"])
def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(
    edge: ServiceProcess, fake_ingest: Any, admin: dict[str, str], path: str
) -> None:
    calls_before = len(fake_ingest.calls)
    answer = httpx.post(f"{edge.url}{path}", content=_chunks(3 * MAX_BODY),
                        headers={"content-type": "application/x-www-form-urlencoded", **admin})
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "payload_too_large"
    assert len(fake_ingest.calls) == calls_before


def test_a_chunked_body_within_the_limit_still_reaches_its_route(edge: ServiceProcess, fake_ingest: Any) -> None:
    body = json.dumps({"text": "x" * (MAX_BODY // 2)}).encode()
    answer = httpx.post(f"{edge.url}/webhooks/demo/twilio", content=iter([body[:100], body[100:]]),
                        headers={"content-type": "application/json"})
    assert answer.status_code == 404  # the fake ingest's answer: the body was passed on
    assert fake_ingest.calls[-1].path == "/webhooks/demo/twilio"
    assert fake_ingest.calls[-1].body == {"text": "x" * (MAX_BODY // 2)}


def test_every_answer_carries_the_browser_security_headers(edge: ServiceProcess) -> None:
    for path in ("/", "/ui/index.html", "/api/session", "/no-such-page"):
        headers = httpx.get(f"{edge.url}{path}").headers
        policy = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["strict-transport-security"].startswith("max-age=")


def test_the_page_has_no_inline_script_or_style(edge: ServiceProcess) -> None:
    page = httpx.get(f"{edge.url}/").text.lower()
    assert "<style" not in page and " style=" not in page
    for tag in page.split("<script")[1:]:
        assert tag.split(">")[0].strip().startswith(("type=\"module\" src=", "src="))
        assert tag.split(">", 1)[1].startswith("</script")
    assert " on" not in "".join(t.split(">")[0] for t in page.split("<")[1:] if "=" in t.split(">")[0]).replace(
        " one", "")


def test_http_public_address_sends_no_hsts_and_no_secure_cookie(gateway: ServiceProcess) -> None:
    headers = httpx.get(f"{gateway.url}/").headers
    assert "strict-transport-security" not in headers
    assert headers["x-frame-options"] == "DENY"


async def test_the_websocket_refuses_another_origin(edge: ServiceProcess, signed_in: str) -> None:
    ws = edge.url.replace("http", "ws") + "/ws"
    auth = {"authorization": f"Bearer {signed_in}"}
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(ws, additional_headers=auth, origin="https://evil.example")
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(ws, additional_headers=auth, origin="http://relay.example")  # not https
    for origin in ("https://relay.example", edge.url):  # the public address, or the page's own
        async with websockets.connect(ws, additional_headers=auth, origin=origin) as connection:
            assert json.loads(await asyncio.wait_for(connection.recv(), 10))["kind"] == "hello"


async def test_the_token_reaches_notify_in_a_header_never_in_the_url(
    edge: ServiceProcess, signed_in: str, fake_notify: FakeNotify
) -> None:
    before = len(fake_notify.seen)
    async with websockets.connect(edge.url.replace("http", "ws") + f"/ws?token={signed_in}&since=abc") as tab:
        assert json.loads(await asyncio.wait_for(tab.recv(), 10))["kind"] == "hello"
    upgrade = fake_notify.seen[before]
    assert signed_in not in upgrade["path"]
    assert "token" not in upgrade["path"]
    assert upgrade["path"] == "/ws?since=abc"
    assert upgrade["headers"]["authorization"] == f"Bearer {signed_in}"


async def test_notify_s_close_reason_reaches_the_browser(edge: ServiceProcess, signed_in: str) -> None:
    async with websockets.connect(edge.url.replace("http", "ws") + "/ws",
                                  additional_headers={"authorization": f"Bearer {signed_in}"}) as tab:
        await asyncio.wait_for(tab.recv(), 10)
        await tab.send("end my session")
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(tab.recv(), 10)
        assert tab.close_code == 4401
        assert "signed_out" in (tab.close_reason or "")


async def test_the_websocket_of_an_ended_session_is_refused(edge: ServiceProcess, admin: dict[str, str]) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    httpx.put(f"{edge.url}/api/admin/tenants/{tenant}", json={"name": "S"}, headers=admin)
    httpx.put(f"{edge.url}/api/admin/tenants/{tenant}/staff/eli", json={"display_name": "Eli", "password": PASSWORD},
              headers=admin)
    token = httpx.post(f"{edge.url}/api/session",
                       json={"tenant": tenant, "username": "eli", "password": PASSWORD}).json()["token"]
    assert httpx.delete(f"{edge.url}/api/session", headers={"authorization": f"Bearer {token}"}).status_code == 204
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(edge.url.replace("http", "ws") + f"/ws?token={token}")
