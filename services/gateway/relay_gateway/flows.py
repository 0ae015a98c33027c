"""The gateway's multi-step work: signing in (throttled), ending sessions, saving staff accounts with their
event, provisioning tenants, and recording each admin's and manager's action in the audit log."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from relay_contracts import Envelope, new_event
from relay_contracts.staff import SessionsEndedBecause
from relay_gateway import domain, store
from relay_gateway.models import (
    AuditActor,
    AuditEntryView,
    AuditPage,
    NewSession,
    PasswordChange,
    ProviderSettings,
    SignIn,
    SignInSession,
    StaffAccountIn,
    StaffList,
    StaffMember,
    TenantIn,
    TenantView,
    TotpEnrolment,
    TotpStatus,
)
from relay_gateway.upstream import Refused, Services
from relay_kit.auth import StaffPrincipal, issue_token, session_id_of, verify_token
from relay_kit.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from relay_kit.store import Database
from relay_kit.unit_of_work import OnPublishFailure, UnitOfWork

PRODUCER = "gateway"
# What ingest's tenant answer carries around the provider settings themselves.
_INGEST_TENANT_FIELDS = {"tenant_id", "name", "created_at", "updated_at"}


async def sign_in(*, database: Database, credentials: SignIn, client_address: str, secret: str, ttl: timedelta,
                  account_throttle: domain.Throttle, address_throttle: domain.Throttle,
                  clock: Callable[[], datetime]) -> NewSession:
    """Check the credentials (unless too many were wrong lately) and open a session for the account they name.

    Wrong passwords are counted per account and per client address; past the free ones each further attempt
    must wait, doubling every time (429 with Retry-After). A good sign-in clears the account's count.
    """
    account_key = domain.account_key(tenant_id=credentials.tenant, username=credentials.username)
    address_key = domain.address_key(client_address)
    domain.check_not_throttled(await store.get_failures(database, keys=[account_key, address_key]), now=clock())
    found = await store.get_staff(database, tenant_id=credentials.tenant, username=credentials.username)
    try:
        account = domain.check_sign_in(found, password=credentials.password)
        tenant = await store.get_tenant(database, tenant_id=account.tenant_id)
        step = domain.check_second_factor(account, code=credentials.code, now=clock(),
                                          required_for_admins=bool(tenant and tenant.require_totp_for_admins))
        if step is not None and not await store.use_totp_step(database, staff_id=account.staff_id, step=step):
            raise Unauthorized("The code was used already; enter the next one.", code="totp_wrong")
    except Unauthorized:
        now = clock()  # after the (deliberately slow) password check: the wait starts when the failure is known
        records = {r.key: r for r in await store.get_failures(database, keys=[account_key, address_key])}
        for key, throttle in ((account_key, account_throttle), (address_key, address_throttle)):
            await store.save_failures(database, record=domain.failures_counted(records.get(key), key=key,
                                                                               throttle=throttle, now=now))
        raise
    await store.forget_failures(database, key=account_key)
    session = domain.new_session(account, now=clock(), ttl=ttl)
    await store.add_session(database, session=session)
    principal = StaffPrincipal(staff_id=account.staff_id, tenant_id=account.tenant_id, name=account.display_name,
                               role=account.role)
    return NewSession(token=issue_token(principal, secret=secret, ttl=ttl, session_id=session.session_id),
                      tenant_id=account.tenant_id, staff=StaffMember.of(account))


async def open_session(*, database: Database, token: str, secret: str,
                       now: datetime) -> tuple[StaffPrincipal, SignInSession]:
    """Who a token signs in, if its server-side session is still open; Unauthorized otherwise."""
    principal = verify_token(token, secret=secret)
    session_id = session_id_of(token, secret=secret)
    session = await store.get_session(database, session_id=session_id) if session_id else None
    return principal, domain.check_session(session, staff_id=principal.staff_id, tenant_id=principal.tenant_id,
                                           now=now)


async def end_sessions(*, database: Database, unit_of_work: UnitOfWork, tenant_id: str, staff_id: str,
                       session_ids: list[str] | None, reason: SessionsEndedBecause, now: datetime) -> int:
    """End sessions of an account (None: all) and announce it on staff.events, so notify closes their sockets."""
    ended = await store.end_sessions(database, tenant_id=tenant_id, staff_id=staff_id, session_ids=session_ids,
                                     reason=reason.value, now=now)
    if not ended and session_ids is not None:
        return 0
    event = new_event(domain.sessions_ended(staff_id=staff_id, session_ids=ended, every_session=session_ids is None,
                                            reason=reason), tenant_id=tenant_id, producer=PRODUCER)
    await unit_of_work.commit(store.announce(database, staff_id=staff_id, events=[event]), collection=store.STAFF,
                              document_id=staff_id, on_publish_failure=OnPublishFailure.LEAVE_TO_SWEEPER)
    return len(ended)


async def end_sessions_of_account(*, database: Database, unit_of_work: UnitOfWork, tenant_id: str, username: str,
                                  actor: AuditActor, now: datetime) -> int:
    """An administrator's "sign out everywhere" for one account (recorded in the audit log)."""
    account = await store.get_staff(database, tenant_id=tenant_id, username=username)
    if account is None:
        raise NotFound(f"No staff account {username!r} on tenant {tenant_id!r}.")
    ended = await end_sessions(database=database, unit_of_work=unit_of_work, tenant_id=tenant_id,
                               staff_id=account.staff_id, session_ids=None,
                               reason=SessionsEndedBecause.ENDED_BY_ADMIN, now=now)
    await store.record_audit(database, entries=[domain.sessions_ended_audit(account=account, ended=ended, actor=actor,
                                                                            at=now)])
    return ended


