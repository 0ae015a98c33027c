"""Optional TOTP two-factor sign-in per account (pyotp): enrol, confirm, then every sign-in asks for a code,
each code works once; a tenant can require it for its admins."""

import time
import uuid

import httpx
import pyotp

from relay_stack.processes import ServiceProcess

PASSWORD = "correct-horse"


def _tenant(gateway: ServiceProcess, admin: dict[str, str], **settings: object) -> str:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    answer = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}", json={"name": "Spotless", **settings},
                       headers=admin)
    assert answer.status_code == 200, answer.text
    return tenant


def _hire(gateway: ServiceProcess, admin: dict[str, str], tenant: str, username: str, role: str = "staff") -> None:
    assert httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}/staff/{username}", headers=admin, json={
        "display_name": username.title(), "password": PASSWORD, "role": role}).status_code == 200


def _sign_in(gateway: ServiceProcess, tenant: str, username: str, code: str | None = None) -> httpx.Response:
    body = {"tenant": tenant, "username": username, "password": PASSWORD, **({"code": code} if code else {})}
    return httpx.post(f"{gateway.url}/api/session", json=body)


def _next_code(secret: str) -> str:
    """The code of the next time step (accepted for clock drift), so it differs from one just used."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_an_enrolled_account_signs_in_only_with_a_fresh_code(gateway: ServiceProcess, admin: dict[str, str]) -> None:
    tenant = _tenant(gateway, admin)
    _hire(gateway, admin, tenant, "dana")
    token = _sign_in(gateway, tenant, "dana").json()["token"]
    bearer = {"authorization": f"Bearer {token}"}
    enrolment = httpx.post(f"{gateway.url}/api/session/totp", headers=bearer)
    assert enrolment.status_code == 200, enrolment.text
    secret = enrolment.json()["secret"]
    assert enrolment.json()["otpauth_uri"].startswith("otpauth://totp/")
    assert _sign_in(gateway, tenant, "dana").status_code == 200  # not on until confirmed

    assert httpx.post(f"{gateway.url}/api/session/totp/confirm", json={"code": "000000"}, headers=bearer
                      ).status_code in (400, 422)
    confirmed = httpx.post(f"{gateway.url}/api/session/totp/confirm", json={"code": pyotp.TOTP(secret).now()},
                           headers=bearer)
    assert confirmed.status_code == 200 and confirmed.json() == {"enabled": True}

    no_code = _sign_in(gateway, tenant, "dana")
    assert no_code.status_code == 401 and no_code.json()["error"]["code"] == "totp_required"
    wrong = _sign_in(gateway, tenant, "dana", "123456" if _next_code(secret) != "123456" else "654321")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "totp_wrong"
    code = _next_code(secret)
    assert _sign_in(gateway, tenant, "dana", code).status_code == 200
    replayed = _sign_in(gateway, tenant, "dana", code)
    assert replayed.status_code == 401  # a code works once


def test_a_tenant_can_require_two_factor_for_its_admins(gateway: ServiceProcess, admin: dict[str, str]) -> None:
    tenant = _tenant(gateway, admin, require_totp_for_admins=True)
    assert httpx.get(f"{gateway.url}/api/admin/tenants/{tenant}", headers=admin).json()[
        "require_totp_for_admins"] is True
    _hire(gateway, admin, tenant, "ada", role="admin")
    _hire(gateway, admin, tenant, "sam")
    refused = _sign_in(gateway, tenant, "ada")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "totp_enrolment_needed"
    assert _sign_in(gateway, tenant, "sam").status_code == 200  # staff are not held to it

    set_up = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}/staff/ada/totp", headers=admin)
    assert set_up.status_code == 200, set_up.text
    secret = set_up.json()["secret"]
    assert _sign_in(gateway, tenant, "ada").json()["error"]["code"] == "totp_required"
    assert _sign_in(gateway, tenant, "ada", pyotp.TOTP(secret).now()).status_code == 200
    assert httpx.delete(f"{gateway.url}/api/admin/tenants/{tenant}/staff/ada/totp", headers=admin).status_code == 204
    assert _sign_in(gateway, tenant, "ada").status_code == 403  # off again, and still required
