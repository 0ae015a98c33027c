"""Schemathesis over every service's OpenAPI document as the gateway serves it: no documented route answers 5xx.

Each operation gets `RELAY_FUZZ_EXAMPLES` cases that fit its schema and as many that do not, sent through the
gateway as a manager, a staff member, the admin or nobody (drawn per case), with the path ids that exist (an issue, a
channel, a message, a customer) mixed in with generated ones so that handlers past the 404 are reached too. A
4xx is a legitimate answer; a 5xx is a finding, reported with the request that caused it.
"""

import os
from collections import Counter
from dataclasses import dataclass

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from relay_stack.polling import eventually_sync
from relay_stack.stack import Stack
from tests.fuzz.conftest import SERVICES, FuzzBudget, FuzzTenant
from tests.support import post_twilio_sms

REQUEST_TIMEOUT = float(os.environ.get("RELAY_FUZZ_REQUEST_TIMEOUT", "30"))


@dataclass(frozen=True)
class ServerError:
    """One request that answered 5xx, as a curl command, with the answer."""

    who: str
    curl: str
    status: int
    answer: str

    def __str__(self) -> str:
        return f"[{self.who}] {self.curl}\n    -> {self.status} {self.answer}"


def _existing_ids(tenant: FuzzTenant) -> dict[str, str]:
    """Ids that exist in the tenant, per path parameter name: an issue, a channel and a message, a customer."""
    gateway, alice = tenant.stack.gateway_url, tenant.staff_headers("alice")
    assert post_twilio_sms(tenant.stack, tenant.demo, from_number="+14155550101", body="Is my suit ready?"
                           ).status_code == 200

    def issue() -> str | None:
        feed = httpx.get(f"{gateway}/api/issues", headers=alice, timeout=30).json()
        issues = feed.get("issues", feed) if isinstance(feed, dict) else feed
        return issues[0]["issue_id"] if issues else None

    issue_id = eventually_sync(issue, timeout=60, interval=0.2, what="the fuzz tenant's first issue")
    channel = httpx.post(f"{gateway}/api/chat/channels", headers=alice, timeout=30,
                         json={"name": "fuzz-front-desk", "topic": "where the fuzz posts"})
    assert channel.status_code in (200, 201), channel.text
    conversation_id = channel.json()["conversation_id"]
    message = httpx.post(f"{gateway}/api/chat/conversations/{conversation_id}/messages", headers=alice,
                         timeout=30, json={"text": "first"})
    assert message.status_code in (200, 201), message.text
    staff = httpx.get(f"{gateway}/api/staff", headers=alice, timeout=30).json()["staff"]
    bob = next(s for s in staff if s["username"] == "bob")
    return {"issue_id": issue_id, "conversation_id": conversation_id, "message_id": message.json()["message_id"],
            "customer_id": "cus_jane", "staff_id": bob.get("staff_id") or bob.get("id") or "bob"}


@pytest.fixture(scope="package")
def existing_ids(api_tenant: FuzzTenant) -> dict[str, str]:
    """Path ids that exist in the fuzz tenant (see `_existing_ids`)."""
    return _existing_ids(api_tenant)


def _credentials(tenant: FuzzTenant, stack: Stack) -> dict[str, dict[str, str]]:
    return {
        "manager": tenant.staff_headers("alice"),
        "staff": tenant.staff_headers("bob"),
        "admin": {"authorization": f"Bearer {stack.admin_token}"},
        "nobody": {},
    }


def _curl(case: schemathesis.Case, *, base_url: str) -> str:
    try:
        return case.as_curl_command(base_url=base_url)
    except Exception:  # noqa: BLE001 - a body curl cannot carry still gets reported
        return f"{case.method} {base_url}{case.formatted_path} query={case.query!r} body={case.body!r}"


