"""What the issues service stores and answers, each defined once: the Issue aggregate, its timeline and history, staff.

`Issue` extends the contract's `IssueSnapshot`, so a field added to the snapshot is stored, answered and
announced with no other edit here. The answers are derived from the aggregate the same way.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, computed_field
from relay_contracts import Envelope
from relay_contracts.customer_messages import Attachment, Channel, DeliveryState, EmailThreading
from relay_contracts.issues import IssueAction, IssueSnapshot, IssueStatus, StaffRef
from relay_contracts.staff import StaffRole

# --- what caused a change, and the change itself ------------------------------------------------


@dataclass(frozen=True)
class Cause:
    """What led to a change: carried into its events as correlation and causation ids."""

    correlation_id: str | None = None
    causation_id: str | None = None


@dataclass(frozen=True)
class Act:
    """A staff member acting on one issue of their tenant, and the request that caused it."""

    tenant_id: str
    issue_id: str
    actor: StaffRef
    cause: Cause = Cause()


@dataclass(frozen=True)
class SearchTerm:
    """One word of a search: a stored term of the issue must start with `prefix`, or be `exact` (an issue number)."""

    prefix: str | None = None
    exact: str | None = None


# --- the timeline: the customer's messages, private comments, replies ----------------------------


class _Entry(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    entry_id: str
    at: AwareDatetime
    text: str


class CustomerMessage(_Entry):
    """A message from the customer, as ingest recorded it."""

    kind: Literal["customer_message"] = "customer_message"
    private: Literal[False] = False
    channel: Channel
    provider: str | None = None
    from_address: str
    to_address: str
    subject: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    threading: EmailThreading | None = None
    inbound_message_id: str
    acknowledgement: bool = False  # a pure "ok" / "thanks!" that needs no answer


class PrivateComment(_Entry):
    """A staff comment: staff only, never sent to the customer."""

    kind: Literal["private_comment"] = "private_comment"
    private: Literal[True] = True
    author: StaffRef


class Delivery(BaseModel):
    """Where a reply is on its way to the customer (the latest status the provider reported)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: DeliveryState
    reason: str | None = None
    error_code: str | None = None
    at: AwareDatetime


class Reply(_Entry):
    """A reply to the customer on the channel and address they last used, with its delivery."""

    kind: Literal["reply"] = "reply"
    private: Literal[False] = False
    author: StaffRef
    outbound_id: str
    channel: Channel
    to_address: str
    subject: str | None = None
    delivery: Delivery


TimelineEntry = Annotated[CustomerMessage | PrivateComment | Reply, Field(discriminator="kind")]


# --- the history: who did what, when ------------------------------------------------------------


class HistoryAction(StrEnum):
    """Every kind of change an issue's history records."""

    OPENED = "opened"
    MESSAGE_APPENDED = "message_appended"
    ASSIGNED = "assigned"
    TAKEN = "taken"
    COMMENT_ADDED = "comment_added"
    REPLIED = "replied"
    REPLY_STATUS_CHANGED = "reply_status_changed"
    CLOSED = "closed"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CUSTOMER_MERGED = "customer_merged"  # the contact was linked to a directory customer


class HistoryDetail(BaseModel):
    """What a change was about; each action fills the parts it concerns."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    inbound_message_id: str | None = None
    assignee: StaffRef | None = None
    previous: StaffRef | None = None
    entry_id: str | None = None
    outbound_id: str | None = None
    status: DeliveryState | None = None
    reason: str | None = None
    resolution: str | None = None
    merged_into_issue_id: str | None = None
    previous_customer_id: str | None = None


class HistoryEntry(BaseModel):
    """One change to an issue: when, by whom (None: the customer or a provider), what."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    at: AwareDatetime
    actor: StaffRef | None = None
    action: HistoryAction
    detail: HistoryDetail = Field(default_factory=HistoryDetail)


# --- the aggregate ------------------------------------------------------------------------------


