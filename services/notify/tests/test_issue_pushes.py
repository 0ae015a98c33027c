"""Issue events reach whom the issues service named (by default the tenant's staff), with status label and colour."""

from datetime import UTC, datetime, timedelta

import httpx

from relay_contracts import new_event
from relay_contracts.customer_messages import Channel
from relay_contracts.issues import (
    IssueAssigned,
    IssueAudience,
    IssueClosed,
    IssueOpened,
    IssueSnapshot,
    IssueStatus,
    StaffRef,
)


def _issue(*, status: IssueStatus, assignee: StaffRef | None = None, closed_by: StaffRef | None = None,
           **fields) -> IssueSnapshot:
    now = datetime.now(UTC)
    return IssueSnapshot(**{**dict(issue_id="iss_1", number=7, customer_id="cus_jane", customer_name="Jane Doe",
                                   channel=Channel.SMS, status=status, assignee=assignee, closed_by=closed_by,
                                   summary="Is my suit ready?", opened_at=now, updated_at=now), **fields})


async def _pushed_status(tabs, event_type: str) -> list[tuple[str, str]]:
    """The status colour and label of the issue in each tab's first push of that event type."""
    pushed = [(await tab.next(lambda f: f.get("type") == event_type))["payload"]["issue"] for tab in tabs]
    return [(issue["status_colour"], issue["status_label"]) for issue in pushed]


async def test_issue_events_go_to_all_staff_of_the_tenant_with_status_colours(team, other_team, live_stack) -> None:
    await team.hire("Alice Martin", "Bob Chen")
    await other_team.hire("Mallory Black")
    alice = await team.open_tab("alice", replica="a")
    bob = await team.open_tab("bob", replica="b")
    mallory = await other_team.open_tab("mallory", replica="a")
    alice_ref = StaffRef(id=team.id("alice"), name="Alice Martin")
    bob_ref = StaffRef(id=team.id("bob"), name="Bob Chen")

    received_at = datetime.now(UTC) - timedelta(milliseconds=5)
    await team.publish(new_event(IssueOpened(issue=_issue(status=IssueStatus.UNASSIGNED), inbound_message_id="in_1",
                                             text="Is my suit ready?", received_at=received_at),
                                 tenant_id=team.tenant_id, producer="issues"))
    for tab in (alice, bob):
        opened = await tab.next(lambda f: f.get("type") == "issue.opened")
        issue = opened["payload"]["issue"]
        assert issue["issue_id"] == "iss_1"
        assert {k: issue[k] for k in ("status", "status_colour", "status_label", "assignee", "closed_by")} == {
            "status": "unassigned", "status_colour": "red", "status_label": "Unassigned",
            "assignee": None, "closed_by": None}
        assert "audience" not in opened["payload"]
        toast = await tab.next(lambda f: f["kind"] == "toast" and f.get("issue_id") == "iss_1")
        assert (toast["title"], toast["body"], toast["where"]) == (
            "New message from Jane Doe", "Is my suit ready?", "Customer Messages")
        assert (toast["attention"], toast["mention"]) == ("customer_issue", False)

    await team.publish(new_event(IssueAssigned(issue=_issue(status=IssueStatus.ASSIGNED, assignee=bob_ref),
                                               actor=alice_ref), tenant_id=team.tenant_id, producer="issues"))
    assert await _pushed_status((alice, bob), "issue.assigned") == [("blue", "Assigned to Bob Chen")] * 2
    assigned_toast = await bob.next(lambda f: f["kind"] == "toast" and f["title"].startswith("Alice Martin assigned"))
    assert assigned_toast["title"] == "Alice Martin assigned you Jane Doe's issue"
    assert (assigned_toast["attention"], assigned_toast["mention"]) == ("mention", True)

    await team.publish(new_event(IssueClosed(issue=_issue(status=IssueStatus.CLOSED, closed_by=bob_ref),
                                             actor=bob_ref), tenant_id=team.tenant_id, producer="issues"))
    assert await _pushed_status((alice, bob), "issue.closed") == [("green", "Closed by Bob Chen")] * 2

    await alice.settle()
    assert len([f for f in alice.of_kind("toast") if f.get("issue_id")]) == 1  # assigning Bob toasts Bob only
    await mallory.settle()  # same replica as Alice: another tenant's issue was never queued for Mallory
    assert not [f for f in mallory.frames if "iss_1" in str(f)]
    metrics = httpx.get(f"{live_stack.replicas['a'].url}/metrics").text
    count = [line for line in metrics.splitlines() if line.startswith("relay_webhook_to_push_seconds_count")]
    assert count and float(count[0].split()[1]) >= 1


async def test_an_issue_event_reaches_only_the_audience_the_issues_service_named(team) -> None:
    await team.hire("Alice Martin", "Bob Chen")
    alice = await team.open_tab("alice", replica="a")
    bob = await team.open_tab("bob", replica="a")
    bob_ref = StaffRef(id=team.id("bob"), name="Bob Chen")
    await team.publish(new_event(
        IssueAssigned(issue=_issue(status=IssueStatus.ASSIGNED, assignee=bob_ref), actor=bob_ref,
                      audience=IssueAudience(tenant_staff=False, staff_ids=[team.id("bob")])),
        tenant_id=team.tenant_id, producer="issues"))
    assigned = await bob.next(lambda f: f.get("type") == "issue.assigned")
    assert assigned["payload"]["issue"]["status_label"] == "Assigned to Bob Chen"
    await alice.settle()  # same replica, same fan-out: anything for Alice would be queued before the pong
    assert not [f for f in alice.frames if "iss_1" in str(f)]


async def test_an_unknown_contacts_toast_names_the_phone_number_never_an_internal_id(team) -> None:
    await team.hire("Alice Martin")
    alice = await team.open_tab("alice", replica="a")
    unknown = _issue(status=IssueStatus.UNASSIGNED, issue_id="iss_unknown", customer_id="cus_f754c4cdd21548ce",
                     customer_name=None, customer_label="(415) 555-0123")
    await team.publish(new_event(IssueOpened(issue=unknown, inbound_message_id="in_2", text="Hello?"),
                                 tenant_id=team.tenant_id, producer="issues"))
    toast = await alice.next(lambda f: f["kind"] == "toast" and f.get("issue_id") == "iss_unknown")
    assert toast["title"] == "New message from (415) 555-0123"
    assert toast["attention"] == "customer_issue"
    assert "cus_f754c4cdd21548ce" not in toast["title"] + toast["body"] + toast["where"]
