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
