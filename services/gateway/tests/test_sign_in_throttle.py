"""Wrong passwords are throttled per account and per client address: 429 with Retry-After, growing waits, a
good sign-in resets the account; the rule itself on an injected clock, the behaviour on a real gateway."""

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from relay_gateway import domain
from relay_gateway.models import SignInFailures
from relay_stack.polling import eventually_sync
from relay_stack.processes import ServiceProcess

PASSWORD = "correct-horse"
THROTTLED_ENV = {"RELAY_SIGN_IN_FREE_FAILURES_PER_ACCOUNT": "3", "RELAY_SIGN_IN_FREE_FAILURES_PER_ADDRESS": "1000",
                 "RELAY_SIGN_IN_FIRST_DELAY_SECONDS": "3"}

# --- the rule, on an injected clock ---------------------------------------------------------------------


def test_waits_start_after_the_free_failures_and_double_up_to_the_cap() -> None:
    throttle = domain.Throttle(free_failures=3, first_delay_seconds=1, longest_delay_seconds=10)
    assert [throttle.delay_after(n) for n in range(1, 8)] == [0, 0, 1, 2, 4, 8, 10]


def test_a_blocked_key_answers_too_many_attempts_until_its_time_has_passed() -> None:
    throttle = domain.Throttle(free_failures=1, first_delay_seconds=30, longest_delay_seconds=900)
    start = datetime(2026, 12, 1, 12, tzinfo=UTC)
    record = domain.failures_counted(None, key="account:t/dana", throttle=throttle, now=start)
    with pytest.raises(domain.TooManyAttempts) as refused:
        domain.check_not_throttled([record], now=start + timedelta(seconds=10))
    assert refused.value.status_code == 429
    assert refused.value.headers == {"retry-after": "20"}
    domain.check_not_throttled([record], now=start + timedelta(seconds=30))  # free again


def test_an_addresss_failures_are_forgotten_after_a_quiet_time() -> None:
    throttle = domain.Throttle(free_failures=2, first_delay_seconds=1, longest_delay_seconds=9,
                               forget_after_seconds=60)
    start = datetime(2026, 12, 1, 12, tzinfo=UTC)
    old = SignInFailures(key="address:1.2.3.4", failures=9, last_failure_at=start)
    assert domain.failures_counted(old, key=old.key, throttle=throttle, now=start + timedelta(seconds=61)).failures == 1
    assert domain.failures_counted(old, key=old.key, throttle=throttle, now=start + timedelta(seconds=59)).failures == 10


# --- on a real gateway ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def throttled(start_gateway: Callable[..., ServiceProcess], kafka_bootstrap: str) -> Iterator[ServiceProcess]:
    process = start_gateway(kafka_bootstrap=kafka_bootstrap, env=THROTTLED_ENV)
    yield process
    process.stop()


def _tenant_with(gateway: ServiceProcess, admin: dict[str, str], *usernames: str) -> str:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    assert httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}", json={"name": "Spotless"},
                     headers=admin).status_code == 200
    for username in usernames:
        assert httpx.put(f"{gateway.url}/api/admin/tenants/{tenant}/staff/{username}",
                         json={"display_name": username.title(), "password": PASSWORD},
                         headers=admin).status_code == 200
    return tenant


def _try(gateway: ServiceProcess, tenant: str, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{gateway.url}/api/session", json={"tenant": tenant, "username": username,
                                                          "password": password})


def test_wrong_passwords_for_one_account_are_throttled_with_growing_waits_and_a_success_resets(
    throttled: ServiceProcess, admin: dict[str, str]
) -> None:
    tenant = _tenant_with(throttled, admin, "dana", "eli")
    assert [_try(throttled, tenant, "dana", "wrong").status_code for _ in range(3)] == [401, 401, 401]

    first = _try(throttled, tenant, "dana", PASSWORD)  # even the right password waits its turn
    assert first.status_code == 429
    assert 1 <= int(first.headers["retry-after"]) <= 3
    assert first.json()["error"]["code"] == "too_many_attempts"
    assert _try(throttled, tenant, "eli", PASSWORD).status_code == 200  # another account is not held back

    eventually_sync(lambda: _try(throttled, tenant, "dana", "wrong").status_code == 401, timeout=20,
                    what="the first wait to pass")
    second = _try(throttled, tenant, "dana", "wrong")
    assert second.status_code == 429
    assert int(second.headers["retry-after"]) >= 4  # the wait doubled (to 6 s)

    eventually_sync(lambda: _try(throttled, tenant, "dana", PASSWORD).status_code == 200, timeout=30,
                    what="the second wait to pass and the right password to sign in")
    assert [_try(throttled, tenant, "dana", "wrong").status_code for _ in range(2)] == [401, 401]  # reset


def test_wrong_passwords_from_one_address_are_throttled_across_accounts(
    start_gateway: Callable[..., ServiceProcess], kafka_bootstrap: str, admin: dict[str, str]
) -> None:
    process = start_gateway(kafka_bootstrap=kafka_bootstrap, env={
        **THROTTLED_ENV, "RELAY_SIGN_IN_FREE_FAILURES_PER_ADDRESS": "4", "RELAY_SIGN_IN_FIRST_DELAY_SECONDS": "60"})
    try:
        tenant = _tenant_with(process, admin, "dana")
        answers = [_try(process, tenant, f"guess{n}", "wrong").status_code for n in range(4)]
        assert answers == [401, 401, 401, 401]
        refused = _try(process, tenant, "dana", PASSWORD)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
    finally:
        process.stop()

