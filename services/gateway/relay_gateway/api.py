"""HTTP: sign-in and sessions, the staff directory, and the one admin surface for tenants and staff."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from relay_contracts.staff import SessionsEndedBecause, StaffRole
from relay_contracts.tenants import TenantId
from relay_gateway import domain, flows
from relay_gateway.access import Now, SignedInStaff, clock_of, signed_in
from relay_gateway.models import AuditPage, NewSession, PasswordChange, Session, SessionsEnded, SessionStaff, SignIn
from relay_gateway.models import StaffAccountIn, StaffList, StaffMember, TenantIn, TenantView, TotpCode
from relay_gateway.models import TotpEnrolment, TotpStatus
from relay_gateway.settings import GatewaySettings
from relay_gateway.upstream import Services, services_of
from relay_kit.auth import AdminOnly
from relay_kit.errors import Forbidden, Unauthorized
from relay_kit.store import Database
from relay_kit.unit_of_work import UnitOfWork

router = APIRouter()

COOKIE = "relay_session"

TenantOfPath = Annotated[TenantId, Path(description="2-63 lower-case letters, digits and dashes")]
Username = Annotated[str, Path(pattern=domain.USERNAME_PATTERN, description="the staff member's sign-in name")]
AuditBefore = Annotated[str | None, Query(pattern=r"^aud_[A-Za-z0-9_]{1,80}$",
                                          description="an earlier page's `next_before`: the entries older than it")]
AuditLimit = Annotated[int, Query(ge=1, le=domain.AUDIT_PAGE_LIMIT, description="entries per page")]
ADMIN_TOKEN_ACTOR = domain.actor_of(None)


def _settings(request: Request) -> GatewaySettings:
    return request.app.state.settings


def _database(request: Request) -> Database:
    return request.app.state.runtime.database


def _unit_of_work(request: Request) -> UnitOfWork:
    return request.app.state.runtime.unit_of_work


Settings = Annotated[GatewaySettings, Depends(_settings)]
OwnDatabase = Annotated[Database, Depends(_database)]
OwnUnitOfWork = Annotated[UnitOfWork, Depends(_unit_of_work)]
RoutedServices = Annotated[Services, Depends(services_of)]

# A provisioning call refused by ingest (say, provider settings it does not accept) answers ingest's own 4xx.
PASSED_ON_REFUSAL = {400: {"description": "refused by ingest, its answer unchanged"},
                     422: {"description": "not valid (here, or in ingest: its answer unchanged)"},
                     503: {"description": "ingest is not answering"}}


THROTTLED = {429: {"description": "too many wrong passwords lately: wait `Retry-After` seconds"}}
SESSION_ENDED = {401: {"description": "no token, a bad one, or its session has ended: sign in again"}}


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/api/session", response_model=NewSession, responses=THROTTLED, tags=["session"])
async def sign_in(body: SignIn, request: Request, response: Response, database: OwnDatabase,
                  settings: Settings) -> NewSession:
    """Check credentials; open a session and answer with its token (also set as an HttpOnly cookie).

    Wrong passwords are throttled per account and per client address (429 with Retry-After, growing waits).
    """
    ttl = timedelta(hours=settings.session_hours)
    session = await flows.sign_in(
        database=database, credentials=body, client_address=_client_address(request),
        secret=settings.jwt_secret.get_secret_value(), ttl=ttl, clock=clock_of(request),
        account_throttle=domain.Throttle(free_failures=settings.sign_in_free_failures_per_account,
                                         first_delay_seconds=settings.sign_in_first_delay_seconds,
                                         longest_delay_seconds=settings.sign_in_longest_delay_seconds),
        address_throttle=domain.Throttle(free_failures=settings.sign_in_free_failures_per_address,
                                         first_delay_seconds=settings.sign_in_first_delay_seconds,
                                         longest_delay_seconds=settings.sign_in_longest_delay_seconds,
                                         forget_after_seconds=settings.sign_in_address_quiet_reset_seconds),
    )
    response.set_cookie(COOKIE, session.token, max_age=int(ttl.total_seconds()), httponly=True, samesite="lax",
                        secure=settings.cookies_secure)
    return session


@router.get("/api/session", response_model=Session, responses=SESSION_ENDED, tags=["session"])
async def who_am_i(signed: SignedInStaff) -> Session:
    """The signed-in staff member."""
    staff = signed.staff
    return Session(tenant_id=staff.tenant_id,
                   staff=SessionStaff(staff_id=staff.staff_id, display_name=staff.name, role=staff.role))


@router.delete("/api/session", status_code=204, tags=["session"])
async def sign_out(request: Request, response: Response, database: OwnDatabase, unit_of_work: OwnUnitOfWork,
                   settings: Settings, now: Now) -> Response:
    """End this session (its token stops working everywhere at once) and forget the cookie."""
    try:
        signed = await signed_in(request)
    except Unauthorized:
        signed = None
    if signed is not None:
        await flows.end_sessions(database=database, unit_of_work=unit_of_work, tenant_id=signed.staff.tenant_id,
                                 staff_id=signed.staff.staff_id, session_ids=[signed.session.session_id],
                                 reason=SessionsEndedBecause.SIGNED_OUT, now=now)
    response.delete_cookie(COOKIE, httponly=True, samesite="lax", secure=settings.cookies_secure)
    response.status_code = 204
    return response


@router.delete("/api/sessions", response_model=SessionsEnded, responses=SESSION_ENDED, tags=["session"])
async def sign_out_everywhere(signed: SignedInStaff, response: Response, database: OwnDatabase,
                              unit_of_work: OwnUnitOfWork, settings: Settings, now: Now) -> SessionsEnded:
    """End every session of mine, on every device (this one too)."""
    ended = await flows.end_sessions(database=database, unit_of_work=unit_of_work, tenant_id=signed.staff.tenant_id,
                                     staff_id=signed.staff.staff_id, session_ids=None,
                                     reason=SessionsEndedBecause.SIGNED_OUT_EVERYWHERE, now=now)
    response.delete_cookie(COOKIE, httponly=True, samesite="lax", secure=settings.cookies_secure)
    return SessionsEnded(ended=ended)


@router.put("/api/session/password", response_model=SessionsEnded, responses=SESSION_ENDED, tags=["session"])
async def change_password(body: PasswordChange, signed: SignedInStaff, response: Response, database: OwnDatabase,
                          unit_of_work: OwnUnitOfWork, settings: Settings, now: Now) -> SessionsEnded:
    """Change my password (the current one is checked); every session of mine ends, so sign in again."""
    ended = await flows.change_own_password(database=database, unit_of_work=unit_of_work, staff=signed.staff,
                                            change=body, now=now)
    response.delete_cookie(COOKIE, httponly=True, samesite="lax", secure=settings.cookies_secure)
    return SessionsEnded(ended=ended)


@router.post("/api/session/totp", response_model=TotpEnrolment, responses=SESSION_ENDED, tags=["session"])
async def start_two_factor(signed: SignedInStaff, database: OwnDatabase) -> TotpEnrolment:
    """Start two-factor sign-in: a new TOTP secret for my authenticator app (on once a code confirms it)."""
    return await flows.start_totp(database=database, staff=signed.staff)


@router.post("/api/session/totp/confirm", response_model=TotpStatus, responses=SESSION_ENDED, tags=["session"])
async def confirm_two_factor(body: TotpCode, signed: SignedInStaff, database: OwnDatabase, now: Now) -> TotpStatus:
    """Turn two-factor sign-in on with a code from the new secret; every later sign-in asks for a code."""
    return await flows.confirm_totp(database=database, staff=signed.staff, code=body.code, now=now)


@router.get("/api/staff", response_model=StaffList, responses=SESSION_ENDED, tags=["staff"])
async def list_staff(signed: SignedInStaff, database: OwnDatabase) -> StaffList:
    """Everyone on my tenant's staff (for assigning issues and starting private messages)."""
    return await flows.staff_of(database=database, tenant_id=signed.staff.tenant_id)


