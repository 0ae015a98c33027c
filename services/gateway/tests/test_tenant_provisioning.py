"""One tenant API: the gateway's admin surface sets a tenant's name here and its provider settings in ingest."""

import uuid

import httpx

from relay_stack.processes import ServiceProcess

TWILIO = {"account_sid": "AC123", "auth_token": "secret-twilio-token", "phone_number": "+15550100000"}


def _tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def test_provider_settings_are_passed_to_ingest_as_given_and_read_back_masked(
    gateway: ServiceProcess, fake_ingest, admin: dict[str, str]
) -> None:
    tenant = _tenant()
    providers = {"sms_provider": "twilio", "twilio": TWILIO, "mailgun": {"signing_key": "mg-key"}}
    saved = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}", json={"name": "Spotless", "providers": providers},
                      headers=admin)
    assert saved.status_code == 200, saved.text
    [call] = [c for c in fake_ingest.calls if c.path == f"/api/tenants/{tenant}"]
    assert (call.method, call.body) == ("PUT", {"name": "Spotless", **providers})
    assert call.authorization == admin["authorization"]
    assert saved.json() == {"tenant_id": tenant, "name": "Spotless", "require_totp_for_admins": False,
                            "providers": {"sms_provider": "twilio", "twilio": {**TWILIO, "auth_token": "****"},
                                          "mailgun": {"signing_key": "mg-key"}}}

    read = httpx.get(f"{gateway.url}/api/admin/tenants/{tenant}", headers=admin)
    assert read.status_code == 200
    assert read.json() == saved.json()
    assert "secret-twilio-token" not in read.text


def test_renaming_without_providers_leaves_ingest_alone(
    gateway: ServiceProcess, fake_ingest, admin: dict[str, str]
) -> None:
    tenant = _tenant()
    saved = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}", json={"name": "Spotless"}, headers=admin)
    assert saved.status_code == 200
    assert saved.json() == {"tenant_id": tenant, "name": "Spotless", "require_totp_for_admins": False,
                            "providers": None}
    assert not [c for c in fake_ingest.calls if c.method == "PUT" and c.path == f"/api/tenants/{tenant}"]
    read = httpx.get(f"{gateway.url}/api/admin/tenants/{tenant}", headers=admin)
    assert read.json() == {"tenant_id": tenant, "name": "Spotless", "require_totp_for_admins": False,
                            "providers": None}, "ingest has none: 404 there"


def test_ingest_refusing_the_provider_settings_is_answered_unchanged_and_nothing_is_stored(
    gateway: ServiceProcess, fake_ingest, admin: dict[str, str]
) -> None:
    tenant = _tenant()
    refused = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}",
                        json={"name": "Spotless", "providers": {"twilio": {"account_sid": "AC1"}}}, headers=admin)
    assert refused.status_code == 422
    assert refused.json() == {"error": {"code": "invalid_request", "message": "The request is not valid; see problems.",
                                        "problems": [{"field": "twilio.auth_token", "problem": "Field required"}]}}
    assert httpx.get(f"{gateway.url}/api/admin/tenants/{tenant}", headers=admin).status_code == 404
    staff = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}/staff/dana",
                      json={"display_name": "Dana", "password": "correct-horse"}, headers=admin)
    assert staff.status_code == 404, "the refused tenant was not created"


def test_the_admin_api_needs_the_admin_token_and_answers_404_for_an_unknown_tenant(
    gateway: ServiceProcess, admin: dict[str, str]
) -> None:
    assert httpx.get(f"{gateway.url}/api/admin/tenants/ghost-co").status_code == 403
    wrong_token = {"authorization": "Bearer not-the-admin-token"}
    assert httpx.get(f"{gateway.url}/api/admin/tenants/ghost-co", headers=wrong_token).status_code == 403
    assert httpx.get(f"{gateway.url}/api/admin/tenants/ghost-co", headers=admin).status_code == 404
    unknown_field = httpx.put(f"{gateway.url}/api/admin/tenants/ghost-co", json={"name": "G", "twilio": {}},
                              headers=admin)
    assert unknown_field.status_code == 422, "provider settings go under `providers`"


def test_the_public_tenants_path_is_no_longer_routed_to_ingest(
    gateway: ServiceProcess, fake_ingest, admin: dict[str, str]
) -> None:
    before = len(fake_ingest.calls)
    for method in ("GET", "PUT"):
        response = httpx.request(method, f"{gateway.url}/api/tenants/demo", json={"name": "x"}, headers=admin)
        assert response.status_code == 404
    assert len(fake_ingest.calls) == before


def test_staff_answers_and_the_directory_never_show_a_password(gateway: ServiceProcess, admin: dict[str, str]) -> None:
    tenant = _tenant()
    assert httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}", json={"name": "Spotless"},
                     headers=admin).status_code == 200
    created = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}/staff/dana",
                        json={"display_name": "Dana Park", "password": "correct-horse"}, headers=admin)
    assert created.status_code == 200
    assert set(created.json()) == {"staff_id", "username", "display_name", "role"}
    renamed = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}/staff/dana",
                        json={"display_name": "Dana P.", "role": "manager"}, headers=admin)
    assert renamed.status_code == 200
    assert renamed.json()["staff_id"] == created.json()["staff_id"], "a change keeps the staff id"
    signed_in = httpx.post(f"{gateway.url}/api/session",
                           json={"tenant": tenant, "username": "dana", "password": "correct-horse"})
    assert signed_in.status_code == 200, "an omitted password keeps the current one"
    directory = httpx.get(f"{gateway.url}/api/staff", headers={"authorization": f"Bearer {signed_in.json()['token']}"})
    assert directory.json() == {"staff": [{**created.json(), "display_name": "Dana P.", "role": "manager"}]}
    new_without_password = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}/staff/erin",
                                     json={"display_name": "Erin"}, headers=admin)
    assert new_without_password.status_code == 400
