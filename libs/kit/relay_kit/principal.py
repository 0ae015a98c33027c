"""Who a request acts for: the signed-in staff member, free of any web framework (domains take it as is)."""

from pydantic import BaseModel, ConfigDict

from relay_contracts.issues import StaffRef
from relay_contracts.staff import StaffRole


class StaffPrincipal(BaseModel):
    """The signed-in staff member a request acts for."""

    model_config = ConfigDict(frozen=True)

    staff_id: str
    tenant_id: str
    name: str
    role: StaffRole = StaffRole.STAFF

    @property
    def ref(self) -> StaffRef:
        """How events name this person."""
        return StaffRef(id=self.staff_id, name=self.name)

    @property
    def is_manager(self) -> bool:
        """Managers and admins manage channels and may delete others' messages."""
        return self.role in (StaffRole.MANAGER, StaffRole.ADMIN)
