"""Sign-in, sessions, staff accounts and tenant provisioning."""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from relay_contracts import new_event
from relay_contracts.staff import StaffAccountSaved
from relay_gateway import domain, store
from relay_kit.auth import AdminOnly, CurrentStaff, StaffPrincipal, issue_token
from relay_kit.errors import BadRequest, NotFound

router = APIRouter()

COOKIE = "relay_session"
TenantId = Annotated[str, Path(min_length=2, max_length=63, pattern=r"^[a-z0-9][a-z0-9-]+$")]
Username = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")]


def _public(staff: dict[str, Any]) -> dict[str, Any]:
    return {
        "staff_id": staff["staff_id"],
        "username": staff["username"],
        "display_name": staff["display_name"],
        "role": staff.get("role", "staff"),
    }


@router.post("/api/session", tags=["session"])
async def sign_in(body: domain.SignIn, request: Request, response: Response) -> dict[str, Any]:
    """Check credentials; answer with a session token (also set as an HttpOnly cookie)."""
    runtime = request.app.state.runtime
    staff = await store.get_staff_by_username(runtime.database, tenant_id=body.tenant, username=body.username)
    usable = staff if staff and staff.get("active", True) else None
    domain.verify_password(password_hash=usable.get("password_hash") if usable else None, password=body.password)
    assert usable is not None
    principal = StaffPrincipal(
        staff_id=usable["staff_id"], tenant_id=body.tenant, name=usable["display_name"], role=usable.get("role", "staff")
    )
    settings = request.app.state.settings
    ttl = timedelta(hours=settings.session_hours)
    token = issue_token(principal, secret=settings.jwt_secret.get_secret_value(), ttl=ttl)
    response.set_cookie(
        COOKIE, token, max_age=int(ttl.total_seconds()), httponly=True, samesite="lax", secure=settings.secure_cookies
    )
    return {"token": token, "tenant_id": body.tenant, "staff": _public(usable)}


@router.get("/api/session", tags=["session"])
async def who_am_i(staff: CurrentStaff) -> dict[str, Any]:
    """The signed-in staff member."""
    return {"tenant_id": staff.tenant_id, "staff": {"staff_id": staff.staff_id, "display_name": staff.name,
                                                    "role": staff.role.value}}


@router.delete("/api/session", status_code=204, tags=["session"])
async def sign_out(response: Response) -> Response:
    """Forget the session cookie."""
    response.delete_cookie(COOKIE)
    response.status_code = 204
    return response


@router.get("/api/staff", tags=["staff"])
async def list_staff(staff: CurrentStaff, request: Request) -> dict[str, Any]:
    """Everyone on my tenant's staff (for assigning issues and starting private messages)."""
    members = await store.list_staff(request.app.state.runtime.database, tenant_id=staff.tenant_id)
    return {"staff": [_public(m) for m in members]}


@router.put("/api/admin/tenants/{tenant_id}", dependencies=[AdminOnly], tags=["provisioning"])
async def save_tenant(tenant_id: TenantId, body: domain.TenantIn, request: Request) -> dict[str, Any]:
    """Create or rename a tenant (admin token)."""
    tenant = await store.save_tenant(request.app.state.runtime.database, tenant_id=tenant_id, name=body.name)
    return {"tenant_id": tenant["tenant_id"], "name": tenant["name"]}


@router.put("/api/admin/tenants/{tenant_id}/staff/{username}", dependencies=[AdminOnly], tags=["provisioning"])
async def save_staff_account(
    tenant_id: TenantId, username: Username, body: domain.StaffAccountIn, request: Request
) -> dict[str, Any]:
    """Create or change a staff account (admin token); other services learn of it from staff.events."""
    runtime = request.app.state.runtime
    if not await store.get_tenant(runtime.database, tenant_id=tenant_id):
        raise NotFound(f"No tenant {tenant_id!r}: create it first with PUT /api/admin/tenants/{tenant_id}.")
    existing = await store.get_staff_by_username(runtime.database, tenant_id=tenant_id, username=username)
    if not existing and not body.password:
        raise BadRequest("A new staff account needs a password (at least 8 characters).")
    fields: dict[str, Any] = {"display_name": body.display_name, "role": body.role.value, "active": body.active}
    if body.password:
        fields["password_hash"] = domain.hash_password(body.password)

    def announce(account: dict[str, Any]) -> Any:
        return new_event(
            StaffAccountSaved(
                staff_id=account["staff_id"], username=username, display_name=body.display_name,
                role=body.role, active=body.active,
            ),
            tenant_id=tenant_id,
            producer="gateway",
        )

    account = await store.save_staff(
        runtime.database, tenant_id=tenant_id, username=username, fields=fields,
        new_staff_id=domain.new_staff_id(), event_for=announce,
    )
    await runtime.outbox.flush(runtime.database[store.STAFF], account["_id"])
    return _public(account)
