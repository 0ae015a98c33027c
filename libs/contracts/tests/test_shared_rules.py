"""Each rule that more than one service applies, written once in the contracts, with its test."""

from datetime import UTC, datetime

import pytest

from relay_contracts.customer_messages import (
    FINAL_DELIVERY_STATES,
    DeliveryState,
    EmailThreading,
    advances_delivery,
    reply_subject,
    reply_threading,
)
from relay_contracts.issues import NO_ACTION_NEEDED, IssueAction, IssueSnapshot, IssueStatus, StaffRef, status_label
from relay_contracts.tenants import TenantId, is_valid_tenant_id


def test_delivery_states_only_move_forward_and_a_failure_outranks_a_delivery() -> None:
    assert advances_delivery(current=None, new=DeliveryState.QUEUED)
    assert advances_delivery(current=DeliveryState.SENT, new=DeliveryState.DELIVERED)
    assert not advances_delivery(current=DeliveryState.DELIVERED, new=DeliveryState.SENT)  # a late "sent"
    assert not advances_delivery(current="delivered", new="delivered")  # a repeated callback
    assert advances_delivery(current=DeliveryState.DELIVERED, new=DeliveryState.FAILED)
    assert not advances_delivery(current=DeliveryState.FAILED, new=DeliveryState.DELIVERED)
    assert advances_delivery(current=DeliveryState.SENT, new=DeliveryState.BOUNCED)
    assert advances_delivery(current=DeliveryState.FAILED, new=DeliveryState.BOUNCED)
    assert DeliveryState.SENT not in FINAL_DELIVERY_STATES and DeliveryState.REFUSED in FINAL_DELIVERY_STATES


@pytest.mark.parametrize(("subject", "expected"), [
    ("Is my coat ready?", "Re: Is my coat ready?"),
    ("Re: Is my coat ready?", "Re: Is my coat ready?"),
    ("RE :  coat", "RE : coat"),
    ("  two   spaces ", "Re: two spaces"),
    (None, "Re: your message"),
    ("   ", "Re: your message"),
])
def test_a_reply_subject_is_the_customers_prefixed_once_with_re(subject: str | None, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_a_reply_threads_under_the_customers_email_and_threading_it_again_changes_nothing() -> None:
    customer = EmailThreading(message_id="<c2@mail.example>", in_reply_to="<r1@shop.example>",
                              references=["<c1@mail.example>", "<r1@shop.example>"])
    reply = reply_threading(customer)
    assert reply == EmailThreading(in_reply_to="<c2@mail.example>",
                                   references=["<c1@mail.example>", "<r1@shop.example>", "<c2@mail.example>"])
    assert reply_threading(reply) == reply
    assert reply_threading(None) is None
    assert reply_threading(EmailThreading()) is None


@pytest.mark.parametrize(("tenant_id", "valid"), [
    ("sunrise-cleaners", True), ("a1", True), ("x" * 63, True),
    ("a", False), ("-shop", False), ("Shop", False), ("shop_1", False), ("x" * 64, False), ("shop/..", False),
])
def test_one_tenant_id_rule(tenant_id: str, valid: bool) -> None:
    from pydantic import TypeAdapter, ValidationError

    assert is_valid_tenant_id(tenant_id) is valid
    try:
        TypeAdapter(TenantId).validate_python(tenant_id)
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted is valid


def test_status_label_and_colour_are_the_feeds() -> None:
    ana, ben = StaffRef(id="s1", name="Ana"), StaffRef(id="s2", name="Ben")
    assert status_label(status=IssueStatus.UNASSIGNED, assignee=None, closed_by=None) == "Unassigned"
    assert status_label(status=IssueStatus.ASSIGNED, assignee=ana, closed_by=None) == "Assigned to Ana"
    assert status_label(status=IssueStatus.CLOSED, assignee=ana, closed_by=ben) == "Closed by Ben"
    assert status_label(status=IssueStatus.CLOSED, assignee=None, closed_by=ben,
                        resolution=NO_ACTION_NEEDED) == "Closed by Ben — no action needed"
    assert [s.colour for s in IssueStatus] == ["red", "blue", "green"]
    now = datetime.now(UTC)
    snapshot = IssueSnapshot(issue_id="iss_1", customer_id="cus_1", channel="sms", status=IssueStatus.CLOSED,
                             closed_by=ben, opened_at=now, updated_at=now)
    pushed = snapshot.model_dump(mode="json")
    assert (pushed["status_label"], pushed["status_colour"]) == ("Closed by Ben", "green")
    assert IssueSnapshot.model_validate(pushed) == snapshot  # the computed fields read back harmlessly


def test_the_actions_an_issue_offers_its_assignee_and_everyone_else() -> None:
    now = datetime.now(UTC)
    ana = StaffRef(id="s1", name="Ana")
    unassigned = IssueSnapshot(issue_id="i", customer_id="c", channel="sms", status=IssueStatus.UNASSIGNED,
                               opened_at=now, updated_at=now, suggest_resolve=True)
    assert unassigned.actions_for(staff_id="anyone") == [IssueAction.RESOLVE, IssueAction.ASSIGN, IssueAction.TAKE,
                                                         IssueAction.CLOSE, IssueAction.COMMENT, IssueAction.REPLY]
    assigned = unassigned.model_copy(update={"status": IssueStatus.ASSIGNED, "assignee": ana, "suggest_resolve": False})
    assert assigned.actions_for(staff_id="s1") == [IssueAction.ASSIGN, IssueAction.CLOSE, IssueAction.RESOLVE,
                                                   IssueAction.COMMENT, IssueAction.REPLY]
    assert assigned.actions_for(staff_id="s2") == [IssueAction.ASSIGN, IssueAction.COMMENT, IssueAction.REPLY]
    pushed = assigned.model_dump(mode="json")["offered_actions"]
    assert pushed == {"assignee": ["assign", "close", "resolve", "comment", "reply"],
                      "others": ["assign", "comment", "reply"]}
    closed = assigned.model_copy(update={"status": IssueStatus.CLOSED})
    assert closed.actions_for(staff_id="s1") == closed.actions_for(staff_id="s2") == [IssueAction.REOPEN,
                                                                                     IssueAction.COMMENT]
