"""The chat service as a real process on the session's broker, and a team of staff per test (a fresh tenant)."""

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from relay_contracts import new_event
from relay_contracts.staff import StaffAccountSaved, StaffRole
from relay_kit.auth import StaffPrincipal, issue_token
from relay_stack.polling import eventually
from relay_stack.processes import ServiceProcess

SECRET = "chat-tests-secret-at-least-32-bytes-long"


@pytest.fixture(scope="session")
def chat_service(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """`python -m relay_chat` on a free port."""
    logs = Path(tmp_path_factory.mktemp("chat-logs"))
    process = ServiceProcess("chat", env={
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "RELAY_JWT_SECRET": SECRET, "RELAY_OUTBOX_SWEEP_SECONDS": "0.5",
        "RELAY_CONSUMER_GROUP": f"chat-test-{uuid.uuid4().hex[:8]}",  # its own group: other suites run a chat too
    }, log_dir=logs).start()
    process.wait_ready(timeout=60)
    yield process
    process.stop()


class Team:
    """Staff of one fresh tenant: announced on staff.events as the gateway does, then used through the API."""

    def __init__(self, *, chat_url: str, bootstrap: str) -> None:
        self.tenant_id = f"t-{uuid.uuid4().hex[:10]}"
        self.chat_url = chat_url
        self.bootstrap = bootstrap
        self.people: dict[str, StaffPrincipal] = {}
        self.usernames: dict[str, str] = {}
        self._clients: list[httpx.AsyncClient] = []
        self._producer: AIOKafkaProducer | None = None

    async def hire(self, *names: str, role: str = "staff", active: bool = True) -> None:
        """Announce staff accounts (username = the lower-cased first name) and wait until chat knows them."""
        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=False)
            await self._producer.start()
        for name in names:
            username = name.split()[0].lower()
            principal = self.people.get(username) or StaffPrincipal(
                staff_id=f"stf_{uuid.uuid4().hex[:12]}", tenant_id=self.tenant_id, name=name, role=StaffRole(role))
            self.people[username] = principal
            self.usernames[principal.staff_id] = username
            event = new_event(StaffAccountSaved(staff_id=principal.staff_id, username=username, display_name=name,
                                                role=StaffRole(role), active=active),
                              tenant_id=self.tenant_id, producer="gateway")
            await self._producer.send_and_wait(event.topic.name, event.to_bytes(), key=event.key)
        for name in names:
            await self.wait_in_general(name.split()[0].lower(), present=active)

    async def wait_in_general(self, username: str, *, present: bool = True) -> None:
        """Until the person is (or, seen by a colleague, is no longer) a member of the tenant's general channel."""
        observer = username if present else next(u for u in self.people if u != username)
        client = self.client(observer)
        staff_id = self.people[username].staff_id

        async def settled() -> bool:
            if present:
                body = (await client.get("/api/chat/conversations")).json()
                return any(c["default"] == "general" for c in body.get("conversations", []))
            general = await self.general(client)
            members = (await client.get(f"/api/chat/conversations/{general}/members")).json()["members"]
            return staff_id not in {m["staff_id"] for m in members}

        await eventually(settled, timeout=20, what=f"{username} settled in general")

    async def general(self, client: httpx.AsyncClient) -> str:
        """The id of the tenant's general channel."""
        channels = (await client.get("/api/chat/channels")).json()["channels"]
        return next(c["conversation_id"] for c in channels if c["default"] == "general")

    def token(self, username: str) -> str:
        """A session token for one of the team, as the gateway would sign it."""
        return issue_token(self.people[username], secret=SECRET)

    def client(self, username: str) -> httpx.AsyncClient:
        """An HTTP client acting as that person."""
        client = httpx.AsyncClient(base_url=self.chat_url, timeout=15,
                                   headers={"authorization": f"Bearer {self.token(username)}"})
        self._clients.append(client)
        return client

    def id(self, username: str) -> str:
        """The person's staff id."""
        return self.people[username].staff_id

    @staticmethod
    def ok(response: httpx.Response, status: int = 200) -> Any:
        """The JSON body, after checking the status (the body is in the failure message)."""
        assert response.status_code == status, f"{response.status_code}: {response.text}"
        return response.json() if response.content else None

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()
        if self._producer:
            await self._producer.stop()


@pytest.fixture
async def team(chat_service: ServiceProcess, kafka_bootstrap: str) -> AsyncIterator[Team]:
    """A fresh tenant whose staff the test hires."""
    crew = Team(chat_url=chat_service.url, bootstrap=kafka_bootstrap)
    yield crew
    await crew.close()

