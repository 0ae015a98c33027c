"""Session tokens: good ones name the staff member; expired, forged or foreign ones are refused."""

from datetime import timedelta

import pytest

from relay_contracts.staff import StaffRole
from relay_kit.auth import StaffPrincipal, issue_token, verify_token
from relay_kit.errors import Unauthorized

ALICE = StaffPrincipal(staff_id="stf_1", tenant_id="demo", name="Alice", role=StaffRole.MANAGER)


def test_token_round_trips_the_principal() -> None:
    assert verify_token(issue_token(ALICE, secret="s3cret"), secret="s3cret") == ALICE


@pytest.mark.parametrize("token", [
    issue_token(ALICE, secret="other-secret"),
    issue_token(ALICE, secret="s3cret", ttl=timedelta(seconds=-1)),
    "",
    "a.b.c",
])
def test_bad_tokens_are_unauthorized(token: str) -> None:
    with pytest.raises(Unauthorized):
        verify_token(token, secret="s3cret")
