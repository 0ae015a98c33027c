"""The gateway's rules: usernames, passwords (argon2), who may sign in, and what a saved account announces."""

import uuid

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from relay_contracts.staff import StaffAccountSaved
from relay_gateway.models import StaffAccount, StaffAccountIn
from relay_kit.errors import BadRequest, Unauthorized

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
"""A username is 1-64 lower-case letters, digits, '.', '-' or '_', starting with a letter or digit."""

_hasher = PasswordHasher()
# Verifying against this keeps sign-in time the same whether or not the username exists.
_DUMMY_HASH = _hasher.hash("relay-no-such-user")
_WRONG_CREDENTIALS = "The tenant, username or password is not right."


def new_staff_id() -> str:
    """A fresh, opaque staff id."""
    return f"stf_{uuid.uuid4().hex[:16]}"


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def verify_password(*, password_hash: str | None, password: str) -> None:
    """Raise Unauthorized unless the password matches (same answer, same time, for unknown users)."""
    try:
        _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise Unauthorized(_WRONG_CREDENTIALS) from None
    if password_hash is None:
        raise Unauthorized(_WRONG_CREDENTIALS)


def check_sign_in(account: StaffAccount | None, *, password: str) -> StaffAccount:
    """The account the credentials sign in to: it exists, is active and the password matches."""
    usable = account if account and account.active else None
    verify_password(password_hash=usable.password_hash if usable else None, password=password)
    assert usable is not None  # verify_password refused every other case
    return usable


def account_to_save(
    *, existing: StaffAccount | None, tenant_id: str, username: str, change: StaffAccountIn
) -> StaffAccount:
    """The account after an administrator's change: a new one needs a password; an omitted one is kept."""
    if change.password:
        password_hash = hash_password(change.password)
    elif existing is not None:
        password_hash = existing.password_hash
    else:
        raise BadRequest("A new staff account needs a password (at least 8 characters).")
    return StaffAccount(
        staff_id=existing.staff_id if existing else new_staff_id(), tenant_id=tenant_id, username=username,
        display_name=change.display_name, role=change.role, active=change.active, password_hash=password_hash,
    )


def account_saved(account: StaffAccount) -> StaffAccountSaved:
    """What other services learn of a saved account (its directory entry, never the password)."""
    return StaffAccountSaved(staff_id=account.staff_id, username=account.username,
                             display_name=account.display_name, role=account.role, active=account.active)
