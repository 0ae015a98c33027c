"""The gateway's multi-step work: signing in, saving staff accounts with their event, provisioning tenants."""

from datetime import timedelta
from typing import Any

from relay_contracts import new_event
from relay_gateway import domain, store
from relay_gateway.models import (
    NewSession,
    ProviderSettings,
    SignIn,
    StaffAccountIn,
    StaffList,
    StaffMember,
    TenantIn,
    TenantView,
)
from relay_gateway.upstream import Refused, Services
from relay_kit.auth import StaffPrincipal, issue_token
from relay_kit.errors import Conflict, NotFound
from relay_kit.store import Database
from relay_kit.unit_of_work import OnPublishFailure, UnitOfWork

PRODUCER = "gateway"
# What ingest's tenant answer carries around the provider settings themselves.
_INGEST_TENANT_FIELDS = {"tenant_id", "name", "created_at", "updated_at"}


async def sign_in(*, database: Database, credentials: SignIn, secret: str, ttl: timedelta) -> NewSession:
    """Check the credentials and sign a session token for the account they name."""
    found = await store.get_staff(database, tenant_id=credentials.tenant, username=credentials.username)
    account = domain.check_sign_in(found, password=credentials.password)
    principal = StaffPrincipal(staff_id=account.staff_id, tenant_id=account.tenant_id, name=account.display_name,
                               role=account.role)
    return NewSession(token=issue_token(principal, secret=secret, ttl=ttl), tenant_id=account.tenant_id,
                      staff=StaffMember.of(account))


async def staff_of(*, database: Database, tenant_id: str) -> StaffList:
    """Everyone on the tenant's active staff, by name."""
    return StaffList(staff=[StaffMember.of(a) for a in await store.list_staff(database, tenant_id=tenant_id)])


async def save_staff_account(
    *, database: Database, unit_of_work: UnitOfWork, tenant_id: str, username: str, change: StaffAccountIn
) -> StaffMember:
    """Create or change a staff account and announce it on staff.events in the same write.

    The account is stored whatever the broker does: if it cannot take the event now, the outbox sweeper
    publishes it later (an administrator's call succeeds on what was stored).
    """
    if await store.get_tenant(database, tenant_id=tenant_id) is None:
        raise NotFound(f"No tenant {tenant_id!r}: create it first with PUT /api/admin/tenants/{tenant_id}.")
    for _ in range(2):  # a second try only when a concurrent call created the same username first
        existing = await store.get_staff(database, tenant_id=tenant_id, username=username)
        account = domain.account_to_save(existing=existing, tenant_id=tenant_id, username=username, change=change)
        event = new_event(domain.account_saved(account), tenant_id=tenant_id, producer=PRODUCER)
        saved = await unit_of_work.commit(
            store.save_staff(database, account=account, events=[event]), collection=store.STAFF,
            document_id=account.staff_id, on_publish_failure=OnPublishFailure.LEAVE_TO_SWEEPER,
        )
        if saved:
            return StaffMember.of(account)
    raise Conflict(f"Someone else is saving {username!r} at the same moment; send the change again.")


async def provision_tenant(*, database: Database, services: Services, tenant_id: str, change: TenantIn) -> TenantView:
    """Create or rename a tenant and, when given, set its provider settings in ingest first.

    Ingest checks the provider settings against its provider modules: its refusal reaches the caller as it
    is (`Refused`), and then nothing of the call is stored here.
    """
    providers = None
    if change.providers is not None:
        answer = await services.as_admin("PUT", service="ingest", path=f"/api/tenants/{tenant_id}",
                                         json={**change.providers, "name": change.name})
        providers = _providers_of(answer.json())
    tenant = await store.save_tenant(database, tenant_id=tenant_id, name=change.name)
    return TenantView(tenant_id=tenant.tenant_id, name=tenant.name, providers=providers)


async def read_tenant(*, database: Database, services: Services, tenant_id: str) -> TenantView:
    """A tenant with the provider settings ingest holds for it (secrets masked by ingest)."""
    tenant = await store.get_tenant(database, tenant_id=tenant_id)
    if tenant is None:
        raise NotFound(f"No tenant {tenant_id!r}: create it with PUT /api/admin/tenants/{tenant_id}.")
    try:
        answer = await services.as_admin("GET", service="ingest", path=f"/api/tenants/{tenant_id}")
    except Refused as refused:
        if refused.response.status_code != 404:
            raise
        return TenantView(tenant_id=tenant.tenant_id, name=tenant.name, providers=None)
    return TenantView(tenant_id=tenant.tenant_id, name=tenant.name, providers=_providers_of(answer.json()))


def _providers_of(answer: dict[str, Any]) -> ProviderSettings:
    return {key: value for key, value in answer.items() if key not in _INGEST_TENANT_FIELDS}
