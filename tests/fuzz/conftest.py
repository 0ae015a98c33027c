"""A Relay stack of the fuzz suite's own, tenants with every provider configured, and the fuzz budget.

The suite gets its own stack (package scope: stopped when the fuzz tests are done) because schemathesis calls
every documented route with the admin token and staff sessions, creating channels, customers and tenants by the
hundred; the session's shared `relay` stack stays as the other suites expect it.

How much is generated is set by the environment, so `make test` stays within minutes and a larger run is one
variable away (`RELAY_FUZZ_EXAMPLES=500 .venv/bin/python -m pytest tests/fuzz`):

| variable | default | meaning |
|---|---|---|
| `RELAY_FUZZ_EXAMPLES` | 10 | generated cases per API operation and generation mode, and per webhook test × 4 |
| `RELAY_FUZZ_SEED` | random | Hypothesis seed; every failure message names the one used, to replay it |
"""

import base64
import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from relay_stack import demo
from relay_stack.polling import eventually_sync
from relay_stack.sandbox import ProviderSandbox
from relay_stack.stack import Stack
from tests.support import post_twilio_sms

SERVICES = ("ingest", "issues", "chat", "notify", "gateway")


@dataclass(frozen=True)
class FuzzBudget:
    """How many cases each fuzz test generates, and the seed that makes a run replayable."""

    examples: int
    seed: int


@pytest.fixture(scope="session")
def fuzz_budget() -> FuzzBudget:
    """The fuzz budget from the environment (see the module docstring)."""
    seed = os.environ.get("RELAY_FUZZ_SEED")
    return FuzzBudget(examples=int(os.environ.get("RELAY_FUZZ_EXAMPLES", "10")),
                      seed=int(seed) if seed else random.randrange(2**32))


