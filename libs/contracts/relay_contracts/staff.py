"""Events about staff accounts, published by the gateway, which owns sign-in."""

from enum import StrEnum

from pydantic import Field

from relay_contracts.envelope import EventPayload, register
from relay_contracts.topics import STAFF_EVENTS, staff_key


class StaffRole(StrEnum):
    """What a staff member may do: managers and admins manage channels and delete messages."""

    STAFF = "staff"
    MANAGER = "manager"
    ADMIN = "admin"


@register
class StaffAccountSaved(EventPayload):
    """A staff account was created or changed; other services keep their directory from this."""

    event_type = "staff.account_saved"
    topic = STAFF_EVENTS

    staff_id: str = Field(min_length=1)
    username: str = Field(min_length=1)
    display_name: str = Field(min_length=1)
    role: StaffRole = StaffRole.STAFF
    active: bool = True

    def partition_key(self, tenant_id: str) -> bytes:
        return staff_key(tenant_id=tenant_id, staff_id=self.staff_id)


class SessionsEndedBecause(StrEnum):
    """Why sessions of a staff account were ended."""

    SIGNED_OUT = "signed_out"
    SIGNED_OUT_EVERYWHERE = "signed_out_everywhere"
    ENDED_BY_ADMIN = "ended_by_admin"
    DEACTIVATED = "deactivated"
    PASSWORD_CHANGED = "password_changed"
    ROLE_CHANGED = "role_changed"


@register
class StaffSessionsEnded(EventPayload):
    """Sessions of a staff account were ended at the gateway: every live connection they hold must close."""

    event_type = "staff.sessions_ended"
    topic = STAFF_EVENTS

    staff_id: str = Field(min_length=1)
    session_ids: list[str] = Field(default_factory=list, max_length=10_000, description="the sessions ended")
    every_session: bool = Field(default=False, description="every session of the account ended: close all its "
                                                           "connections, whatever session they hold")
    reason: SessionsEndedBecause

    def partition_key(self, tenant_id: str) -> bytes:
        return staff_key(tenant_id=tenant_id, staff_id=self.staff_id)
