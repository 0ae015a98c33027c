"""Issue events: round trips with their snapshot, the customer's partition key, and older producers still read."""

import json
from datetime import UTC, datetime

import pytest
from relay_contracts import InvalidEvent, new_event, parse_event
from relay_contracts.customer_messages import Channel
from relay_contracts.issues import (
    IssueAssigned,
    IssueClosed,
    IssueCommentAdded,
    IssueCustomerChanged,
    IssueMessageAppended,
    IssueOpened,
    IssueReopened,
    IssueReplied,
    IssueReplyStatusChanged,
    IssueResolved,
    IssueSnapshot,
    IssueStatus,
    StaffRef,
)
from relay_contracts.topics import ISSUE_EVENTS, customer_key

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ALICE = StaffRef(id="stf_alice", name="Alice Martin")


def _snapshot(**changes) -> IssueSnapshot:
    fields = dict(issue_id="iss_1", number=7, customer_id="cus_jane", customer_name="Jane Doe", channel=Channel.SMS,
                  status=IssueStatus.ASSIGNED, assignee=ALICE, summary="Is my suit ready?", opened_at=NOW,
                  updated_at=NOW, message_count=2, needs_attention=True, suggest_resolve=False)
    return IssueSnapshot(**{**fields, **changes})


@pytest.mark.parametrize("payload", [
    IssueOpened(issue=_snapshot(), inbound_message_id="msg_1", text="Is my suit ready?", received_at=NOW),
    IssueMessageAppended(issue=_snapshot(), inbound_message_id="msg_2", text="The navy one", received_at=NOW),
    IssueAssigned(issue=_snapshot(), actor=ALICE),
    IssueCommentAdded(issue=_snapshot(), actor=ALICE, comment_id="ent_1", text="Regular customer"),
    IssueReplied(issue=_snapshot(first_response_at=NOW), actor=ALICE, comment_id="ent_2", outbound_id="out_1",
                 text="Ready Friday"),
    IssueReplyStatusChanged(issue=_snapshot(), outbound_id="out_1", status="failed", reason="Unreachable"),
    IssueClosed(issue=_snapshot(status=IssueStatus.CLOSED, closed_by=ALICE, resolution="closed", closed_at=NOW),
                actor=ALICE),
    IssueResolved(issue=_snapshot(status=IssueStatus.CLOSED, closed_by=ALICE, resolution="no action needed",
                                  closed_at=NOW, suggest_resolve=True), actor=ALICE),
    IssueReopened(issue=_snapshot(), actor=ALICE),
    IssueCustomerChanged(issue=_snapshot(customer_label="(202) 555-0143"), change="consent"),
])
def test_issue_events_round_trip_on_the_customers_key(payload) -> None:
    event = new_event(payload, tenant_id="demo", producer="issues")
    decoded = parse_event(event.to_bytes())
    assert decoded == event
    assert type(decoded.payload) is type(payload)
    assert decoded.topic is ISSUE_EVENTS
    assert decoded.key == customer_key(tenant_id="demo", customer_id="cus_jane")


def test_a_snapshot_from_an_older_producer_without_the_newer_fields_is_still_read() -> None:
    raw = json.loads(new_event(IssueAssigned(issue=_snapshot(), actor=ALICE), tenant_id="demo",
                               producer="issues").to_bytes())
    for newer in ("needs_attention", "suggest_resolve", "first_response_at", "closed_at"):
        raw["payload"]["issue"].pop(newer)
    decoded = parse_event(json.dumps(raw).encode())
    assert decoded.payload.issue.needs_attention is None and decoded.payload.issue.closed_at is None
    assert decoded.payload.issue.assignee == ALICE


def test_an_issue_event_without_its_snapshot_is_rejected() -> None:
    raw = json.loads(new_event(IssueReopened(issue=_snapshot(), actor=ALICE), tenant_id="demo",
                               producer="issues").to_bytes())
    del raw["payload"]["issue"]["status"]
    with pytest.raises(InvalidEvent, match="issue.status"):
        parse_event(json.dumps(raw).encode())
