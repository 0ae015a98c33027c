"""The gateway as a real process on the session's broker, with a stand-in for ingest's tenant API on loopback."""

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from relay_stack.ports import free_port
from relay_stack.processes import ServiceProcess
from relay_stack.testing import LoopbackJsonApi

ADMIN_TOKEN = "gateway-test-admin"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
_TENANT_PATH = re.compile(r"^/api/tenants/([a-z0-9-]+)$")


def dead_url() -> str:
    """An address nothing listens on: a service that is down."""
    return f"http://127.0.0.1:{free_port()}"


def _start_gateway(*, kafka_bootstrap: str, ingest_url: str | None = None, notify_url: str | None = None,
                   env: dict[str, str] | None = None, log_dir: Path | None = None) -> ServiceProcess:
    """A gateway process whose routed services are down (ingest and notify: the ones given, if any)."""
    down = dead_url()
    process = ServiceProcess("gateway", env={
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "RELAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "RELAY_ISSUES_URL": down, "RELAY_CHAT_URL": down, "RELAY_INGEST_URL": ingest_url or down,
        "RELAY_NOTIFY_URL": notify_url or down,
        # its own group for the audit log's chat.events consumer: a gateway stopped (or killed) by an earlier test
        # would otherwise hold the group's join up until the broker gives up on it
        "RELAY_CONSUMER_GROUP": f"gateway-test-{uuid.uuid4().hex[:8]}", **(env or {}),
    }, log_dir=log_dir).start()
    process.wait_ready()
    return process


@dataclass
class IngestCall:
    """One call the gateway made to ingest."""

    method: str
    path: str
    authorization: str
    body: Any


class FakeIngest(LoopbackJsonApi):
    """Ingest's tenant-settings API as the gateway sees it: keeps what it accepts, refuses Twilio without a token.

    It answers as ingest does (secrets masked, errors in Relay's one shape) and serves API documents.
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[IngestCall] = []
        self.tenants: dict[str, dict[str, Any]] = {}

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        payload = json.loads(body) if body else None
        self.calls.append(IngestCall(method, path, headers.get("authorization", ""), payload))
        if method == "GET" and path in ("/openapi.json", "/asyncapi.json"):
            kind = "openapi" if path == "/openapi.json" else "asyncapi"
            return 200, {kind: "3.0.0", "info": {"title": "Relay ingest"}}
        match = _TENANT_PATH.match(path)
        if method == "GET":
            if not match or match[1] not in self.tenants:
                return 404, {"error": {"code": "unknown_tenant", "message": "No tenant."}}
            return 200, self.tenants[match[1]]
        if not match:
            return 404, {"error": {"code": "not_found", "message": "Not Found"}}
        if headers.get("authorization") != f"Bearer {ADMIN_TOKEN}":
            return 403, {"error": {"code": "forbidden", "message": "Needs the admin token."}}
        if "twilio" in payload and "auth_token" not in payload["twilio"]:
            return 422, {"error": {"code": "invalid_request", "message": "The request is not valid; see problems.",
                                   "problems": [{"field": "twilio.auth_token", "problem": "Field required"}]}}
        masked = {k: ({**v, "auth_token": "****"} if k == "twilio" else v) for k, v in payload.items()}
        self.tenants[match[1]] = {"tenant_id": match[1], **masked, "updated_at": "2026-12-01T00:00:00Z"}
        return 200, self.tenants[match[1]]


@pytest.fixture(scope="session")
def start_gateway() -> Callable[..., ServiceProcess]:
    """Starts a gateway process: `start_gateway(kafka_bootstrap=..., ingest_url=None, notify_url=None, env=None)`
    (the caller stops it)."""
    return _start_gateway


@pytest.fixture(scope="session")
def admin() -> dict[str, str]:
    """Headers of the admin token the test gateways are started with."""
    return dict(ADMIN)


@pytest.fixture(scope="module")
def fake_ingest() -> Iterator[FakeIngest]:
    fake = FakeIngest().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str, fake_ingest: FakeIngest) -> Iterator[ServiceProcess]:
    """The gateway on the session's broker; ingest is the fake, every other routed service is down."""
    process = _start_gateway(kafka_bootstrap=kafka_bootstrap, ingest_url=fake_ingest.url)
    yield process
    process.stop()
