"""Real MongoDB and Apache Kafka for the tests, from MONGODB_URI / RELAY_TEST_KAFKA, or testcontainers where Docker runs."""

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

MONGODB_IMAGE = "mongo:7"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"  # KRaft mode; testcontainers' default Kafka image


@functools.cache  # asked once per test session, not once per real server
def docker_unavailable_reason() -> str | None:
    """Why containers cannot start here, or None when a Docker engine answers."""
    if not shutil.which("docker"):
        return "no docker command on this machine"
    try:
        answer = subprocess.run(["docker", "info"], capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "the Docker engine did not answer `docker info` within 20 s"
    if answer.returncode != 0:
        return "no Docker engine is running (the docker command is only a client here)"
    return None


@contextmanager
def real_mongodb() -> Iterator[str]:
    """A real MongoDB's URI: MONGODB_URI when set, else a mongo:7 container; raises LookupError with the reason."""
    if os.environ.get("MONGODB_URI"):
        yield os.environ["MONGODB_URI"]
        return
    reason = docker_unavailable_reason()
    if reason:
        raise LookupError(f"needs MONGODB_URI or a Docker engine: {reason}")
    from testcontainers.community.mongodb import MongoDbContainer

    with MongoDbContainer(MONGODB_IMAGE) as container:
        yield container.get_connection_url()


@contextmanager
def real_kafka() -> Iterator[str]:
    """A real Apache Kafka's bootstrap servers: RELAY_TEST_KAFKA when set, else a KRaft container."""
    if os.environ.get("RELAY_TEST_KAFKA"):
        yield os.environ["RELAY_TEST_KAFKA"]
        return
    reason = docker_unavailable_reason()
    if reason:
        raise LookupError(f"needs RELAY_TEST_KAFKA or a Docker engine: {reason}")
    from testcontainers.community.kafka import KafkaContainer

    with KafkaContainer(KAFKA_IMAGE).with_kraft() as container:
        yield container.get_bootstrap_server()