async def change_own_password(*, database: Database, unit_of_work: UnitOfWork, staff: StaffPrincipal,
                              change: PasswordChange, now: datetime) -> int:
    """A staff member's new password, after checking the current one; every session of theirs ends."""
    account = await store.get_staff_by_id(database, tenant_id=staff.tenant_id, staff_id=staff.staff_id)
    if account is None or not account.active:
        raise Unauthorized("Sign in again: this account is not active.")
    try:
        domain.verify_password(password_hash=account.password_hash, password=change.current_password)
    except Unauthorized:
        raise Forbidden("The current password is not right; nothing was changed.") from None
    await store.set_password(database, account=account, password_hash=domain.hash_password(change.new_password))
    return await end_sessions(database=database, unit_of_work=unit_of_work, tenant_id=staff.tenant_id,
                              staff_id=staff.staff_id, session_ids=None,
                              reason=SessionsEndedBecause.PASSWORD_CHANGED, now=now)


async def start_totp(*, database: Database, staff: StaffPrincipal) -> TotpEnrolment:
    """A new, unconfirmed TOTP secret for my account (two-factor starts once a code confirms it)."""
    account = await store.get_staff_by_id(database, tenant_id=staff.tenant_id, staff_id=staff.staff_id)
    if account is None:
        raise Unauthorized("Sign in again: this account is not active.")
    if account.totp_confirmed:
        raise Conflict("Two-factor sign-in is on already; an administrator can reset it.")
    secret = domain.new_totp_secret()
    await store.set_totp(database, staff_id=account.staff_id, secret=secret, confirmed=False)
    return TotpEnrolment(secret=secret, otpauth_uri=domain.totp_uri(secret=secret, tenant_id=account.tenant_id,
                                                                   username=account.username))


async def confirm_totp(*, database: Database, staff: StaffPrincipal, code: str, now: datetime) -> TotpStatus:
    """Turn two-factor sign-in on, once a code from the new secret proves the app has it."""
    account = await store.get_staff_by_id(database, tenant_id=staff.tenant_id, staff_id=staff.staff_id)
    if account is None or not account.totp_secret:
        raise Conflict("Start with POST /api/session/totp to get a secret first.")
    step = domain.totp_step(secret=account.totp_secret, code=code, now=now, last_step=account.totp_last_step)
    if step is None or not await store.use_totp_step(database, staff_id=account.staff_id, step=step, confirm=True):
        raise BadRequest("The code is not right; enter the current one from the authenticator app.")
    return TotpStatus(enabled=True)


async def set_totp_of_account(*, database: Database, tenant_id: str, username: str, enabled: bool,
                              actor: AuditActor, now: datetime) -> TotpEnrolment | None:
    """An administrator sets up (a new secret, on at once) or turns off an account's two-factor sign-in (recorded
    in the audit log, never the secret)."""
    account = await store.get_staff(database, tenant_id=tenant_id, username=username)
    if account is None:
        raise NotFound(f"No staff account {username!r} on tenant {tenant_id!r}.")
    audit = domain.totp_set_audit(account=account, enabled=enabled, actor=actor, at=now)
    if not enabled:
        await store.set_totp(database, staff_id=account.staff_id, secret=None, confirmed=False)
        await store.record_audit(database, entries=[audit])
        return None
    secret = domain.new_totp_secret()
    await store.set_totp(database, staff_id=account.staff_id, secret=secret, confirmed=True)
    await store.record_audit(database, entries=[audit])
    return TotpEnrolment(secret=secret, otpauth_uri=domain.totp_uri(secret=secret, tenant_id=tenant_id,
                                                                   username=username))


async def staff_of(*, database: Database, tenant_id: str) -> StaffList:
    """Everyone on the tenant's active staff, by name."""
    return StaffList(staff=[StaffMember.of(a) for a in await store.list_staff(database, tenant_id=tenant_id)])


