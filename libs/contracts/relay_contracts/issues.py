"""Events about customer issues: opened, appended to, assigned, commented, replied, closed."""

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, computed_field

from relay_contracts.customer_messages import Channel
from relay_contracts.envelope import EventPayload, register
from relay_contracts.topics import ISSUE_EVENTS, customer_key


class IssueStatus(StrEnum):
    """Unassigned shows red, assigned blue with the assignee, closed green with the closer."""

    UNASSIGNED = "unassigned"
    ASSIGNED = "assigned"
    CLOSED = "closed"

    @property
    def colour(self) -> str:
        """The colour staff see for this status: unassigned red, assigned blue, closed green."""
        return _STATUS_COLOURS[self]


_STATUS_COLOURS = {IssueStatus.UNASSIGNED: "red", IssueStatus.ASSIGNED: "blue", IssueStatus.CLOSED: "green"}


class StaffRef(BaseModel):
    """A staff member named in an event, so the UI can show who without a look-up."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: str


class IssueAction(StrEnum):
    """What a staff member may do with an issue, as the UI offers it."""

    RESOLVE = "resolve"
    ASSIGN = "assign"
    TAKE = "take"
    CLOSE = "close"
    REOPEN = "reopen"
    COMMENT = "comment"
    REPLY = "reply"


def offered_actions(*, status: IssueStatus, is_assignee: bool, suggest_resolve: bool | None) -> list[IssueAction]:
    """What a staff member may do with an issue now, in the order the UI offers it.

    Anyone may assign an open issue, comment and reply; only the assignee (or anyone, while it is unassigned)
    may close or resolve it; Resolve comes first when the customer's last words need no answer.
    """
    if status == IssueStatus.CLOSED:
        return [IssueAction.REOPEN, IssueAction.COMMENT]
    mine_or_free = status == IssueStatus.UNASSIGNED or is_assignee
    actions = [IssueAction.ASSIGN]
    if status == IssueStatus.UNASSIGNED:
        actions.append(IssueAction.TAKE)
    if mine_or_free:
        actions += [IssueAction.CLOSE, IssueAction.RESOLVE]
    actions += [IssueAction.COMMENT, IssueAction.REPLY]
    if suggest_resolve and IssueAction.RESOLVE in actions:
        actions.remove(IssueAction.RESOLVE)
        actions.insert(0, IssueAction.RESOLVE)
    return actions


class OfferedActions(BaseModel):
    """The actions of an issue for its assignee and for everyone else (a snapshot is pushed to all staff alike)."""

    model_config = ConfigDict(frozen=True)

    assignee: list[IssueAction]
    others: list[IssueAction]


NO_ACTION_NEEDED = "no action needed"
"""The resolution of an issue dismissed with Resolve (a "Thanks!" that needs no answer)."""

MERGED = "merged"
"""The resolution of an open issue whose contact was merged into a customer who had an open issue already."""


def status_label(*, status: IssueStatus, assignee: "StaffRef | None", closed_by: "StaffRef | None",
                 resolution: str | None = None) -> str:
    """What the feed says of an issue's status: "Unassigned", "Assigned to Ana", "Closed by Ben — no action needed"."""
    if status == IssueStatus.ASSIGNED:
        return f"Assigned to {assignee.name}" if assignee else "Assigned"
    if status == IssueStatus.CLOSED:
        label = f"Closed by {closed_by.name}" if closed_by else "Closed"
        return f"{label} — {resolution}" if resolution in (NO_ACTION_NEEDED, MERGED) else label
    return "Unassigned"