@pytest.mark.parametrize("service", SERVICES)
def test_no_documented_route_answers_5xx_through_the_gateway(
    service: str, fuzz_stack: Stack, api_tenant: FuzzTenant, existing_ids: dict[str, str], fuzz_budget: FuzzBudget,
) -> None:
    gateway = fuzz_stack.gateway_url
    api_tenant.refresh_sessions()
    schema = schemathesis.openapi.from_url(f"{gateway}/api/docs/{service}/openapi.json", timeout=30)
    credentials = _credentials(api_tenant, fuzz_stack)
    # Sessions that schemathesis may end (sign-out, sign out everywhere, a password change) are carol's, not
    # the ones the other cases rely on.
    credentials_of_sign_out = {**credentials, "manager": api_tenant.staff_headers("carol"),
                               "staff": api_tenant.staff_headers("carol")}
    service_url = fuzz_stack.url(service) if service != "gateway" else gateway
    errors: list[ServerError] = []
    calls = 0
    statuses: Counter[str] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, f"{service} documents no operation"
    # A PUT of a resource named by its path that the same path reads back (GET): a refused one must have stored
    # nothing there (ids that existed before are left out).
    readable = {operation.path for operation in operations if operation.method.upper() == "GET"}
    refused_puts: dict[str, str] = {}
    accepted_puts: set[str] = set()

    for operation in operations:
        known_path_ids = {name: value for name, value in existing_ids.items()
                          if f"{{{name}}}" in operation.path}
        method = operation.method.upper()
        sign_out = "/session" in operation.path and method != "GET" and (method, operation.path) != (
            "POST", "/api/session")
        # The gateway forwards /api/* and /webhooks/*; a service's own operational routes (notify's /readyz) are
        # called on the service itself, as its probes call them.
        base_url = gateway if operation.path.startswith(("/api/", "/webhooks/")) else service_url
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            if known_path_ids and mode is GenerationMode.POSITIVE:
                strategy = st.one_of(strategy, operation.as_strategy(generation_mode=mode,
                                                                     path_parameters=known_path_ids))

            @settings(max_examples=fuzz_budget.examples, database=None, deadline=None, derandomize=False,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @hypothesis.seed(fuzz_budget.seed)
            @given(case=strategy, who=st.sampled_from(sorted(credentials)))
            def call(case: schemathesis.Case, who: str) -> None:
                nonlocal calls
                headers = (credentials_of_sign_out if sign_out else credentials)[who]
                response = case.call(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT,
                                     allow_redirects=False)
                calls += 1
                statuses[f"{operation.label} {response.status_code}"] += 1
                if method == "PUT" and operation.path in readable and case.path_parameters and not (
                        set(map(str, case.path_parameters.values())) & set(existing_ids.values())):
                    path = (response.request.path_url or "").split("?")[0]
                    if response.status_code < 300:
                        accepted_puts.add(path)
                    elif response.status_code < 500:
                        refused_puts.setdefault(path, f"[{who}] {_curl(case, base_url=base_url)} -> "
                                                      f"{response.status_code}")
                if response.status_code >= 500:
                    errors.append(ServerError(
                        who=who, curl=_curl(case, base_url=base_url), status=response.status_code,
                        answer=response.content[:300].decode("utf-8", "replace")))

            try:
                call()
            except hypothesis.errors.Unsatisfiable:
                # Nothing about this operation can be made invalid (no parameters, no body).
                assert mode is GenerationMode.NEGATIVE, f"no valid case for {operation.label}"

    print(f"\n{service}: {calls} requests (RELAY_FUZZ_SEED={fuzz_budget.seed})")
    for label, count in sorted(statuses.items()):
        print(f"  {count:5d} × {label}")
    answered = {label.rsplit(" ", 1)[0] for label in statuses if label.endswith(("200", "201", "204"))}
    assert answered, f"no generated request to {service} was answered 2xx: the fuzz reached no handler"
    stored_by_refused = [
        f"{put}\n    but GET {path} as {who} -> 200"
        for path, put in sorted(refused_puts.items()) if path not in accepted_puts
        for who in ("admin", "manager")
        if httpx.get(f"{gateway}{path}", headers=credentials[who], timeout=REQUEST_TIMEOUT).status_code == 200]
    print(f"  {len(set(refused_puts) - accepted_puts)} refused PUTs read back: nothing stored by "
          f"{len(set(refused_puts) - accepted_puts) - len(stored_by_refused)}")
    assert not errors, (f"{len(errors)} of {calls} generated requests to {service}'s documented routes answered "
                        f"5xx (RELAY_FUZZ_SEED={fuzz_budget.seed}):\n" + "\n".join(map(str, errors[:20])))
    assert not stored_by_refused, "refused PUTs stored something:\n" + "\n".join(stored_by_refused[:20])
