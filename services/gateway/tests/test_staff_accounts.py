"""The gateway alone: provisioning staff, signing in, announcing accounts, and clear errors."""

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from relay_contracts.topics import STAFF_EVENTS
from relay_stack.polling import eventually
from relay_stack.ports import free_port
from relay_stack.processes import ServiceProcess

ADMIN = {"authorization": "Bearer gateway-test-admin"}


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str) -> Iterator[ServiceProcess]:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: the routed services are "down"
    process = ServiceProcess("gateway", env={
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "RELAY_ADMIN_TOKEN": "gateway-test-admin",
        "RELAY_ISSUES_URL": dead, "RELAY_CHAT_URL": dead, "RELAY_INGEST_URL": dead, "RELAY_NOTIFY_URL": dead,
    }).start()
    process.wait_ready()
    yield process
    process.stop()


def _provision(gateway: ServiceProcess, tenant: str) -> None:
    assert httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}", json={"name": "Spotless"},
                     headers=ADMIN).status_code == 200
    created = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}/staff/dana",
                        json={"display_name": "Dana Park", "role": "manager", "password": "correct-horse"},
                        headers=ADMIN)
    assert created.status_code == 200, created.text


async def test_new_staff_account_is_announced_on_staff_events(gateway: ServiceProcess, kafka_bootstrap: str) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    consumer = AIOKafkaConsumer(STAFF_EVENTS.name, bootstrap_servers=kafka_bootstrap,
                                group_id=f"test-{tenant}", auto_offset_reset="earliest")
    await consumer.start()
    try:
        _provision(gateway, tenant)
        seen: list[dict] = []

        async def announced() -> dict | None:
            batch = await consumer.getmany(timeout_ms=200)
            seen.extend(json.loads(m.value) for msgs in batch.values() for m in msgs)
            mine = [e for e in seen if e["tenant_id"] == tenant]
            return mine[0] if mine else None

        event = await eventually(announced, what="StaffAccountSaved for the new account")
        assert event["type"] == "staff.account_saved"
        assert event["payload"]["display_name"] == "Dana Park"
        assert event["payload"]["role"] == "manager"
        assert "password" not in json.dumps(event)
    finally:
        await consumer.stop()


def test_signed_in_staff_gets_a_cookie_and_a_token(gateway: ServiceProcess) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    _provision(gateway, tenant)
    response = httpx.post(f"{gateway.url}/api/session",
                          json={"tenant": tenant.upper(), "username": "Dana", "password": "correct-horse"})
    assert response.status_code == 200, response.text
    assert response.cookies.get("relay_session") == response.json()["token"]
    me = httpx.get(f"{gateway.url}/api/session", cookies={"relay_session": response.json()["token"]})
    assert me.json()["staff"]["role"] == "manager"


def test_provisioning_needs_the_admin_token_and_valid_input(gateway: ServiceProcess) -> None:
    assert httpx.put(f"{gateway.url}/api/admin/tenants/acme", json={"name": "Acme"}).status_code == 403
    bad_id = httpx.put(f"{gateway.url}/api/admin/tenants/Not_Valid!", json={"name": "x"}, headers=ADMIN)
    assert bad_id.status_code == 422
    short = httpx.put(f"{gateway.url}/api/admin/tenants/acme", json={"name": ""}, headers=ADMIN)
    assert short.status_code == 422
    assert "problems" in short.json()["error"]
    no_tenant = httpx.put(f"{gateway.url}/api/admin/tenants/ghost-co/staff/x",
                          json={"display_name": "X", "password": "long-enough"}, headers=ADMIN)
    assert no_tenant.status_code == 404


def test_a_service_that_is_down_gives_a_clear_503(gateway: ServiceProcess) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    _provision(gateway, tenant)
    token = httpx.post(f"{gateway.url}/api/session",
                       json={"tenant": tenant, "username": "dana", "password": "correct-horse"}).json()["token"]
    response = httpx.get(f"{gateway.url}/api/issues", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert response.json()["error"]["message"] == "The issues service is not answering; try again shortly."


def test_unknown_api_area_is_404_and_oversize_body_is_413(gateway: ServiceProcess) -> None:
    assert httpx.get(f"{gateway.url}/api/nothing-here").status_code == 404
    big = httpx.post(f"{gateway.url}/webhooks/demo/twilio/sms", content=b"x" * 2_000_000,
                     headers={"content-type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413


def test_health_and_metrics(gateway: ServiceProcess) -> None:
    health = httpx.get(f"{gateway.url}/healthz")
    assert health.status_code == 200 and health.json()["checks"] == {"store": True, "broker": True}
    assert "relay_http_requests_total" in httpx.get(f"{gateway.url}/metrics").text