async def save_staff_account(
    *, database: Database, unit_of_work: UnitOfWork, tenant_id: str, username: str, change: StaffAccountIn,
    actor: AuditActor,
) -> StaffMember:
    """Create or change a staff account and announce it on staff.events in the same write.

    The account is stored whatever the broker does: if it cannot take the event now, the outbox sweeper
    publishes it later (an administrator's call succeeds on what was stored). Each action the save was (created,
    renamed, new role, (de)activated, password reset) is written in the same update as audit entries, moved to
    the audit log right after (or at the next start, if the process died in between).
    """
    if await store.get_tenant(database, tenant_id=tenant_id) is None:
        raise NotFound(f"No tenant {tenant_id!r}: create it first with PUT /api/admin/tenants/{tenant_id}.")
    for _ in range(2):  # a second try only when a concurrent call created the same username first
        existing = await store.get_staff(database, tenant_id=tenant_id, username=username)
        account = domain.account_to_save(existing=existing, tenant_id=tenant_id, username=username, change=change)
        event = new_event(domain.account_saved(account), tenant_id=tenant_id, producer=PRODUCER)
        now = datetime.now(UTC)
        audit = domain.staff_saved_audit(existing=existing, saved=account, password_given=bool(change.password),
                                         actor=actor, at=now)
        saved = await unit_of_work.commit(
            store.save_staff(database, account=account, events=[event], audit=audit), collection=store.STAFF,
            document_id=account.staff_id, on_publish_failure=OnPublishFailure.LEAVE_TO_SWEEPER,
        )
        if saved:
            await store.settle_audit(database, staff_id=account.staff_id)
            reason = domain.sessions_to_end(existing=existing, saved=account, password_changed=bool(change.password))
            if reason is not None:
                await end_sessions(database=database, unit_of_work=unit_of_work, tenant_id=tenant_id,
                                   staff_id=account.staff_id, session_ids=None, reason=reason, now=now)
            return StaffMember.of(account)
    raise Conflict(f"Someone else is saving {username!r} at the same moment; send the change again.")


async def provision_tenant(*, database: Database, services: Services, tenant_id: str, change: TenantIn,
                           actor: AuditActor) -> TenantView:
    """Create or rename a tenant and, when given, set its provider settings in ingest first.

    Ingest checks the provider settings against its provider modules: its refusal reaches the caller as it
    is (`Refused`), and then nothing of the call is stored here. What changed is recorded in the audit log
    (which provider sections were set, never their values).
    """
    before = await store.get_tenant(database, tenant_id=tenant_id)
    providers = None
    if change.providers is not None:
        answer = await services.as_admin("PUT", service="ingest", path=f"/api/tenants/{tenant_id}",
                                         json={**change.providers, "name": change.name})
        providers = _providers_of(answer.json())
    tenant = await store.save_tenant(database, tenant_id=tenant_id, name=change.name,
                                     require_totp_for_admins=change.require_totp_for_admins)
    audit = domain.tenant_saved_audit(
        before=before, after=tenant, actor=actor, at=tenant.updated_at or datetime.now(UTC),
        provider_sections=domain.provider_sections_of(change.providers) if change.providers is not None else None)
    if audit is not None:
        await store.record_audit(database, entries=[audit])
    return TenantView(tenant_id=tenant.tenant_id, name=tenant.name,
                      require_totp_for_admins=tenant.require_totp_for_admins, providers=providers)


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
        return TenantView(tenant_id=tenant.tenant_id, name=tenant.name,
                          require_totp_for_admins=tenant.require_totp_for_admins, providers=None)
    return TenantView(tenant_id=tenant.tenant_id, name=tenant.name,
                      require_totp_for_admins=tenant.require_totp_for_admins, providers=_providers_of(answer.json()))


async def read_tenant_exists(*, database: Database, tenant_id: str) -> None:
    """NotFound unless the gateway knows the tenant."""
    if await store.get_tenant(database, tenant_id=tenant_id) is None:
        raise NotFound(f"No tenant {tenant_id!r}: create it with PUT /api/admin/tenants/{tenant_id}.")


async def read_audit(*, database: Database, tenant_id: str, before: str | None, limit: int) -> AuditPage:
    """A page of the tenant's audit log, newest first, older than the entry `before` names (when given)."""
    cursor = None
    if before is not None:
        cursor = await store.get_audit_entry(database, tenant_id=tenant_id, entry_id=before)
        if cursor is None:
            raise BadRequest(f"`before` names no audit entry of tenant {tenant_id!r}: pass a `next_before` given "
                             "by an earlier page.")
    entries = await store.list_audit(database, tenant_id=tenant_id, limit=limit + 1, before=cursor)
    more = len(entries) > limit
    entries = entries[:limit]
    return AuditPage(entries=[AuditEntryView.of(entry) for entry in entries],
                     next_before=entries[-1].entry_id if more else None)


async def record_chat_action(*, database: Database, event: Envelope[Any]) -> bool:
    """Record a manager's chat action (a channel archived, someone else's message deleted) once per event id;
    False when the event is no such action or was recorded already (a redelivery)."""
    entry = domain.chat_audit(event)
    if entry is None:
        return False
    return await store.record_audit(database, entries=[entry]) > 0


def _providers_of(answer: dict[str, Any]) -> ProviderSettings:
    return {key: value for key, value in answer.items() if key not in _INGEST_TENANT_FIELDS}
