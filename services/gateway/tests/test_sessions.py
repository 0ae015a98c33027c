"""Server-side sessions: sign-out, sign-out everywhere, deactivation, a new password or role end a token at once
(on the gateway's own routes, on every routed /api call and on /ws), and are announced on staff.events."""

import uuid
from collections.abc import Iterator

import httpx
import pytest

from relay_contracts.topics import STAFF_EVENTS
from relay_stack.processes import ServiceProcess
from relay_stack.testing import TopicWatch

PASSWORD = "correct-horse"


@pytest.fixture(scope="module")
def tenant(gateway: ServiceProcess, admin: dict[str, str]) -> str:
    tenant_id = f"t-{uuid.uuid4().hex[:8]}"
    assert httpx.put(f"{gateway.url}/api/admin/tenants/{tenant_id}", json={"name": "Spotless"},
                     headers=admin).status_code == 200
    return tenant_id


def _hire(gateway: ServiceProcess, admin: dict[str, str], tenant: str, username: str, **change: object) -> None:
    body = {"display_name": username.title(), "password": PASSWORD, **change}
    saved = httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}/staff/{username}", json=body, headers=admin)
    assert saved.status_code == 200, saved.text


def _sign_in(gateway: ServiceProcess, tenant: str, username: str, password: str = PASSWORD) -> str:
    response = httpx.post(f"{gateway.url}/api/session",
                          json={"tenant": tenant, "username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _works(gateway: ServiceProcess, token: str) -> bool:
    """Whether the token still opens the gateway's own routes (a routed call is checked the same way)."""
    me = httpx.get(f"{gateway.url}/api/session", headers=_bearer(token)).status_code
    staff = httpx.get(f"{gateway.url}/api/staff", headers=_bearer(token)).status_code
    assert me == staff, (me, staff)
    return me == 200


@pytest.fixture
def account(gateway: ServiceProcess, admin: dict[str, str], tenant: str) -> Iterator[str]:
    username = f"u{uuid.uuid4().hex[:8]}"
    _hire(gateway, admin, tenant, username)
    yield username


def test_sign_out_ends_that_session_everywhere_at_once_and_only_that_one(
    gateway: ServiceProcess, tenant: str, account: str
) -> None:
    phone, laptop = _sign_in(gateway, tenant, account), _sign_in(gateway, tenant, account)
    assert _works(gateway, phone) and _works(gateway, laptop)

    assert httpx.delete(f"{gateway.url}/api/session", headers=_bearer(phone)).status_code == 204

    assert not _works(gateway, phone)
    assert httpx.get(f"{gateway.url}/api/session", headers=_bearer(phone)).json()["error"]["code"] == "session_ended"
    routed = httpx.get(f"{gateway.url}/api/issues", headers=_bearer(phone))
    assert routed.status_code == 401  # refused here: never forwarded (issues is down: forwarding would say 503)
    assert httpx.get(f"{gateway.url}/api/session", cookies={"relay_session": phone}).status_code == 401
    assert _works(gateway, laptop)


def test_a_signed_token_without_a_session_here_is_refused(gateway: ServiceProcess) -> None:
    from relay_kit.auth import StaffPrincipal, issue_token
    from relay_kit.settings import ServiceSettings

    forged_session = issue_token(StaffPrincipal(staff_id="stf_x", tenant_id="t-x", name="X"),
                                 secret=ServiceSettings().jwt_secret.get_secret_value(), session_id="ses_made_up")
    assert not _works(gateway, forged_session)
    assert httpx.get(f"{gateway.url}/api/chat/conversations", headers=_bearer(forged_session)).status_code == 401


async def test_sign_out_everywhere_ends_every_session_and_is_announced(
    gateway: ServiceProcess, kafka_bootstrap: str, tenant: str, account: str
) -> None:
    watch = TopicWatch(kafka_bootstrap, STAFF_EVENTS).start()
    try:
        tokens = [_sign_in(gateway, tenant, account) for _ in range(3)]
        answer = httpx.delete(f"{gateway.url}/api/sessions", headers=_bearer(tokens[0]))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"ended": 3}
        assert not any(_works(gateway, token) for token in tokens)
        event = await watch.wait_for(lambda e: e.get("tenant_id") == tenant and e["type"] == "staff.sessions_ended",
                                     what="StaffSessionsEnded")
        assert event["payload"]["every_session"] is True
        assert event["payload"]["reason"] == "signed_out_everywhere"
        assert len(event["payload"]["session_ids"]) == 3
        assert _works(gateway, _sign_in(gateway, tenant, account))  # signing in again works
    finally:
        watch.stop()


def test_an_admin_signs_an_account_out_everywhere(
    gateway: ServiceProcess, admin: dict[str, str], tenant: str, account: str
) -> None:
    token = _sign_in(gateway, tenant, account)
    url = f"{gateway.url}/api/admin/tenants/{tenant}/staff/{account}/sessions"
    assert httpx.delete(url, headers=_bearer(token)).status_code == 403  # not with a staff token
    answer = httpx.delete(url, headers=admin)
    assert answer.status_code == 200 and answer.json() == {"ended": 1}
    assert not _works(gateway, token)
    assert httpx.delete(f"{gateway.url}/api/admin/tenants/{tenant}/staff/ghost/sessions",
                        headers=admin).status_code == 404


@pytest.mark.parametrize("change", [{"active": False}, {"password": "a-new-password"}, {"role": "manager"}],
                         ids=["deactivated", "new-password", "new-role"])
def test_an_admin_change_that_matters_ends_every_session_of_the_account(
    gateway: ServiceProcess, admin: dict[str, str], tenant: str, account: str, change: dict[str, object]
) -> None:
    token = _sign_in(gateway, tenant, account)
    body = {"display_name": account.title(), **change}
    assert httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}/staff/{account}", json=body,
                     headers=admin).status_code == 200
    assert not _works(gateway, token)


def test_renaming_an_account_keeps_its_sessions(
    gateway: ServiceProcess, admin: dict[str, str], tenant: str, account: str
) -> None:
    token = _sign_in(gateway, tenant, account)
    assert httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}/staff/{account}",
                     json={"display_name": "Renamed"}, headers=admin).status_code == 200
    assert _works(gateway, token)


def test_changing_my_password_checks_the_current_one_and_ends_every_session(
    gateway: ServiceProcess, tenant: str, account: str
) -> None:
    token, other = _sign_in(gateway, tenant, account), _sign_in(gateway, tenant, account)
    url = f"{gateway.url}/api/session/password"
    wrong = httpx.put(url, json={"current_password": "not-it", "new_password": "brand-new-pass"},
                      headers=_bearer(token))
    assert wrong.status_code == 403
    assert _works(gateway, token)
    changed = httpx.put(url, json={"current_password": PASSWORD, "new_password": "brand-new-pass"},
                        headers=_bearer(token))
    assert changed.status_code == 200, changed.text
    assert not _works(gateway, token) and not _works(gateway, other)
    assert httpx.post(f"{gateway.url}/api/session", json={"tenant": tenant, "username": account,
                                                          "password": PASSWORD}).status_code == 401
    assert _works(gateway, _sign_in(gateway, tenant, account, "brand-new-pass"))
