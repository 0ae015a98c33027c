"""Each test here runs on the embedded stand-ins and, where Docker runs (or a real server is named), on the real thing."""

import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient

from relay_kit.standin import StandInClient


@pytest.fixture(params=["stand-in", "mongodb"])
async def database(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    """A fresh database: the in-process stand-in, then a real MongoDB 7 (skipped, saying why, without one)."""
    name = f"relay_test_{uuid.uuid4().hex[:10]}"
    if request.param == "stand-in":
        yield StandInClient()[name]
        return
    client = AsyncMongoClient(request.getfixturevalue("real_mongodb_uri"), tz_aware=True)
    try:
        yield client[name]
        await client.drop_database(name)
    finally:
        await client.close()


@pytest.fixture(params=["tansu", "kafka"])
def bootstrap(request: pytest.FixtureRequest) -> str:
    """A Kafka-protocol broker: the embedded Tansu, then a real Apache Kafka (skipped, saying why, without one)."""
    return request.getfixturevalue("kafka_bootstrap" if request.param == "tansu" else "real_kafka_bootstrap")
