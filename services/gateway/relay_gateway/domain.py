"""The gateway's rules: usernames, passwords (argon2), who may sign in, and what a saved account announces."""

import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from relay_contracts.staff import SessionsEndedBecause, StaffAccountSaved, StaffRole, StaffSessionsEnded
from relay_gateway.models import SignInFailures, SignInSession, StaffAccount, StaffAccountIn
from relay_kit.errors import BadRequest, Forbidden, RelayError, Unauthorized

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
"""A username is 1-64 lower-case letters, digits, '.', '-' or '_', starting with a letter or digit."""

_hasher = PasswordHasher()
# Verifying against this keeps sign-in time the same whether or not the username exists.
_DUMMY_HASH = _hasher.hash("relay-no-such-user")
_WRONG_CREDENTIALS = "The tenant, username or password is not right."


_SESSION_ENDED = "Your session has ended (signed out, or the account changed); sign in again."


class TooManyAttempts(RelayError):
    """Too many wrong passwords lately: the caller must wait `retry_after_seconds` (answered as Retry-After)."""

    status_code = 429
    code = "too_many_attempts"

    def __init__(self, retry_after_seconds: float) -> None:
        wait = max(1, math.ceil(retry_after_seconds))
        super().__init__(f"Too many wrong passwords; wait {wait} s before trying again.")
        self.headers = {"retry-after": str(wait)}


@dataclass(frozen=True)
class Throttle:
    """How many wrong passwords are free, and how the wait grows after them (doubling, up to a cap)."""

    free_failures: int
    first_delay_seconds: float
    longest_delay_seconds: float
    forget_after_seconds: float | None = None

    def delay_after(self, failures: int) -> float:
        """The wait after this many failures in a row (0 while they are free)."""
        if failures < self.free_failures:
            return 0.0
        return min(self.longest_delay_seconds, self.first_delay_seconds * 2 ** (failures - self.free_failures))


TOTP_ISSUER = "Relay"


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def totp_uri(*, secret: str, tenant_id: str, username: str) -> str:
    """The otpauth:// address an authenticator app reads (usually as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=f"{username}@{tenant_id}", issuer_name=TOTP_ISSUER)


def totp_step(*, secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step a code is good for (this one or a neighbour, for clock drift), unless already used; else None."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def check_second_factor(account: StaffAccount, *, code: str | None, now: datetime,
                        required_for_admins: bool) -> int | None:
    """The TOTP step a sign-in uses (None when the account has no two-factor); Unauthorized/Forbidden otherwise."""
    if not account.totp_confirmed or not account.totp_secret:
        if required_for_admins and account.role is StaffRole.ADMIN:
            raise Forbidden("This business requires two-factor sign-in for admins: ask an administrator to set it up "
                            "for you (PUT …/staff/{username}/totp with the admin token).", code="totp_enrolment_needed")
        return None
    if code is None:
        raise Unauthorized("Enter the 6-digit code from your authenticator app.", code="totp_required")
    step = totp_step(secret=account.totp_secret, code=code, now=now, last_step=account.totp_last_step)
    if step is None:
        raise Unauthorized("The code is not right or was used already; enter the current one.", code="totp_wrong")
    return step


def account_key(*, tenant_id: str, username: str) -> str:
    """The throttle key of an account."""
    return f"account:{tenant_id}/{username}"


def address_key(address: str) -> str:
    """The throttle key of a client address."""
    return f"address:{address}"


def check_not_throttled(records: list[SignInFailures], *, now: datetime) -> None:
    """Raise TooManyAttempts while any of the records still blocks sign-in."""
    waits = [(r.blocked_until - now).total_seconds() for r in records if r.blocked_until and r.blocked_until > now]
    if waits:
        raise TooManyAttempts(max(waits))


def failures_counted(record: SignInFailures | None, *, key: str, throttle: Throttle, now: datetime) -> SignInFailures:
    """The record after one more wrong password (an address's old failures are forgotten after a quiet time)."""
    failures = record.failures if record else 0
    if (record and throttle.forget_after_seconds is not None and record.last_failure_at
            and (now - record.last_failure_at).total_seconds() > throttle.forget_after_seconds):
        failures = 0
    failures += 1
    delay = throttle.delay_after(failures)
    return SignInFailures(key=key, failures=failures, last_failure_at=now,
                          blocked_until=now + timedelta(seconds=delay) if delay else None)


def new_session(account: StaffAccount, *, now: datetime, ttl: timedelta) -> SignInSession:
    """A fresh server-side session for the account, with an unguessable id."""
    return SignInSession(session_id=f"ses_{secrets.token_urlsafe(18)}", tenant_id=account.tenant_id,
                         staff_id=account.staff_id, created_at=now, expires_at=now + ttl)


def check_session(session: SignInSession | None, *, staff_id: str, tenant_id: str, now: datetime) -> SignInSession:
    """The session a token names, if it is still open and is the token's; Unauthorized otherwise."""
    if (session is None or session.ended_at is not None or session.expires_at <= now
            or session.staff_id != staff_id or session.tenant_id != tenant_id):
        raise Unauthorized(_SESSION_ENDED, code="session_ended")
    return session


def sessions_to_end(*, existing: StaffAccount | None, saved: StaffAccount,
                    password_changed: bool) -> SessionsEndedBecause | None:
    """Why an administrator's change to an account ends its sessions (deactivated, new password, new role)."""
    if existing is None:
        return None
    if not saved.active:
        return SessionsEndedBecause.DEACTIVATED
    if password_changed:
        return SessionsEndedBecause.PASSWORD_CHANGED
    if existing.role != saved.role:
        return SessionsEndedBecause.ROLE_CHANGED  # tokens carry the role: an old one would keep the old powers
    return None


def sessions_ended(*, staff_id: str, session_ids: list[str], every_session: bool,
                   reason: SessionsEndedBecause) -> StaffSessionsEnded:
    """What notify learns when sessions end (so it closes their live connections)."""
    return StaffSessionsEnded(staff_id=staff_id, session_ids=session_ids, every_session=every_session, reason=reason)


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
