"""The demo tenant: a dry cleaner with three staff members, provider secrets and a few customers."""

from dataclasses import dataclass, field
from typing import Any

import httpx

TENANT_ID = "demo"
TENANT_NAME = "Sunrise Dry Cleaners"
PASSWORD = "relay-demo-pass"


@dataclass(frozen=True)
class DemoStaff:
    username: str
    display_name: str
    role: str


STAFF = (
    DemoStaff("alice", "Alice Martin", "manager"),
    DemoStaff("bob", "Bob Chen", "staff"),
    DemoStaff("carol", "Carol Diaz", "staff"),
)


@dataclass(frozen=True)
class ProviderSecrets:
    """What a tenant configures per provider; the demo's values are printed on start."""

    twilio_account_sid: str = "AC00000000000000000000000000demo"
    twilio_auth_token: str = "demo-twilio-auth-token"
    twilio_phone_number: str = "+15550100000"
    twilio_api_base_url: str = "https://api.twilio.com"
    mailgun_signing_key: str = "demo-mailgun-signing-key"
    sendgrid_user: str = "sendgrid"
    sendgrid_password: str = "demo-sendgrid-pass"
    email_from: str = "help@sunrise-cleaners.example"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525


CUSTOMERS: tuple[dict[str, Any], ...] = (
    {"customer_id": "cus_jane", "name": "Jane Doe", "phones": ["+14155550101"], "emails": ["jane.doe@example.com"],
     "account": {"balance": "$12.50", "open_orders": 2, "loyalty_tier": "Gold", "last_visit": "2026-11-20"}},
    {"customer_id": "cus_omar", "name": "Omar Haddad", "phones": ["+14155550102"], "emails": ["omar@example.com"],
     "account": {"balance": "$0.00", "open_orders": 1, "loyalty_tier": "Silver", "last_visit": "2026-11-18"}},
    {"customer_id": "cus_mei", "name": "Mei Tanaka", "phones": ["+14155550103"], "emails": [],
     "account": {"balance": "$48.00", "open_orders": 3, "loyalty_tier": "None", "last_visit": "2026-11-22"}},
)


@dataclass
class DemoTenant:
    """Everything seeded, for printing and for tests."""

    tenant_id: str = TENANT_ID
    staff: tuple[DemoStaff, ...] = STAFF
    secrets: ProviderSecrets = field(default_factory=ProviderSecrets)


def seed(*, gateway_url: str, admin_token: str, tenant_id: str = TENANT_ID,
         secrets: ProviderSecrets | None = None) -> DemoTenant:
    """Create the demo tenant through the gateway's admin API, its customers through the gateway (idempotent)."""
    secrets = secrets or ProviderSecrets()
    headers = {"authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=10) as client:
        _ok(client.put(f"/api/admin/tenants/{tenant_id}",
                       json={"name": TENANT_NAME, "providers": provider_settings(secrets)}))
        for member in STAFF:
            _ok(client.put(
                f"/api/admin/tenants/{tenant_id}/staff/{member.username}",
                json={"display_name": member.display_name, "role": member.role, "password": PASSWORD},
            ))
        for customer in CUSTOMERS:
            body = {k: v for k, v in customer.items() if k != "customer_id"}
            _ok(client.put(f"/api/customers/{customer['customer_id']}", json=body, params={"tenant_id": tenant_id}))
    return DemoTenant(tenant_id=tenant_id, secrets=secrets)


def provider_settings(secrets: ProviderSecrets) -> dict[str, Any]:
    """The `providers` part of the tenant's provisioning call (ingest checks it against its provider modules)."""
    return {
        "twilio": {"account_sid": secrets.twilio_account_sid, "auth_token": secrets.twilio_auth_token,
                   "phone_number": secrets.twilio_phone_number, "api_base_url": secrets.twilio_api_base_url},
        "mailgun": {"signing_key": secrets.mailgun_signing_key},
        "sendgrid": {"basic_auth_user": secrets.sendgrid_user, "basic_auth_password": secrets.sendgrid_password},
        "email": {"from_address": secrets.email_from, "smtp_host": secrets.smtp_host, "smtp_port": secrets.smtp_port},
    }


def _ok(response: httpx.Response) -> None:
    if response.status_code >= 300:
        raise RuntimeError(f"seeding failed: {response.request.method} {response.request.url} -> "
                           f"{response.status_code} {response.text[:300]}")
