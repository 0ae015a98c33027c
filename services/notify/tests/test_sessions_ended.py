"""Sessions ended at the gateway close their live connections on every replica; the token stays out of URLs."""

import pytest
import websockets

from relay_contracts import new_event
from relay_contracts.staff import SessionsEndedBecause, StaffSessionsEnded
from relay_kit.auth import issue_token


async def _closed(tab) -> tuple[int | None, str | None]:
    """Wait until the server closes the tab; its close code and reason."""
    with pytest.raises(websockets.ConnectionClosed):
        await tab.next(lambda _: False, timeout=15)
    return tab.connection.close_code, tab.connection.close_reason


async def test_the_tab_of_a_signed_out_session_is_closed_with_the_reason_and_others_stay(team) -> None:
    await team.hire("Alice Martin")
    alice = team.people["alice"]
    phone = issue_token(alice, secret=team.secret, session_id="ses_phone_1")
    laptop = issue_token(alice, secret=team.secret, session_id="ses_laptop_1")
    phone_tab = await team.open_tab("alice", token=phone, replica="a")
    laptop_tab = await team.open_tab("alice", token=laptop, replica="b")

    await team.publish(new_event(StaffSessionsEnded(staff_id=alice.staff_id, session_ids=["ses_phone_1"],
                                                    reason=SessionsEndedBecause.SIGNED_OUT),
                                 tenant_id=team.tenant_id, producer="gateway"))

    code, reason = await _closed(phone_tab)
    assert code == 4401
    assert "signed_out" in (reason or "")
    await laptop_tab.send({"kind": "ping"})
    await laptop_tab.next(lambda f: f["kind"] == "pong")
    with pytest.raises(websockets.InvalidStatus):  # the ended session cannot connect again
        await team.open_tab("alice", token=phone, replica="a")


async def test_deactivation_closes_every_tab_of_the_account_on_every_replica(team) -> None:
    await team.hire("Alice Martin", "Bob Stone")
    alice = team.people["alice"]
    tabs = [await team.open_tab("alice", replica=replica) for replica in ("a", "b")]
    bob_tab = await team.open_tab("bob", replica="a")

    await team.publish(new_event(StaffSessionsEnded(staff_id=alice.staff_id, session_ids=[], every_session=True,
                                                    reason=SessionsEndedBecause.DEACTIVATED),
                                 tenant_id=team.tenant_id, producer="gateway"))

    for tab in tabs:
        code, reason = await _closed(tab)
        assert code == 4401
        assert "deactivated" in (reason or "")
    await bob_tab.send({"kind": "ping"})
    await bob_tab.next(lambda f: f["kind"] == "pong")


async def test_a_token_in_the_url_is_not_accepted(team, live_stack) -> None:
    await team.hire("Alice Martin")
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(f"{live_stack.ws_url('a')}?token={team.token('alice')}")