@router.put("/api/admin/tenants/{tenant_id}", response_model=TenantView, dependencies=[AdminOnly],
            responses=PASSED_ON_REFUSAL, tags=["provisioning"])
async def save_tenant(tenant_id: TenantOfPath, body: TenantIn, database: OwnDatabase,
                      services: RoutedServices) -> TenantView:
    """Create or rename a tenant and, when `providers` is given, set its provider settings (admin token)."""
    return await flows.provision_tenant(database=database, services=services, tenant_id=tenant_id, change=body,
                                        actor=ADMIN_TOKEN_ACTOR)


@router.get("/api/admin/tenants/{tenant_id}", response_model=TenantView, dependencies=[AdminOnly],
            tags=["provisioning"])
async def get_tenant(tenant_id: TenantOfPath, database: OwnDatabase, services: RoutedServices) -> TenantView:
    """A tenant with its provider settings, secrets masked (admin token)."""
    return await flows.read_tenant(database=database, services=services, tenant_id=tenant_id)


@router.put("/api/admin/tenants/{tenant_id}/staff/{username}", response_model=StaffMember,
            dependencies=[AdminOnly], tags=["provisioning"])
async def save_staff_account(tenant_id: TenantOfPath, username: Username, body: StaffAccountIn,
                             database: OwnDatabase, unit_of_work: OwnUnitOfWork) -> StaffMember:
    """Create or change a staff account (admin token); other services learn of it from staff.events."""
    return await flows.save_staff_account(database=database, unit_of_work=unit_of_work, tenant_id=tenant_id,
                                          username=username, change=body, actor=ADMIN_TOKEN_ACTOR)


