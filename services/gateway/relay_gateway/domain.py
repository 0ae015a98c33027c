"""The gateway's rules: usernames, passwords (argon2), who may sign in, what a saved account announces, and what
the audit log records of an admin's or a manager's action."""

import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from relay_contracts import Envelope
from relay_contracts.chat import ChatMessageDeleted, ConversationUpdated
from relay_contracts.issues import StaffRef
from relay_contracts.staff import SessionsEndedBecause, StaffAccountSaved, StaffRole, StaffSessionsEnded
from relay_gateway.models import AuditActor, AuditEntry, AuditTarget, SignInFailures, SignInSession, StaffAccount
from relay_gateway.models import StaffAccountIn, Tenant
from relay_kit.errors import BadRequest, Forbidden, RelayError, Unauthorized
from relay_kit.principal import StaffPrincipal

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


# ---- the audit log ------------------------------------------------------------------------------------

ADMIN_TOKEN_ACTOR = AuditActor(id="admin", name="admin (token)")
"""Who a call with the provisioning admin token is, in the audit log."""

AUDIT_PAGE_LIMIT = 200
"""The most entries one page of the audit log holds."""


def actor_of(staff: StaffPrincipal | None) -> AuditActor:
    """The audit actor of a call: a signed-in staff member by id and name, else the admin token."""
    return AuditActor(id=staff.staff_id, name=staff.name) if staff is not None else ADMIN_TOKEN_ACTOR


def new_audit_entry_id() -> str:
    """A fresh, opaque audit entry id."""
    return f"aud_{uuid.uuid4().hex}"


def audit_entry_id_of_event(event_id: UUID) -> str:
    """The one audit entry id an event can give (a redelivered event records nothing new)."""
    return f"aud_evt_{event_id.hex}"


def _staff_target(account: StaffAccount) -> AuditTarget:
    return AuditTarget(kind="staff", id=account.staff_id, name=account.display_name)


def _entry(*, tenant_id: str, actor: AuditActor, action: str, target: AuditTarget, at: datetime,
           detail: dict[str, Any] | None = None, entry_id: str | None = None) -> AuditEntry:
    return AuditEntry(entry_id=entry_id or new_audit_entry_id(), tenant_id=tenant_id, at=at, actor=actor,
                      action=action, target=target, detail=detail or {})


def staff_saved_audit(*, existing: StaffAccount | None, saved: StaffAccount, password_given: bool,
                      actor: AuditActor, at: datetime) -> list[AuditEntry]:
    """One entry per action an administrator's save of an account was: created, or its display name, role,
    active state or password changed (never the password itself)."""
    target = _staff_target(saved)
    base = {"tenant_id": saved.tenant_id, "actor": actor, "target": target, "at": at}
    if existing is None:
        return [_entry(**base, action="staff.created", detail={
            "username": saved.username, "display_name": saved.display_name, "role": saved.role.value,
            "active": saved.active})]
    entries: list[AuditEntry] = []
    if existing.display_name != saved.display_name:
        entries.append(_entry(**base, action="staff.changed", detail={
            "username": saved.username, "display_name": {"from": existing.display_name, "to": saved.display_name}}))
    if existing.role != saved.role:
        entries.append(_entry(**base, action="staff.role_changed", detail={
            "username": saved.username, "role": {"from": existing.role.value, "to": saved.role.value}}))
    if existing.active != saved.active:
        entries.append(_entry(**base, action="staff.reactivated" if saved.active else "staff.deactivated",
                              detail={"username": saved.username}))
    if password_given:
        entries.append(_entry(**base, action="staff.password_reset", detail={"username": saved.username}))
    # one save, one time: ids that sort in the order of the actions, so a page lists them newest first
    series = new_audit_entry_id()
    return [entry.model_copy(update={"entry_id": f"{series}_{n}"}) for n, entry in enumerate(entries)]


def sessions_ended_audit(*, account: StaffAccount, ended: int, actor: AuditActor, at: datetime) -> AuditEntry:
    """An administrator signed an account out everywhere."""
    return _entry(tenant_id=account.tenant_id, actor=actor, action="staff.sessions_ended",
                  target=_staff_target(account), at=at, detail={"username": account.username, "ended": ended})


def totp_set_audit(*, account: StaffAccount, enabled: bool, actor: AuditActor, at: datetime) -> AuditEntry:
    """An administrator set up (a new secret, never recorded) or removed an account's two-factor sign-in."""
    action = "staff.totp_set" if enabled else "staff.totp_removed"
    return _entry(tenant_id=account.tenant_id, actor=actor, action=action, target=_staff_target(account), at=at,
                  detail={"username": account.username})


def tenant_saved_audit(*, before: Tenant | None, after: Tenant, provider_sections: list[str] | None,
                       actor: AuditActor, at: datetime) -> AuditEntry | None:
    """What an administrator's save of a tenant changed: its name, the two-factor rule, and which provider
    sections were set (their names only: the values hold secrets). None when it changed nothing."""
    target = AuditTarget(kind="tenant", id=after.tenant_id, name=after.name)
    if before is None:
        detail: dict[str, Any] = {"name": after.name, "require_totp_for_admins": after.require_totp_for_admins}
        if provider_sections is not None:
            detail["providers"] = provider_sections
        return _entry(tenant_id=after.tenant_id, actor=actor, action="tenant.created", target=target, at=at,
                      detail=detail)
    detail = {}
    if before.name != after.name:
        detail["name"] = {"from": before.name, "to": after.name}
    if before.require_totp_for_admins != after.require_totp_for_admins:
        detail["require_totp_for_admins"] = {"from": before.require_totp_for_admins,
                                             "to": after.require_totp_for_admins}
    if provider_sections is not None:
        detail["providers"] = provider_sections
    if not detail:
        return None
    return _entry(tenant_id=after.tenant_id, actor=actor, action="tenant.settings_changed", target=target, at=at,
                  detail=detail)


def provider_sections_of(providers: dict[str, Any]) -> list[str]:
    """The provider sections a tenant save sets (`mailgun`, `twilio`, …), by name: never their values."""
    return sorted(providers)


def _staff_actor(ref: StaffRef) -> AuditActor:
    return AuditActor(id=ref.id, name=ref.name)


def chat_audit(event: Envelope[Any]) -> AuditEntry | None:
    """The audit entry a chat event gives, if it is a manager's action: a channel archived, or a message deleted
    by someone other than its author. Keyed by the event id, so a redelivery gives the same entry."""
    payload = event.payload
    conversation = payload.conversation
    entry_id = audit_entry_id_of_event(event.event_id)
    if isinstance(payload, ConversationUpdated):
        if not conversation.archived:
            return None
        return _entry(tenant_id=event.tenant_id, actor=_staff_actor(payload.actor), action="chat.channel_archived",
                      target=AuditTarget(kind="channel", id=conversation.conversation_id, name=conversation.name),
                      at=event.occurred_at, entry_id=entry_id, detail={"is_private": conversation.is_private})
    if isinstance(payload, ChatMessageDeleted):
        if payload.author_id is None or payload.author_id == payload.actor.id:
            return None
        return _entry(tenant_id=event.tenant_id, actor=_staff_actor(payload.actor), action="chat.message_deleted",
                      target=AuditTarget(kind="message", id=payload.message_id,
                                         name=f"message {payload.seq} in {conversation.name}"),
                      at=event.occurred_at, entry_id=entry_id,
                      detail={"conversation_id": conversation.conversation_id, "conversation_name": conversation.name,
                              "seq": payload.seq, "author_id": payload.author_id})
    return None
