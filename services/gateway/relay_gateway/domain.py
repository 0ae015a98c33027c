"""Staff accounts and sign-in rules: passwords hashed with argon2, usernames per tenant."""

import re
import uuid

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, Field, field_validator

from relay_contracts.staff import StaffRole
from relay_kit.errors import Unauthorized

_hasher = PasswordHasher()
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")

# Verifying against this keeps sign-in time the same whether or not the username exists.
_DUMMY_HASH = _hasher.hash("relay-no-such-user")


class TenantIn(BaseModel):
    """A business using Relay."""

    name: str = Field(min_length=1, max_length=200)


class StaffAccountIn(BaseModel):
    """What an administrator gives to create or change a staff account."""

    display_name: str = Field(min_length=1, max_length=100)
    role: StaffRole = StaffRole.STAFF
    password: str | None = Field(default=None, min_length=8, max_length=200)
    active: bool = True


class SignIn(BaseModel):
    """A staff member's credentials."""

    tenant: str = Field(min_length=1, max_length=63)
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)

    @field_validator("tenant", "username")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


def check_tenant_id(tenant_id: str) -> str:
    """A tenant id is lower-case letters, digits and dashes."""
    if not _TENANT.match(tenant_id):
        raise ValueError("A tenant id is 2-63 lower-case letters, digits and dashes.")
    return tenant_id


def check_username(username: str) -> str:
    """A username is lower-case letters, digits, dots, dashes and underscores."""
    if not _USERNAME.match(username):
        raise ValueError("A username is 1-64 lower-case letters, digits, '.', '-' or '_'.")
    return username


def new_staff_id() -> str:
    """A fresh, opaque staff id."""
    return f"stf_{uuid.uuid4().hex[:16]}"


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def verify_password(*, password_hash: str | None, password: str) -> None:
    """Raise Unauthorized unless the password matches (same answer for unknown users)."""
    try:
        _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise Unauthorized("The tenant, username or password is not right.") from None
    if password_hash is None:
        raise Unauthorized("The tenant, username or password is not right.")
