"""What a tenant (one business sharing the deployment) is called by: its id, and the one rule for it."""

import re
from typing import Annotated

from pydantic import StringConstraints

TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
"""Lower-case letters, digits and dashes, 2 to 63 characters, not starting with a dash (it is in URLs)."""

TenantId = Annotated[str, StringConstraints(pattern=TENANT_ID_PATTERN)]

_TENANT_ID = re.compile(TENANT_ID_PATTERN)


def is_valid_tenant_id(tenant_id: str) -> bool:
    """Whether a string is a well-formed tenant id."""
    return bool(_TENANT_ID.match(tenant_id))
