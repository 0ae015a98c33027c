"""The issue rules on models, without I/O: delivery order, the audience of every event, the snapshot they carry."""

import uuid
from datetime import UTC, datetime

import pytest

from relay_contracts import Envelope, new_event
from relay_contracts.customer_messages import (
    Channel,
    DeliveryState,
    DeliveryStatusChanged,
    EmailThreading,
    InboundMessageReceived,
)
from relay_contracts.issues import IssueAudience, IssueEvent, IssueSnapshot, IssueStatus, StaffRef
from relay_issues import domain
from relay_issues.models import Cause, Issue, IssueView, Reply, SearchTerm
from relay_kit.errors import Conflict

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


def test_a_search_asks_for_every_word_as_a_prefix_and_a_number_as_an_issue_number_or_digits() -> None:
    assert domain.search_query("Mei  Núñez") == [SearchTerm(prefix="mei"), SearchTerm(prefix="nunez")]
    assert domain.search_query("#12") == [SearchTerm(exact="#12")]
    assert domain.search_query("12") == [SearchTerm(prefix="12", exact="#12")]
    assert domain.search_query("(415) 555-0123") == [SearchTerm(prefix="4155550123", exact="#4155550123")]
    assert domain.search_query("Mei@Example.com, dress") == [SearchTerm(prefix="mei@example.com"),
                                                             SearchTerm(prefix="dress")]
    assert domain.search_query("?!") == []
    assert len(domain.search_query(" ".join(f"w{n}x" for n in range(20)))) == domain.MAX_QUERY_TERMS


def test_an_issue_keeps_the_terms_that_find_it_up_to_date_with_every_change() -> None:
    issue = _opened("My wedding dress")
    assert {"#7", "14155550123", "4155550123", "5550123", "my", "wedding", "dress"} <= set(issue.search_terms)
    replied, _ = _replied(issue)
    assert "ready" in replied.search_terms
    renamed = domain.rename_customer(replied, customer_name="José Núñez", customer_label="José Núñez",
                                     at=domain.now(), cause=Cause()).after
    assert {"jose", "nunez"} <= set(renamed.search_terms)


def test_an_sms_reply_to_an_opted_out_customer_is_refused_with_the_reason_and_an_email_one_is_not() -> None:
    stopped_at = datetime(2026, 11, 30, 15, 4, tzinfo=UTC)
    issue = _opened()
    opted_out = domain.record_consent(issue, sms_opted_out_at=stopped_at, at=domain.now(), cause=Cause())
    assert opted_out is not None and opted_out.after.sms_opted_out_at == stopped_at
    assert [e.type for e in opted_out.events] == ["issue.customer_changed"]
    assert domain.record_consent(opted_out.after, sms_opted_out_at=stopped_at, at=domain.now(), cause=Cause()) is None
    with pytest.raises(Conflict) as refused:
        domain.reply(opted_out.after, actor=ALICE, text="Ready", at=domain.now(), cause=Cause())
    assert refused.value.code == "opted_out"
    assert refused.value.message == ("(415) 555-0123 texted STOP on Nov 30, 2026; "
                                     "SMS replies are blocked until they text START")
    by_email = domain.append_message(opted_out.after, _inbound("Email me", channel=Channel.EMAIL), at=domain.now())
    assert domain.reply(by_email.after, actor=ALICE, text="Ready", at=domain.now(), cause=Cause()).events


def test_a_merged_contacts_open_issue_closes_into_the_customers_open_one_and_a_closed_one_just_moves() -> None:
    contact = _opened()
    survivor = _opened("Hello").model_copy(update={"issue_id": "iss_survivor", "customer_id": "cus_ana"})
    merge = dict(customer_id="cus_ana", customer_name="Ana Ruiz", customer_label="Ana Ruiz", sms_opted_out_at=None,
                 at=domain.now(), cause=Cause())
    closed_into = domain.move_to_customer(contact, survivor=survivor, **merge)
    after = closed_into.after
    assert (after.customer_id, after.status, after.resolution, after.merged_into_issue_id, after.closed_by) == (
        "cus_ana", IssueStatus.CLOSED, "merged", "iss_survivor", None)
    assert [e.type for e in closed_into.events] == ["issue.customer_changed"]
    assert closed_into.events[0].payload.previous_customer_id == "cus_jane"
    moved = domain.move_to_customer(contact, survivor=None, **merge).after
    assert (moved.customer_id, moved.status, moved.unknown_contact) == ("cus_ana", IssueStatus.UNASSIGNED, False)
    closed = domain.close(contact, actor=ALICE, at=domain.now(), cause=Cause()).after
    quietly = domain.move_to_customer(closed, survivor=survivor, **merge)
    assert quietly.after.resolution == "closed" and quietly.events == ()
    assert domain.move_to_customer(moved, survivor=survivor, **merge) is None


def test_a_customer_change_event_round_trips_on_the_customers_key_with_its_snapshot() -> None:
    from relay_contracts import parse_event
    from relay_contracts.topics import customer_key

    stopped = domain.record_consent(_opened(), sms_opted_out_at=datetime(2026, 11, 30, tzinfo=UTC), at=domain.now(),
                                    cause=Cause())
    event = stopped.events[0]
    decoded = parse_event(event.to_bytes())
    assert decoded == event and decoded.type == "issue.customer_changed"
    assert decoded.payload.change == "consent" and decoded.payload.issue.customer_label == "(415) 555-0123"
    assert decoded.key == customer_key(tenant_id="t-rules", customer_id="cus_jane")
