"""Staff HTTP API under /api/issues: the feed, the Issue Tracker, counts, one issue with its history, and actions."""

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field, field_validator
from relay_contracts.issues import IssueStatus
from relay_kit.auth import CurrentStaff
from relay_kit.errors import BadRequest, Unprocessable
from relay_kit.store import Database
from relay_kit.unit_of_work import UnitOfWork

from relay_issues import domain, flows, store
from relay_issues.models import (
    Act,
    Cause,
    EntryAdded,
    Issue,
    IssueChanged,
    IssueCounts,
    IssueDetail,
    IssueFeed,
    IssueSearchResults,
    IssueTracker,
    IssueView,
    IssueWithHistory,
    entry_on_issue,
)

router = APIRouter(prefix="/api/issues", tags=["issues"])

MAX_TEXT = 5000
IssueId = Annotated[str, Path(min_length=1, max_length=64)]
_STATUS_FILTERS: dict[str, list[IssueStatus]] = {
    "unassigned": [IssueStatus.UNASSIGNED],
    "assigned": [IssueStatus.ASSIGNED],
    "closed": [IssueStatus.CLOSED],
    "open": [IssueStatus.UNASSIGNED, IssueStatus.ASSIGNED],
}


def _database(request: Request) -> Database:
    return request.app.state.runtime.database


def _unit_of_work(request: Request) -> UnitOfWork:
    return request.app.state.runtime.unit_of_work


def _act(issue_id: IssueId, staff: CurrentStaff, request: Request) -> Act:
    """Who acts on which issue of their business, with the request's correlation id for the events."""
    cause = Cause(correlation_id=request.headers.get("x-correlation-id") or None)
    return Act(tenant_id=staff.tenant_id, issue_id=issue_id, actor=staff.ref, cause=cause)


Store = Annotated[Database, Depends(_database)]
Work = Annotated[UnitOfWork, Depends(_unit_of_work)]
Acting = Annotated[Act, Depends(_act)]


class TextIn(BaseModel):
    """A private comment or a reply to the customer."""

    text: str = Field(min_length=1, max_length=MAX_TEXT)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("write something: the text is empty")
        return value


class AssignIn(BaseModel):
    """Assign It: who, and optionally a private comment for them."""

    assignee_id: str = Field(min_length=1, max_length=64)
    comment: str | None = Field(default=None, max_length=MAX_TEXT)

    @field_validator("comment")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


# --- replies' shapes ----------------------------------------------------------------------------

View = TypeVar("View", bound=IssueView)


def _view(issue: Issue, *, staff_id: str, as_: type[View] = IssueView) -> View:  # type: ignore[assignment]
    """An issue as this staff member sees it: the fields of the view, its snapshot, the actions they may take now."""
    fields = issue.model_dump(include=set(as_.model_fields))
    return as_.model_validate({**fields, **domain.snapshot(issue).model_dump(),
                               "actions": domain.actions_for(issue, staff_id=staff_id)})


def _encode_cursor(issue: Issue) -> str:
    raw = f"{issue.updated_at.isoformat()}|{issue.issue_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, issue_id = raw.split("|", 1)
        return datetime.fromisoformat(at), issue_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("The 'before' cursor is not one this API gave out; use next_before from a listing.",
                         code="bad_cursor") from None


# --- queries ------------------------------------------------------------------------------------


@router.get("", response_model=IssueFeed)
async def list_issues(
    staff: CurrentStaff, database: Store,
    status: Literal["unassigned", "assigned", "closed", "open"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=300)] = None,
) -> IssueFeed:
    """My business's issues, newest activity first; pass next_before as `before` for the next page."""
    issues = await store.list_issues(
        database, tenant_id=staff.tenant_id, statuses=_STATUS_FILTERS[status] if status else None,
        limit=limit + 1, before=_decode_cursor(before) if before else None,
    )
    page, more = issues[:limit], len(issues) > limit
    return IssueFeed(issues=[_view(i, staff_id=staff.staff_id) for i in page],
                     next_before=_encode_cursor(page[-1]) if more else None)


