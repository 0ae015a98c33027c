"""Chat and two notify replicas as real processes on the session's broker; staff per test; real WebSocket tabs."""

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import websockets

from relay_contracts import Envelope
from relay_stack.frames import FrameCollector
from relay_stack.polling import eventually_sync
from relay_stack.processes import ServiceProcess
from relay_stack.testing import StaffTeam

SECRET = "notify-tests-secret-at-least-32-bytes"


@dataclass
class LiveStack:
    chat: ServiceProcess
    replicas: dict[str, ServiceProcess]
    bootstrap: str
    logs: Path

    def ws_url(self, replica: str) -> str:
        return self.replicas[replica].url.replace("http", "ws", 1) + "/ws"

    def replica_env(self, name: str) -> dict[str, str]:
        """Settings of a notify replica in this stack (short presence heartbeats, a quick group join)."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "RELAY_JWT_SECRET": SECRET, "RELAY_CHAT_URL": self.chat.url,
            "RELAY_REPLICA_ID": f"{name}-{uuid.uuid4().hex[:6]}", "RELAY_CONSUMER_SESSION_TIMEOUT_MS": "3000",
            "RELAY_PRESENCE_HEARTBEAT_SECONDS": "1", "RELAY_PRESENCE_TTL_SECONDS": "4",
        }

    def start_replica(self, name: str) -> ServiceProcess:
        """Start one more notify replica and wait until it follows every event."""
        process = ServiceProcess(f"notify-{name}", env=self.replica_env(name), log_dir=self.logs).start()
        self.replicas[name] = process
        process.wait_ready(timeout=60)
        eventually_sync(lambda: httpx.get(f"{process.url}/readyz").status_code == 200, timeout=60,
                        what=f"{process.name} consuming")
        return process


@pytest.fixture(scope="session")
def live_stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """Chat, and notify replicas "a" and "b", each in its own consumer group."""
    logs = Path(tmp_path_factory.mktemp("notify-logs"))
    common = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "RELAY_JWT_SECRET": SECRET}
    chat = ServiceProcess("chat", env={
        **common, "RELAY_OUTBOX_SWEEP_SECONDS": "0.5",
        "RELAY_CONSUMER_GROUP": f"chat-test-{uuid.uuid4().hex[:8]}",  # its own group: other suites run a chat too
    }, log_dir=logs).start()
    stack = LiveStack(chat=chat, replicas={}, bootstrap=kafka_bootstrap, logs=logs)
    stack.replicas = {name: ServiceProcess(f"notify-{name}", env=stack.replica_env(name), log_dir=logs).start()
                      for name in ("a", "b")}
    try:
        for process in (chat, *stack.replicas.values()):
            process.wait_ready(timeout=60)
        for replica in stack.replicas.values():
            eventually_sync(lambda r=replica: httpx.get(f"{r.url}/readyz").status_code == 200, timeout=60,
                            what=f"{replica.name} consuming")
        yield stack
    finally:
        for process in (*stack.replicas.values(), chat):
            process.stop()


class Tab(FrameCollector):
    """A browser tab's WebSocket to one notify replica, keeping every frame it is pushed."""

    def __init__(self, connection: websockets.ClientConnection, *, replica: str) -> None:
        super().__init__(connection)
        self.replica = replica

    async def next(self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float = 10.0) -> dict[str, Any]:
        """The first frame, already received or arriving before the deadline, that matches."""
        return await self.next_matching(predicate, timeout=timeout)

    async def settle(self) -> None:
        """Ping and wait for the pong: every frame queued for this tab before now has arrived."""
        marker = len(self.frames)
        await self.send({"kind": "ping"})
        await self.next(lambda f: f["kind"] == "pong" and self.frames.index(f) >= marker)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(frame))

    def events(self, event_type: str, **match: Any) -> list[dict[str, Any]]:
        """Event frames of a type whose payload has the given top-level values."""
        return [f for f in self.frames if f["kind"] == "event" and f["type"] == event_type
                and all(f["payload"].get(k) == v for k, v in match.items())]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["kind"] == kind]

    async def close(self) -> None:
        await self.connection.close()


class Team(StaffTeam):
    """Staff of one fresh tenant on the live stack (chat settles them in general), with their browser tabs."""

    def __init__(self, stack: LiveStack) -> None:
        super().__init__(bootstrap=stack.bootstrap, secret=SECRET, chat_url=stack.chat.url)
        self.stack = stack
        self.tabs: list[Tab] = []

    async def publish(self, event: Envelope[Any]) -> None:
        """Publish an event on its topic, as its owning service would."""
        await self.publisher.publish(event)

    async def open_tab(self, username: str, *, replica: str = "a", since: str | None = None,
                       settled: bool = True, token: str | None = None) -> Tab:
        """Connect a tab for that person (token in a header, as the gateway sends it); by default wait for its
        opening frames (hello, unread counts)."""
        query = {"since": since} if since else {}
        token = token or self.token(username)
        connection = await websockets.connect(f"{self.stack.ws_url(replica)}?{urlencode(query)}",
                                              additional_headers={"authorization": f"Bearer {token}"})
        tab = Tab(connection, replica=replica)
        self.tabs.append(tab)
        await tab.next(lambda f: f["kind"] == "hello")
        if settled:
            await tab.next(lambda f: f["kind"] == "unread_snapshot")
        return tab

    async def close(self) -> None:
        for tab in self.tabs:
            await tab.close()
        await super().close()


@pytest.fixture
async def team(live_stack: LiveStack) -> AsyncIterator[Team]:
    crew = Team(live_stack)
    yield crew
    await crew.close()


@pytest.fixture
async def other_team(live_stack: LiveStack) -> AsyncIterator[Team]:
    crew = Team(live_stack)
    yield crew
    await crew.close()
