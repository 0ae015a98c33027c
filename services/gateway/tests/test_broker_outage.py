"""A broker outage after the write: the admin call still succeeds on what was stored, the sweeper publishes later.

This gateway has a broker of its own, stopped and started again on the same port while it runs; ingest is down.
"""

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from relay_contracts.topics import STAFF_EVENTS
from relay_stack.broker import EmbeddedBroker
from relay_stack.processes import ServiceProcess
from relay_stack.testing import TopicWatch

# While the broker is down, a publish attempt waits at most the publish timeout (5 s by default) before the unit
# of work leaves the event to the sweeper; the deadline is generous because this machine is shared.
OUTAGE_ANSWER_SECONDS = 90


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(log_path=Path(tmp_path_factory.mktemp("outage")) / "tansu.log").start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def lonely_gateway(
    own_broker: EmbeddedBroker, start_gateway: Callable[..., ServiceProcess]
) -> Iterator[ServiceProcess]:
    process = start_gateway(kafka_bootstrap=own_broker.bootstrap_servers)
    yield process
    process.stop()


def test_provider_settings_while_ingest_is_down_are_503_and_nothing_is_stored(
    lonely_gateway: ServiceProcess, admin: dict[str, str]
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    response = httpx.put(f"{lonely_gateway.url}/api/admin/tenants/{tenant}",
                         json={"name": "Spotless", "providers": {"mailgun": {"signing_key": "k"}}}, headers=admin)
    assert response.status_code == 503
    assert response.json()["error"]["message"] == "The ingest service is not answering; try again shortly."
    assert httpx.get(f"{lonely_gateway.url}/api/admin/tenants/{tenant}", headers=admin).status_code == 404


async def test_a_staff_account_saved_while_the_broker_is_down_is_stored_and_announced_later(
    lonely_gateway: ServiceProcess, own_broker: EmbeddedBroker, admin: dict[str, str]
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    assert httpx.put(f"{lonely_gateway.url}/api/admin/tenants/{tenant}", json={"name": "Spotless"},
                     headers=admin).status_code == 200
    own_broker.stop()
    try:
        started = time.monotonic()
        saved = httpx.put(f"{lonely_gateway.url}/api/admin/tenants/{tenant}/staff/dana",
                          json={"display_name": "Dana Park", "password": "correct-horse"}, headers=admin,
                          timeout=OUTAGE_ANSWER_SECONDS)
        print(f"admin answer during the broker outage took {time.monotonic() - started:.1f} s")
        assert saved.status_code == 200, saved.text
        signed_in = httpx.post(f"{lonely_gateway.url}/api/session",
                               json={"tenant": tenant, "username": "dana", "password": "correct-horse"})
        assert signed_in.status_code == 200, "the account is stored although its event is not published yet"
    finally:
        await asyncio.to_thread(own_broker.start)  # the same port, its topics created again
    watch = TopicWatch(own_broker.bootstrap_servers, STAFF_EVENTS, from_beginning=True).start()
    try:
        event = await watch.wait_for(lambda e: e.get("tenant_id") == tenant, timeout=OUTAGE_ANSWER_SECONDS,
                                     what="the sweeper publishing the account saved during the outage")
        assert event["type"] == "staff.account_saved"
        assert event["payload"]["staff_id"] == saved.json()["staff_id"]
        assert event["payload"]["display_name"] == "Dana Park"
    finally:
        watch.stop()
