"""Events about customer issues: opened, appended to, assigned, commented, replied, closed."""

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from relay_contracts.customer_messages import Channel
from relay_contracts.envelope import EventPayload, register
from relay_contracts.topics import ISSUE_EVENTS, customer_key


class IssueStatus(StrEnum):
    """Unassigned shows red, assigned blue with the assignee, closed green with the closer."""

    UNASSIGNED = "unassigned"
    ASSIGNED = "assigned"
    CLOSED = "closed"


class StaffRef(BaseModel):
    """A staff member named in an event, so the UI can show who without a look-up."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: str


class IssueSnapshot(BaseModel):
    """The issue's state after the change: what the feed shows (status colour and names)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    issue_id: str
    number: int | None = None
    customer_id: str
    customer_name: str | None = None
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


class _IssueEvent(EventPayload):
    topic = ISSUE_EVENTS

    issue: IssueSnapshot
    actor: StaffRef | None = None

    def partition_key(self, tenant_id: str) -> bytes:
        return customer_key(tenant_id=tenant_id, customer_id=self.issue.customer_id)


@register
class IssueOpened(_IssueEvent):
    """A customer's message opened a new issue."""

    event_type = "issue.opened"
    inbound_message_id: str
    text: str
    received_at: AwareDatetime | None = None  # when the provider's webhook reached ingest (end-to-end latency)


@register
class IssueMessageAppended(_IssueEvent):
    """A further customer message was appended to their open issue."""

    event_type = "issue.message_appended"
    inbound_message_id: str
    text: str
    received_at: AwareDatetime | None = None  # when the provider's webhook reached ingest (end-to-end latency)


@register
class IssueAssigned(_IssueEvent):
    """Someone assigned the issue (Assign It) or took it (Take It)."""

    event_type = "issue.assigned"


@register
class IssueCommentAdded(_IssueEvent):
    """A private staff comment; never sent to the customer."""

    event_type = "issue.comment_added"
    comment_id: str
    text: str


@register
class IssueReplied(_IssueEvent):
    """Staff replied to the customer; the reply is on its way out."""

    event_type = "issue.replied"
    comment_id: str
    outbound_id: str
    text: str


@register
class IssueReplyStatusChanged(_IssueEvent):
    """A reply's delivery status changed (sent, delivered, failed, refused)."""

    event_type = "issue.reply_status_changed"
    outbound_id: str
    status: str
    reason: str | None = None


@register
class IssueClosed(_IssueEvent):
    """Marked as Closed."""

    event_type = "issue.closed"


@register
class IssueResolved(_IssueEvent):
    """Dismissed with Resolve: the message needed no action."""

    event_type = "issue.resolved"


@register
class IssueReopened(_IssueEvent):
    """A closed issue was reopened by staff."""

    event_type = "issue.reopened"