@pytest.fixture(scope="package")
def fuzz_stack(provider_sandbox: ProviderSandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every service and the gateway on a broker of their own, for the fuzz suite alone."""
    stack = Stack(log_dir=Path(tmp_path_factory.mktemp("fuzz-logs"))).start()
    try:
        yield stack
    finally:
        stack.stop()


@dataclass
class FuzzTenant:
    """A tenant with Twilio, Telnyx, Mailgun, SendGrid and SMTP configured, its secrets, and staff sessions."""

    stack: Stack = field(repr=False)
    tenant_id: str
    secrets: demo.ProviderSecrets = field(repr=False)
    telnyx_key: Ed25519PrivateKey = field(repr=False)
    telnyx_phone_number: str = "+15550100999"
    tokens: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def demo(self) -> demo.DemoTenant:
        """The same tenant as `tests.support` helpers take it."""
        return demo.DemoTenant(tenant_id=self.tenant_id, secrets=self.secrets)

    def webhook_url(self, path: str) -> str:
        """The public URL a provider posts this tenant's webhook to (what Twilio signs)."""
        return f"{self.stack.gateway_url}/webhooks/{self.tenant_id}/{path}"

    def staff_headers(self, who: str = "alice") -> dict[str, str]:
        """A signed-in staff member's authorization header."""
        return {"authorization": f"Bearer {self.tokens[who]}"}

    def refresh_sessions(self) -> None:
        """Sign in again whoever's session a previous fuzz case ended (waiting out a sign-in throttle)."""
        for member in demo.STAFF:
            token = self.tokens.get(member.username)
            if token and httpx.get(f"{self.stack.gateway_url}/api/session", timeout=30,
                                   headers={"authorization": f"Bearer {token}"}).status_code == 200:
                continue

            def signed_in(username: str = member.username) -> str | None:
                answer = httpx.post(f"{self.stack.gateway_url}/api/session", timeout=30,
                                    json={"tenant": self.tenant_id, "username": username, "password": demo.PASSWORD})
                return answer.json()["token"] if answer.status_code == 200 else None

            self.tokens[member.username] = eventually_sync(signed_in, timeout=120, interval=1,
                                                           what=f"{member.username} signed in again")

    def stored(self) -> dict[str, list[tuple]]:
        """What webhooks can change: every issue of the feed, and the directory's first page (it shows 50)."""
        issues: list[dict] = []
        with httpx.Client(base_url=self.stack.gateway_url, headers=self.staff_headers(), timeout=30) as client:
            before: str | None = None
            while True:
                page = client.get("/api/issues", params={"limit": 200, **({"before": before} if before else {})})
                assert page.status_code == 200, page.text
                issues += page.json()["issues"]
                before = page.json().get("next_before")
                if not before:
                    break
            customers = client.get("/api/customers")
        assert customers.status_code == 200, customers.text
        return {
            "issues": sorted((i["issue_id"], i["customer_id"], i["status"], i.get("message_count")) for i in issues),
            "customers": sorted((c["customer_id"], tuple(c.get("phones") or ()), tuple(c.get("emails") or ()))
                                for c in customers.json()["customers"]),
        }

    def customers_matching(self, contact: str) -> list[str]:
        """The ids of the customers who have exactly this phone number or email address (the search is wider)."""
        found = httpx.get(f"{self.stack.gateway_url}/api/customers", params={"q": contact},
                          headers=self.staff_headers(), timeout=30)
        assert found.status_code == 200, found.text
        return [customer["customer_id"] for customer in found.json()["customers"]
                if contact.lower() in {c.lower() for c in (*customer.get("phones", ()), *customer.get("emails", ()))}]

    def barrier(self) -> str:
        """Post a signed SMS from a number of its own and wait for its issue: what came before it is in place."""
        number = f"+1415{uuid.uuid4().int % 10**7:07d}"
        answer = post_twilio_sms(self.stack, self.demo, from_number=number, body=f"barrier {uuid.uuid4().hex}")
        assert answer.status_code == 200, answer.text

        def listed() -> bool:
            customers = set(self.customers_matching(number))
            feed = httpx.get(f"{self.stack.gateway_url}/api/issues", params={"limit": 20},
                             headers=self.staff_headers(), timeout=30).json()["issues"]
            return bool(customers) and any(issue["customer_id"] in customers for issue in feed)

        eventually_sync(listed, timeout=60, interval=0.2, what=f"the barrier SMS from {number} listed")
        return number


def _telnyx_public_key(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def provision(stack: Stack, sandbox: ProviderSandbox, *, tenant_id: str) -> FuzzTenant:
    """A new tenant with every provider, the demo staff (alice manager, bob and carol staff) and customers."""
    secrets = demo.ProviderSecrets(twilio_api_base_url=sandbox.twilio_url, smtp_port=sandbox.smtp_port)
    demo.seed(gateway_url=stack.gateway_url, admin_token=stack.admin_token, tenant_id=tenant_id, secrets=secrets)
    tenant = FuzzTenant(stack=stack, tenant_id=tenant_id, secrets=secrets, telnyx_key=Ed25519PrivateKey.generate())
    providers = demo.provider_settings(secrets)
    providers["telnyx"] = {"api_key": "KEYfuzz", "public_key": _telnyx_public_key(tenant.telnyx_key),
                           "phone_number": tenant.telnyx_phone_number, "api_base_url": sandbox.twilio_url}
    providers["sms_provider"] = "twilio"
    answer = httpx.put(f"{stack.gateway_url}/api/admin/tenants/{tenant_id}", timeout=30,
                       json={"name": f"Fuzz {tenant_id}", "providers": providers},
                       headers={"authorization": f"Bearer {stack.admin_token}"})
    assert answer.status_code == 200, answer.text
    tenant.refresh_sessions()
    return tenant


@pytest.fixture(scope="package")
def api_tenant(fuzz_stack: Stack, provider_sandbox: ProviderSandbox) -> FuzzTenant:
    """The tenant whose staff and admin sessions schemathesis uses."""
    return provision(fuzz_stack, provider_sandbox, tenant_id="fuzz-api")


@pytest.fixture(scope="package")
def hooks_tenant(fuzz_stack: Stack, provider_sandbox: ProviderSandbox) -> FuzzTenant:
    """The tenant the webhook fuzz posts to: nothing else touches it, so what it stores is the webhooks' doing."""
    return provision(fuzz_stack, provider_sandbox, tenant_id="fuzz-hooks")
