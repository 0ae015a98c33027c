"""Staff session tokens (signed JWTs): issued by the gateway, checked by every service."""

import hmac
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request

from relay_contracts.staff import StaffRole
from relay_kit.errors import Forbidden, Unauthorized
from relay_kit.principal import StaffPrincipal

__all__ = ["AdminOnly", "CurrentStaff", "StaffPrincipal", "bearer_token", "issue_token", "verify_token"]

ALGORITHM = "HS256"
AUDIENCE = "relay-staff"


def issue_token(principal: StaffPrincipal, *, secret: str, ttl: timedelta = timedelta(hours=12)) -> str:
    """Sign a session token for a staff member."""
    now = datetime.now(UTC)
    claims = {
        "sub": principal.staff_id,
        "tid": principal.tenant_id,
        "name": principal.name,
        "role": principal.role.value,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str, *, secret: str) -> StaffPrincipal:
    """Check a session token's signature and expiry; raise Unauthorized if it is not good."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], audience=AUDIENCE, options={"require": ["exp", "sub", "tid"]}
        )
        return StaffPrincipal(
            staff_id=claims["sub"], tenant_id=claims["tid"], name=claims.get("name") or claims["sub"],
            role=StaffRole(claims.get("role", "staff")),
        )
    except (jwt.PyJWTError, ValueError, KeyError):
        raise Unauthorized("Sign in again: the session token is missing, expired or not valid.") from None


def bearer_token(request: Request) -> str | None:
    """The token from `Authorization: Bearer …`, or the session cookie the gateway sets."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get("relay_session")


def _current_staff(request: Request) -> StaffPrincipal:
    token = bearer_token(request)
    if not token:
        raise Unauthorized("Sign in first: this needs a staff session token.")
    return verify_token(token, secret=request.app.state.settings.jwt_secret.get_secret_value())


def _admin(request: Request) -> None:
    token = bearer_token(request) or ""
    expected = request.app.state.settings.admin_token.get_secret_value()
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise Forbidden("This provisioning call needs the admin token.")


CurrentStaff = Annotated[StaffPrincipal, Depends(_current_staff)]
AdminOnly = Depends(_admin)