class IssueSnapshot(BaseModel):
    """The issue's state after the change: what the feed shows (status colour and names)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    issue_id: str
    number: int | None = None
    customer_id: str
    customer_name: str | None = None
    customer_label: str | None = None  # how staff see the customer: name, else the phone (national format) or email
    channel: Channel
    status: IssueStatus
    assignee: StaffRef | None = None
    closed_by: StaffRef | None = None
    resolution: str | None = None
    summary: str = ""
    opened_at: AwareDatetime
    updated_at: AwareDatetime
    message_count: int = 1
    needs_attention: bool | None = None  # an open issue whose latest customer messages need a staff answer
    suggest_resolve: bool | None = None  # the latest customer messages are pure acknowledgements ("ok", "thanks!")
    first_response_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    sms_opted_out_at: AwareDatetime | None = None  # the customer texted STOP then: SMS replies are refused
    merged_into_issue_id: str | None = None  # closed as "merged": the customer's open issue that goes on

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> str:
        """The status in words, as the feed shows it."""
        return status_label(status=self.status, assignee=self.assignee, closed_by=self.closed_by,
                            resolution=self.resolution)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status_colour(self) -> str:
        """The status colour, as the feed shows it."""
        return self.status.colour

    @computed_field  # type: ignore[prop-decorator]
    @property
    def offered_actions(self) -> OfferedActions:
        """The buttons the feed offers: to the assignee, and to every other staff member."""
        return OfferedActions(
            assignee=offered_actions(status=self.status, is_assignee=True, suggest_resolve=self.suggest_resolve),
            others=offered_actions(status=self.status, is_assignee=False, suggest_resolve=self.suggest_resolve))

    def actions_for(self, *, staff_id: str) -> list[IssueAction]:
        """What one staff member may do with the issue now."""
        is_assignee = self.assignee is not None and self.assignee.id == staff_id
        return offered_actions(status=self.status, is_assignee=is_assignee, suggest_resolve=self.suggest_resolve)


class IssueAudience(BaseModel):
    """Who may see an issue event, decided by the issues service next to the change; notify only delivers.

    A customer issue is seen by every staff member of its tenant (`tenant_staff`); `staff_ids` names
    further or narrower audiences where a rule needs one.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    tenant_staff: bool = True
    staff_ids: list[str] = Field(default_factory=list)


class IssueEvent(EventPayload):
    """Base of every issue event: the issue's state after the change, who did it, and who may see it."""

    topic = ISSUE_EVENTS

    issue: IssueSnapshot
    actor: StaffRef | None = None
    audience: IssueAudience = Field(default_factory=IssueAudience)

    def partition_key(self, tenant_id: str) -> bytes:
        return customer_key(tenant_id=tenant_id, customer_id=self.issue.customer_id)


@register
class IssueOpened(IssueEvent):
    """A customer's message opened a new issue."""

    event_type = "issue.opened"
    inbound_message_id: str
    text: str
    received_at: AwareDatetime | None = None  # when the provider's webhook reached ingest (end-to-end latency)


@register
class IssueMessageAppended(IssueEvent):
    """A further customer message was appended to their open issue."""

    event_type = "issue.message_appended"
    inbound_message_id: str
    text: str
    received_at: AwareDatetime | None = None  # when the provider's webhook reached ingest (end-to-end latency)


@register
class IssueAssigned(IssueEvent):
    """Someone assigned the issue (Assign It) or took it (Take It)."""

    event_type = "issue.assigned"


@register
class IssueCommentAdded(IssueEvent):
    """A private staff comment; never sent to the customer."""

    event_type = "issue.comment_added"
    comment_id: str
    text: str


@register
class IssueReplied(IssueEvent):
    """Staff replied to the customer; the reply is on its way out."""

    event_type = "issue.replied"
    comment_id: str
    outbound_id: str
    text: str


@register
class IssueReplyStatusChanged(IssueEvent):
    """A reply's delivery status changed (sent, delivered, failed, refused)."""

    event_type = "issue.reply_status_changed"
    outbound_id: str
    status: str
    reason: str | None = None


@register
class IssueClosed(IssueEvent):
    """Marked as Closed."""

    event_type = "issue.closed"


@register
class IssueResolved(IssueEvent):
    """Dismissed with Resolve: the message needed no action."""

    event_type = "issue.resolved"


@register
class IssueReopened(IssueEvent):
    """A closed issue was reopened by staff."""

    event_type = "issue.reopened"


class CustomerChange(StrEnum):
    """What changed about an issue's customer."""

    PROFILE = "profile"  # a new name or label (an unknown contact was named, the directory changed)
    CONSENT = "consent"  # the customer texted STOP or START
    MERGED = "merged"  # the contact was linked to a directory customer; the issue now belongs to them


@register
class IssueCustomerChanged(IssueEvent):
    """The issue's customer changed: name or label, SMS consent, or the contact was merged into another customer."""

    event_type = "issue.customer_changed"
    change: CustomerChange
    previous_customer_id: str | None = None  # on a merge: the contact the issue belonged to before