@router.delete("/api/admin/tenants/{tenant_id}/staff/{username}/sessions", response_model=SessionsEnded,
               dependencies=[AdminOnly], tags=["provisioning"])
async def end_staff_sessions(tenant_id: TenantOfPath, username: Username, database: OwnDatabase,
                             unit_of_work: OwnUnitOfWork, now: Now) -> SessionsEnded:
    """Sign a staff member out everywhere (admin token): every session and live connection of theirs ends."""
    return SessionsEnded(ended=await flows.end_sessions_of_account(
        database=database, unit_of_work=unit_of_work, tenant_id=tenant_id, username=username,
        actor=ADMIN_TOKEN_ACTOR, now=now))


@router.put("/api/admin/tenants/{tenant_id}/staff/{username}/totp", response_model=TotpEnrolment,
            dependencies=[AdminOnly], tags=["provisioning"])
async def set_up_staff_two_factor(tenant_id: TenantOfPath, username: Username, database: OwnDatabase,
                                  now: Now) -> TotpEnrolment:
    """Set up two-factor sign-in for an account (admin token): a new secret, required from the next sign-in."""
    enrolment = await flows.set_totp_of_account(database=database, tenant_id=tenant_id, username=username,
                                                enabled=True, actor=ADMIN_TOKEN_ACTOR, now=now)
    assert enrolment is not None
    return enrolment


@router.delete("/api/admin/tenants/{tenant_id}/staff/{username}/totp", status_code=204, dependencies=[AdminOnly],
               tags=["provisioning"])
async def turn_off_staff_two_factor(tenant_id: TenantOfPath, username: Username, database: OwnDatabase,
                                    now: Now) -> Response:
    """Turn an account's two-factor sign-in off (admin token), say after a lost phone."""
    await flows.set_totp_of_account(database=database, tenant_id=tenant_id, username=username, enabled=False,
                                    actor=ADMIN_TOKEN_ACTOR, now=now)
    return Response(status_code=204)


AUDIT_ANSWERS = {400: {"description": "`before` names no audit entry of this tenant"}}


@router.get("/api/admin/tenants/{tenant_id}/audit", response_model=AuditPage, dependencies=[AdminOnly],
            responses={**AUDIT_ANSWERS, 404: {"description": "no such tenant"}}, tags=["audit"])
async def tenant_audit_log(tenant_id: TenantOfPath, database: OwnDatabase, before: AuditBefore = None,
                           limit: AuditLimit = 50) -> AuditPage:
    """A tenant's audit log, newest first (admin token): who did what, when. Page on with `before`."""
    await flows.read_tenant_exists(database=database, tenant_id=tenant_id)
    return await flows.read_audit(database=database, tenant_id=tenant_id, before=before, limit=limit)


@router.get("/api/audit", response_model=AuditPage,
            responses={**AUDIT_ANSWERS, **SESSION_ENDED, 403: {"description": "only the tenant's admins read it"}},
            tags=["audit"])
async def my_tenant_audit_log(signed: SignedInStaff, database: OwnDatabase, before: AuditBefore = None,
                              limit: AuditLimit = 50) -> AuditPage:
    """My tenant's audit log, newest first, for a signed-in admin: who did what, when. Page on with `before`."""
    if signed.staff.role is not StaffRole.ADMIN:
        raise Forbidden("Only the business's admins read the audit log.")
    return await flows.read_audit(database=database, tenant_id=signed.staff.tenant_id, before=before, limit=limit)