class Issue(IssueSnapshot):
    """A customer issue as stored: its snapshot fields plus tenant, timeline, history and the applied messages.

    `needs_attention` and `suggest_resolve` are not stored: the domain derives them from the timeline.
    `search_terms` is stored for search and kept current by the domain with every change.
    `version` guards every write, so a change is written only over the state it was decided on.
    """

    NOT_STORED: ClassVar[frozenset[str]] = frozenset(
        {*IssueSnapshot.model_computed_fields, "needs_attention", "suggest_resolve"})

    tenant_id: str
    unknown_contact: bool = False
    applied_message_ids: list[str] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    search_terms: list[str] = Field(default_factory=list)
    version: int = 1

    @computed_field  # type: ignore[prop-decorator]
    @property
    def is_open(self) -> bool:
        """Unassigned or assigned (stored, for the index that allows one open issue per customer)."""
        return self.status != IssueStatus.CLOSED

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> "Issue":
        """The issue a stored document holds (its pending events and derived fields are not part of it)."""
        return cls.model_validate({**document, "issue_id": document["_id"]})

    def to_document(self) -> dict[str, Any]:
        """The document that stores this issue."""
        document = self.model_dump(exclude=set(self.NOT_STORED))
        document["_id"] = document.pop("issue_id")
        return document


@dataclass(frozen=True)
class Change:
    """A decided change to one issue: the state it was decided on (None: a new issue), the state after, its events."""

    before: Issue | None
    after: Issue
    events: tuple[Envelope[Any], ...] = ()


# --- staff who can be assigned ------------------------------------------------------------------


class StaffMember(BaseModel):
    """A staff member of a tenant as the gateway announced them: who can be assigned, and their name."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    tenant_id: str
    staff_id: str
    username: str
    display_name: str
    role: StaffRole = StaffRole.STAFF
    active: bool = True

    @property
    def ref(self) -> StaffRef:
        """How events and issues name this person."""
        return StaffRef(id=self.staff_id, name=self.display_name)


# --- answers ------------------------------------------------------------------------------------


class IssueView(IssueSnapshot):
    """An issue as one staff member sees it in the feed: the snapshot, plus what they may do with it now."""

    unknown_contact: bool = False
    actions: list[IssueAction]


class IssueWithHistory(IssueView):
    """An issue opened on its own: the feed's view plus every change made to it."""

    history: list[HistoryEntry]


class _OnIssue(BaseModel):
    issue_id: str
    issue_number: int | None = None


class CustomerMessageOnIssue(CustomerMessage, _OnIssue):
    """A customer message in the customer's past communication, with the issue it is on."""


class PrivateCommentOnIssue(PrivateComment, _OnIssue):
    """A private comment in the customer's past communication, with the issue it is on."""


class ReplyOnIssue(Reply, _OnIssue):
    """A reply in the customer's past communication, with the issue it is on."""


EntryOnIssue = CustomerMessageOnIssue | PrivateCommentOnIssue | ReplyOnIssue
CommunicationEntry = Annotated[EntryOnIssue, Field(discriminator="kind")]
_COMMUNICATION_ENTRY: TypeAdapter[EntryOnIssue] = TypeAdapter(CommunicationEntry)


def entry_on_issue(entry: CustomerMessage | PrivateComment | Reply, *, issue: Issue) -> EntryOnIssue:
    """A timeline entry as the past communication shows it: named by its issue's id and number."""
    return _COMMUNICATION_ENTRY.validate_python(
        {**entry.model_dump(), "issue_id": issue.issue_id, "issue_number": issue.number})


class IssueFeed(BaseModel):
    """A page of the feed, newest activity first; `next_before` pages on (None: the last page)."""

    issues: list[IssueView]
    next_before: str | None = None


class IssueTracker(BaseModel):
    """The Issue Tracker: issues assigned to me, open first, oldest first."""

    issues: list[IssueView]


class IssueCounts(BaseModel):
    """How many of a business's issues are in each status, and how many open ones are mine."""

    unassigned: int = 0
    assigned: int = 0
    closed: int = 0
    mine: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def open(self) -> int:
        """Unassigned and assigned together."""
        return self.unassigned + self.assigned

    @computed_field  # type: ignore[prop-decorator]
    @property
    def mine_open(self) -> int:
        """Open issues assigned to me (the Issue Tracker's badge); `mine` is the same count under its older name."""
        return self.mine


class IssueSearchResults(BaseModel):
    """Issues matching a search, newest activity first."""

    results: list[IssueView]


class IssueDetail(BaseModel):
    """One issue with its history, the customer's whole past communication (oldest first) and all their issues."""

    issue: IssueWithHistory
    communication: list[CommunicationEntry]
    customer_issues: list[IssueSnapshot]


class IssueChanged(BaseModel):
    """The issue after a staff action."""

    issue: IssueView


class EntryAdded(IssueChanged):
    """The issue after a comment or reply, and the entry that was added."""

    entry: CommunicationEntry

