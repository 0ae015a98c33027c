"""Staff session tokens (signed JWTs): issued by the gateway, checked by every service."""

import hmac
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from relay_contracts.staff import StaffRole
from relay_kit.errors import Forbidden, Unauthorized
from relay_kit.principal import StaffPrincipal

__all__ = ["AdminOnly", "CurrentStaff", "StaffPrincipal", "bearer_token", "is_admin_token", "issue_token",
           "session_id_of", "verify_token"]

ALGORITHM = "HS256"
AUDIENCE = "relay-staff"


def issue_token(principal: StaffPrincipal, *, secret: str, ttl: timedelta = timedelta(hours=12),
                session_id: str | None = None) -> str:
    """Sign a session token for a staff member; `session_id` (claim `sid`) names its server-side session."""
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
    if session_id:
        claims["sid"] = session_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _claims(token: str, *, secret: str) -> dict[str, Any]:
    try:
        return jwt.decode(
            token, secret, algorithms=[ALGORITHM], audience=AUDIENCE, options={"require": ["exp", "sub", "tid"]}
        )
    except (jwt.PyJWTError, ValueError, KeyError):
        raise Unauthorized("Sign in again: the session token is missing, expired or not valid.") from None


def session_id_of(token: str, *, secret: str) -> str | None:
    """The server-side session a good token names (claim `sid`), or None; Unauthorized if the token is not good."""
    sid = _claims(token, secret=secret).get("sid")
    return sid if isinstance(sid, str) and sid else None


def verify_token(token: str, *, secret: str) -> StaffPrincipal:
    """Check a session token's signature and expiry; raise Unauthorized if it is not good."""
    claims = _claims(token, secret=secret)
    try:
        return StaffPrincipal(
            staff_id=claims["sub"], tenant_id=claims["tid"], name=claims.get("name") or claims["sub"],
            role=StaffRole(claims.get("role", "staff")),
        )
    except (ValueError, KeyError):
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


def is_admin_token(token: str | None, *, expected: str) -> bool:
    """Whether the token is the provisioning admin token (compared in constant time)."""
    return hmac.compare_digest((token or "").encode(), expected.encode())


def _admin(request: Request) -> None:
    if not is_admin_token(bearer_token(request), expected=request.app.state.settings.admin_token.get_secret_value()):
        raise Forbidden("This provisioning call needs the admin token.")


CurrentStaff = Annotated[StaffPrincipal, Depends(_current_staff)]
AdminOnly = Depends(_admin)
