"""The chat service as a real process on the session's broker, and a team of staff per test (a fresh tenant)."""

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from relay_stack.processes import ServiceProcess
from relay_stack.testing import StaffTeam

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


class Team(StaffTeam):
    """Staff of one fresh tenant, using the chat service under test (hiring waits until chat has them)."""

    def __init__(self, *, chat_url: str, bootstrap: str) -> None:
        super().__init__(bootstrap=bootstrap, secret=SECRET, chat_url=chat_url)
        self.bootstrap = bootstrap


@pytest.fixture
async def team(chat_service: ServiceProcess, kafka_bootstrap: str) -> AsyncIterator[Team]:
    """A fresh tenant whose staff the test hires."""
    crew = Team(chat_url=chat_service.url, bootstrap=kafka_bootstrap)
    yield crew
    await crew.close()
