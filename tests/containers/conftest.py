"""Each test here runs on the embedded stand-ins and, where Docker runs (or a real server is named), on the real thing
(`database`, from relay_stack.testing, and `bootstrap`)."""

import pytest


@pytest.fixture(params=["tansu", "kafka"])
def bootstrap(request: pytest.FixtureRequest) -> str:
    """A Kafka-protocol broker: the embedded Tansu, then a real Apache Kafka (skipped, saying why, without one)."""
    return request.getfixturevalue("kafka_bootstrap" if request.param == "tansu" else "real_kafka_bootstrap")
