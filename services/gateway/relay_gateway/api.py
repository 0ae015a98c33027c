"""HTTP: sign-in and sessions, the staff directory, and the one admin surface for tenants and staff."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from relay_contracts.tenants import TenantId
from relay_gateway import domain, flows
from relay_gateway.models import NewSession, Session, SessionStaff, SignIn, StaffAccountIn, StaffList, StaffMember
from relay_gateway.models import TenantIn, TenantView
from relay_gateway.settings import GatewaySettings
from relay_gateway.upstream import Services, services_of
from relay_kit.auth import AdminOnly, CurrentStaff
from relay_kit.store import Database
from relay_kit.unit_of_work import UnitOfWork

router = APIRouter()

COOKIE = "relay_session"

TenantOfPath = Annotated[TenantId, Path(description="2-63 lower-case letters, digits and dashes")]
Username = Annotated[str, Path(pattern=domain.USERNAME_PATTERN, description="the staff member's sign-in name")]


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


@router.post("/api/session", response_model=NewSession, tags=["session"])
async def sign_in(body: SignIn, response: Response, database: OwnDatabase, settings: Settings) -> NewSession:
    """Check credentials; answer with a session token (also set as an HttpOnly cookie)."""
    ttl = timedelta(hours=settings.session_hours)
    session = await flows.sign_in(database=database, credentials=body,
                                  secret=settings.jwt_secret.get_secret_value(), ttl=ttl)
    response.set_cookie(COOKIE, session.token, max_age=int(ttl.total_seconds()), httponly=True, samesite="lax",
                        secure=settings.secure_cookies)
    return session


@router.get("/api/session", response_model=Session, tags=["session"])
async def who_am_i(staff: CurrentStaff) -> Session:
    """The signed-in staff member."""
    return Session(tenant_id=staff.tenant_id,
                   staff=SessionStaff(staff_id=staff.staff_id, display_name=staff.name, role=staff.role))


@router.delete("/api/session", status_code=204, tags=["session"])
async def sign_out(response: Response) -> Response:
    """Forget the session cookie."""
    response.delete_cookie(COOKIE)
    response.status_code = 204
    return response


@router.get("/api/staff", response_model=StaffList, tags=["staff"])
async def list_staff(staff: CurrentStaff, database: OwnDatabase) -> StaffList:
    """Everyone on my tenant's staff (for assigning issues and starting private messages)."""
    return await flows.staff_of(database=database, tenant_id=staff.tenant_id)


@router.put("/api/admin/tenants/{tenant_id}", response_model=TenantView, dependencies=[AdminOnly],
            responses=PASSED_ON_REFUSAL, tags=["provisioning"])
async def save_tenant(tenant_id: TenantOfPath, body: TenantIn, database: OwnDatabase,
                      services: RoutedServices) -> TenantView:
    """Create or rename a tenant and, when `providers` is given, set its provider settings (admin token)."""
    return await flows.provision_tenant(database=database, services=services, tenant_id=tenant_id, change=body)


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
                                          username=username, change=body)
