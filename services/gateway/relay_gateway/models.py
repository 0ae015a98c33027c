"""What the gateway stores (tenants, staff accounts) and what it is sent and answers, each defined once."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, JsonValue, RootModel, field_validator

from relay_contracts.staff import StaffRole
from relay_contracts.tenants import TenantId

ProviderSettings = dict[str, JsonValue]
"""A tenant's provider settings as ingest reads them (`twilio`, `telnyx`, `mailgun`, …): the gateway passes
them through, and ingest validates them against its provider modules."""


# --- stored ---------------------------------------------------------------------------------------


class Tenant(BaseModel):
    """A business using Relay, as the gateway keeps it."""

    tenant_id: TenantId
    name: str
    require_totp_for_admins: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None


class StaffAccount(BaseModel):
    """A staff member's sign-in account; the password is kept only as its argon2 hash."""

    staff_id: str
    tenant_id: TenantId
    username: str
    display_name: str
    role: StaffRole = StaffRole.STAFF
    active: bool = True
    password_hash: str | None = Field(default=None, repr=False)
    totp_secret: str | None = Field(default=None, repr=False)
    totp_confirmed: bool = False
    totp_last_step: int | None = None


class SignInSession(BaseModel):
    """One sign-in, kept server-side so it can be ended before its token expires."""

    session_id: str
    tenant_id: TenantId
    staff_id: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    ended_because: str | None = None


class AuditActor(BaseModel):
    """Who did something: a staff member (id and name), or the provisioning admin token."""

    id: str
    name: str


class AuditTarget(BaseModel):
    """What an action was done to: a staff account, the tenant, a channel or a message."""

    kind: str = Field(description="`staff`, `tenant`, `channel` or `message`")
    id: str
    name: str


class AuditEntry(BaseModel):
    """One admin or manager action, kept in the `audit` collection (`_id` is `entry_id`).

    `detail` says what changed (before and after, where there is one); never a password, token or secret.
    """

    entry_id: str
    tenant_id: TenantId
    at: datetime
    actor: AuditActor
    action: str = Field(description="e.g. `staff.role_changed`, `tenant.settings_changed`, `chat.message_deleted`")
    target: AuditTarget
    detail: dict[str, JsonValue] = Field(default_factory=dict)


class SignInFailures(BaseModel):
    """Recent wrong passwords for one account or from one client address, and until when the next must wait."""

    key: str
    failures: int = 0
    last_failure_at: datetime | None = None
    blocked_until: datetime | None = None


# --- sent by callers ------------------------------------------------------------------------------


class TenantIn(BaseModel):
    """What an administrator gives to create or change a tenant."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    providers: ProviderSettings | None = Field(
        default=None,
        description="the tenant's provider settings, passed to ingest as they are (which checks them); "
        "omitted = leave them as they are",
    )
    require_totp_for_admins: bool | None = Field(
        default=None, description="admins must sign in with a TOTP code; omitted = leave it as it is")


class StaffAccountIn(BaseModel):
    """What an administrator gives to create or change a staff account."""

    display_name: str = Field(min_length=1, max_length=100)
    role: StaffRole = StaffRole.STAFF
    password: str | None = Field(default=None, min_length=8, max_length=200,
                                 description="needed for a new account; omitted = keep the current one")
    active: bool = True


class PasswordChange(BaseModel):
    """A staff member's own password change: the current password, and the new one."""

    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=8, max_length=200)


class SignIn(BaseModel):
    """A staff member's credentials."""

    tenant: str = Field(min_length=1, max_length=63)
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    code: str | None = Field(default=None, pattern=r"^[0-9]{6}$",
                             description="the 6-digit TOTP code, for an account with two-factor sign-in")

    @field_validator("tenant", "username")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


# --- answered -------------------------------------------------------------------------------------


class StaffMember(BaseModel):
    """How a staff member appears to colleagues and to administrators (never the password)."""

    staff_id: str
    username: str
    display_name: str
    role: StaffRole

    @classmethod
    def of(cls, account: StaffAccount) -> "StaffMember":
        """The public part of an account."""
        return cls(staff_id=account.staff_id, username=account.username, display_name=account.display_name,
                   role=account.role)


class StaffList(BaseModel):
    """Everyone on a tenant's active staff, by name."""

    staff: list[StaffMember]


class SessionStaff(BaseModel):
    """Who a session token names."""

    staff_id: str
    display_name: str
    role: StaffRole


class Session(BaseModel):
    """The signed-in staff member and their tenant."""

    tenant_id: str
    staff: SessionStaff


class NewSession(BaseModel):
    """A fresh session: its token (also set as the `relay_session` cookie) and who it names."""

    token: str
    tenant_id: str
    staff: StaffMember


class TotpCode(BaseModel):
    """A 6-digit code from the authenticator app."""

    code: str = Field(pattern=r"^[0-9]{6}$")


class TotpEnrolment(BaseModel):
    """A new TOTP secret to add to an authenticator app; confirm it with a code before it is required."""

    secret: str
    otpauth_uri: str


class TotpStatus(BaseModel):
    """Whether the account signs in with a TOTP code."""

    enabled: bool


class SessionsEnded(BaseModel):
    """How many sessions a sign-out ended."""

    ended: int


class TenantView(BaseModel):
    """A tenant as administrators read it: its name and its provider settings with secrets masked."""

    tenant_id: str
    name: str
    require_totp_for_admins: bool = False
    providers: ProviderSettings | None = Field(
        default=None, description="what ingest holds for the tenant, secrets masked; null = none set up yet")


class AuditEntryView(BaseModel):
    """An audit entry as a tenant's admins read it: who, what, when."""

    entry_id: str
    at: datetime
    actor: AuditActor
    action: str
    target: AuditTarget
    detail: dict[str, JsonValue]

    @classmethod
    def of(cls, entry: AuditEntry) -> "AuditEntryView":
        """The readable part of a stored entry."""
        return cls.model_validate(entry.model_dump(exclude={"tenant_id"}))


class AuditPage(BaseModel):
    """A page of a tenant's audit log, newest first; `next_before` fetches the next (older) page."""

    entries: list[AuditEntryView]
    next_before: str | None = Field(default=None, description="pass as `before` for the older entries; null = "
                                                              "this is the last page")


class ApiDocument(RootModel[dict[str, JsonValue]]):
    """An OpenAPI or AsyncAPI document, as the service that owns it serves it."""
