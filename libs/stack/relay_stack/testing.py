"""Pytest fixtures shared by every test suite: the real embedded broker and real service processes."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from relay_stack import containers
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


@pytest.fixture(scope="session")
def real_mongodb_uri() -> Iterator[str]:
    """A real MongoDB (MONGODB_URI, or a container where Docker runs); skipped, saying why, where neither is."""
    try:
        with containers.real_mongodb() as uri:
            yield uri
    except LookupError as reason:
        pytest.skip(str(reason))


@pytest.fixture(scope="session")
def real_kafka_bootstrap() -> Iterator[str]:
    """A real Apache Kafka (RELAY_TEST_KAFKA, or a KRaft container where Docker runs); skipped, saying why, where neither is."""
    try:
        with containers.real_kafka() as bootstrap:
            yield bootstrap
    except LookupError as reason:
        pytest.skip(str(reason))