@router.get("/mine", response_model=IssueTracker)
async def issue_tracker(
    staff: CurrentStaff, database: Store, limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> IssueTracker:
    """Issue Tracker: the issues assigned to me, open ones first, oldest first."""
    issues = await store.list_assigned_to(database, tenant_id=staff.tenant_id, staff_id=staff.staff_id, limit=limit)
    return IssueTracker(issues=[_view(i, staff_id=staff.staff_id) for i in issues])


@router.get("/counts", response_model=IssueCounts)
async def issue_counts(staff: CurrentStaff, database: Store) -> IssueCounts:
    """How many of my business's issues are unassigned, assigned, closed and open, and how many open are mine."""
    return await store.count_by_status(database, tenant_id=staff.tenant_id, staff_id=staff.staff_id)


@router.get("/search", response_model=IssueSearchResults)
async def search_issues(
    staff: CurrentStaff, database: Store,
    q: Annotated[str, Query(min_length=1, max_length=100, description="customer name, phone, email, #number, words")],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> IssueSearchResults:
    """My business's issues matching every word of `q`, newest activity first."""
    if not q.strip():
        raise Unprocessable("Type something to search for: the search is empty.", code="empty_search")
    issues = await flows.search_issues(database=database, tenant_id=staff.tenant_id, text=q, limit=limit)
    return IssueSearchResults(results=[_view(i, staff_id=staff.staff_id) for i in issues])


@router.get("/{issue_id}", response_model=IssueDetail)
async def get_issue(issue_id: IssueId, staff: CurrentStaff, database: Store) -> IssueDetail:
    """The issue with its history and the customer's whole past communication (all their issues, oldest first)."""
    issue, customer_issues = await flows.issue_with_customer_issues(database=database, tenant_id=staff.tenant_id,
                                                                    issue_id=issue_id)
    communication = [entry_on_issue(entry, issue=i) for i in customer_issues for entry in i.timeline]
    communication.sort(key=lambda entry: entry.at)
    return IssueDetail(issue=_view(issue, staff_id=staff.staff_id, as_=IssueWithHistory),
                       communication=communication, customer_issues=[domain.snapshot(i) for i in customer_issues])


# --- actions ------------------------------------------------------------------------------------


def _changed(issue: Issue, act: Act) -> IssueChanged:
    return IssueChanged(issue=_view(issue, staff_id=act.actor.id))


def _added(issue: Issue, act: Act) -> EntryAdded:
    entry = entry_on_issue(issue.timeline[-1], issue=issue)
    return EntryAdded(issue=_view(issue, staff_id=act.actor.id), entry=entry)


@router.post("/{issue_id}/assign", response_model=IssueChanged)
async def assign(body: AssignIn, act: Acting, database: Store, uow: Work) -> IssueChanged:
    """Assign It: to an active staff member of my business, with an optional private comment."""
    issue = await flows.assign_issue(database=database, uow=uow, act=act, assignee_id=body.assignee_id,
                                     comment=body.comment)
    return _changed(issue, act)


@router.post("/{issue_id}/take", response_model=IssueChanged)
async def take(act: Acting, database: Store, uow: Work) -> IssueChanged:
    """Take It: assign the issue to me (taking an issue I hold already changes nothing)."""
    return _changed(await flows.take_issue(database=database, uow=uow, act=act), act)


@router.post("/{issue_id}/close", response_model=IssueChanged)
async def close(act: Acting, database: Store, uow: Work) -> IssueChanged:
    """Mark as Closed: only if the issue is unassigned or assigned to me (else 403 with the reason)."""
    return _changed(await flows.close_issue(database=database, uow=uow, act=act, resolve=False), act)


@router.post("/{issue_id}/resolve", response_model=IssueChanged)
async def resolve(act: Acting, database: Store, uow: Work) -> IssueChanged:
    """Resolve: close with resolution "no action needed" (same rule as closing)."""
    return _changed(await flows.close_issue(database=database, uow=uow, act=act, resolve=True), act)


@router.post("/{issue_id}/reopen", response_model=IssueChanged)
async def reopen(act: Acting, database: Store, uow: Work) -> IssueChanged:
    """Reopen a closed issue (409 if the customer has another open issue by now)."""
    return _changed(await flows.reopen_issue(database=database, uow=uow, act=act), act)


@router.post("/{issue_id}/comments", status_code=201, response_model=EntryAdded)
async def add_comment(body: TextIn, act: Acting, database: Store, uow: Work) -> EntryAdded:
    """A private comment: visible to staff only, never sent to the customer."""
    return _added(await flows.comment_on_issue(database=database, uow=uow, act=act, text=body.text), act)


@router.post("/{issue_id}/replies", status_code=201, response_model=EntryAdded)
async def reply(body: TextIn, act: Acting, database: Store, uow: Work) -> EntryAdded:
    """Reply to the customer on the channel and address they last used; its delivery status shows on the reply."""
    return _added(await flows.reply_to_customer(database=database, uow=uow, act=act, text=body.text), act)
