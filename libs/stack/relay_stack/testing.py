"""Pytest fixtures shared by every test suite: the real embedded broker and real service processes."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from relay_stack.broker import EmbeddedBroker


@pytest.fixture(scope="session")
def embedded_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One real Tansu broker for the whole test session, with Relay's topics created."""
    log_path = Path(tmp_path_factory.mktemp("broker")) / "tansu.log"
    broker = EmbeddedBroker(log_path=log_path).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(embedded_broker: EmbeddedBroker) -> str:
    """Bootstrap address of the session's broker."""
    return embedded_broker.bootstrap_servers
