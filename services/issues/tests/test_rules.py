"""The issue rules on models, without I/O: delivery order, the audience of every event, the snapshot they carry."""

import uuid
from datetime import UTC, datetime

from relay_contracts import Envelope, new_event
from relay_contracts.customer_messages import (
    Channel,
    DeliveryState,
    DeliveryStatusChanged,
    EmailThreading,
    InboundMessageReceived,
)
from relay_contracts.issues import IssueAudience, IssueEvent, IssueSnapshot, StaffRef
from relay_issues import domain
from relay_issues.models import Cause, Issue, IssueView, Reply

ALICE = StaffRef(id="alice", name="Alice Martin")
BOB = StaffRef(id="bob", name="Bob Chen")


def _inbound(text: str, *, channel: Channel = Channel.SMS, subject: str | None = None,
             threading: EmailThreading | None = None) -> Envelope[InboundMessageReceived]:
    return new_event(InboundMessageReceived(
        customer_id="cus_jane", message_id=f"msg_{uuid.uuid4().hex}", channel=channel, provider="twilio",
        provider_message_id=f"SM{uuid.uuid4().hex}", from_address="+14155550123", to_address="+15550100000",
        subject=subject, text=text, threading=threading, received_at=datetime.now(UTC),
    ), tenant_id="t-rules", producer="test")


def _opened(text: str = "Is my suit ready?", **kwargs) -> Issue:
    return domain.open_issue(_inbound(text, **kwargs), number=7, at=domain.now()).after


def _replied(issue: Issue) -> tuple[Issue, Reply]:
    after = domain.reply(issue, actor=ALICE, text="Ready at 5", at=domain.now(), cause=Cause()).after
    entry = after.timeline[-1]
    assert isinstance(entry, Reply)
    return after, entry


def _reported(issue: Issue, entry: Reply, status: DeliveryState) -> Issue | None:
    event = new_event(DeliveryStatusChanged(customer_id=issue.customer_id, outbound_id=entry.outbound_id,
                                            issue_id=issue.issue_id, status=status, reason="Unreachable handset"
                                            if status == DeliveryState.FAILED else None),
                      tenant_id=issue.tenant_id, producer="test")
    change = domain.record_delivery(issue, event, at=domain.now())
    return change.after if change else None


def _delivery_of(issue: Issue, entry: Reply) -> DeliveryState:
    replies = [e for e in issue.timeline if isinstance(e, Reply) and e.outbound_id == entry.outbound_id]
    return replies[0].delivery.status


def test_a_failure_reported_after_delivered_is_shown_and_a_stale_sent_is_not() -> None:
    issue, entry = _replied(_opened())
    delivered = _reported(issue, entry, DeliveryState.DELIVERED)
    assert delivered is not None and _delivery_of(delivered, entry) == DeliveryState.DELIVERED

    assert _reported(delivered, entry, DeliveryState.SENT) is None  # a late "sent" never moves it back
    assert _reported(delivered, entry, DeliveryState.DELIVERED) is None  # nor does the same report twice

    failed = _reported(delivered, entry, DeliveryState.FAILED)
    assert failed is not None and _delivery_of(failed, entry) == DeliveryState.FAILED
    assert failed.history[-1].detail.reason == "Unreachable handset"


def test_every_issue_event_names_every_staff_member_of_the_tenant_as_its_audience() -> None:
    tenant_staff = IssueAudience(tenant_staff=True)
    opened = domain.open_issue(_inbound("Hello"), number=1, at=domain.now())
    appended = domain.append_message(opened.after, _inbound("It's the navy one"), at=domain.now())
    taken = domain.take(appended.after, actor=BOB, at=domain.now(), cause=Cause())
    assigned = domain.assign(taken.after, actor=BOB, assignee=ALICE, comment="Her customer", at=domain.now(),
                             cause=Cause())
    replied = domain.reply(assigned.after, actor=ALICE, text="Yes", at=domain.now(), cause=Cause())
    closed = domain.close(replied.after, actor=ALICE, at=domain.now(), cause=Cause())
    reopened = domain.reopen(closed.after, actor=ALICE, at=domain.now(), cause=Cause())
    changes = [opened, appended, taken, assigned, replied, closed, reopened]

    issue_events = [e for change in changes if change for e in change.events if isinstance(e.payload, IssueEvent)]
    assert [e.type for e in issue_events] == [
        "issue.opened", "issue.message_appended", "issue.assigned", "issue.assigned", "issue.comment_added",
        "issue.replied", "issue.closed", "issue.reopened"]
    assert all(e.payload.audience == tenant_staff for e in issue_events)
    outbound = [e for e in replied.events if not isinstance(e.payload, IssueEvent)]
    assert [e.type for e in outbound] == ["outbound.message.requested"]  # no audience: it is not pushed to staff


def test_the_snapshot_is_every_snapshot_field_of_the_issue_with_its_status_label_and_colour() -> None:
    issue = domain.take(_opened(), actor=BOB, at=domain.now(), cause=Cause()).after
    snapshot = domain.snapshot(issue)
    assert set(IssueSnapshot.model_fields) <= set(Issue.model_fields) and set(IssueSnapshot.model_fields) <= set(
        IssueView.model_fields)
    for name in IssueSnapshot.model_fields.keys() - {"needs_attention", "suggest_resolve"}:
        assert getattr(snapshot, name) == getattr(issue, name), name
    assert (snapshot.needs_attention, snapshot.suggest_resolve) == (True, False)
    assert snapshot.model_dump()["status_label"] == "Assigned to Bob Chen"
    assert snapshot.model_dump()["status_colour"] == "blue"


def test_an_email_reply_threads_under_the_customers_email_with_one_re() -> None:
    issue = _opened("Any news?", channel=Channel.EMAIL, subject="RE: Wedding dress",
                    threading=EmailThreading(message_id="<m2@mail.example>", references=["<m1@mail.example>"]))
    change = domain.reply(issue, actor=ALICE, text="Ready Friday", at=domain.now(), cause=Cause())
    outbound = change.events[0].payload
    assert outbound.subject == "RE: Wedding dress"
    assert outbound.threading == EmailThreading(in_reply_to="<m2@mail.example>",
                                                references=["<m1@mail.example>", "<m2@mail.example>"])
