"""The gateway alone: provisioning staff, signing in, announcing accounts, and clear errors."""

import json
import uuid

import httpx

from relay_contracts.topics import STAFF_EVENTS
from relay_stack.processes import ServiceProcess
from relay_stack.testing import TopicWatch


def _provision(gateway: ServiceProcess, tenant: str, admin: dict[str, str]) -> None:
    assert httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}", json={"name": "Spotless"},
                     headers=admin).status_code == 200
    created = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}/staff/dana",
                        json={"display_name": "Dana Park", "role": "manager", "password": "correct-horse"},
                        headers=admin)
    assert created.status_code == 200, created.text


async def test_new_staff_account_is_announced_on_staff_events(
    gateway: ServiceProcess, kafka_bootstrap: str, admin: dict[str, str]
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    watch = TopicWatch(kafka_bootstrap, STAFF_EVENTS).start()
    try:
        _provision(gateway, tenant, admin)
        event = await watch.wait_for(lambda e: e.get("tenant_id") == tenant,
                                     what="StaffAccountSaved for the new account")
        assert event["type"] == "staff.account_saved"
        assert event["payload"]["display_name"] == "Dana Park"
        assert event["payload"]["role"] == "manager"
        assert "password" not in json.dumps(event)
    finally:
        watch.stop()


def test_signed_in_staff_gets_a_cookie_and_a_token(gateway: ServiceProcess, admin: dict[str, str]) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    _provision(gateway, tenant, admin)
    response = httpx.post(f"{gateway.url}/api/session",
                          json={"tenant": tenant.upper(), "username": "Dana", "password": "correct-horse"})
    assert response.status_code == 200, response.text
    assert response.cookies.get("relay_session") == response.json()["token"]
    me = httpx.get(f"{gateway.url}/api/session", cookies={"relay_session": response.json()["token"]})
    assert me.json()["staff"]["role"] == "manager"


def test_provisioning_needs_the_admin_token_and_valid_input(gateway: ServiceProcess, admin: dict[str, str]) -> None:
    assert httpx.put(f"{gateway.url}/api/admin/tenants/acme", json={"name": "Acme"}).status_code == 403
    bad_id = httpx.put(f"{gateway.url}/api/admin/tenants/Not_Valid!", json={"name": "x"}, headers=admin)
    assert bad_id.status_code == 422
    short = httpx.put(f"{gateway.url}/api/admin/tenants/acme", json={"name": ""}, headers=admin)
    assert short.status_code == 422
    assert "problems" in short.json()["error"]
    no_tenant = httpx.put(f"{gateway.url}/api/admin/tenants/ghost-co/staff/x",
                          json={"display_name": "X", "password": "long-enough"}, headers=admin)
    assert no_tenant.status_code == 404


def test_a_service_that_is_down_gives_a_clear_503(gateway: ServiceProcess, admin: dict[str, str]) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    _provision(gateway, tenant, admin)
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
