"""Staff HTTP API under /api/issues: the feed, the Issue Tracker, counts, one issue with its history, and actions."""

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field, field_validator
from relay_contracts.issues import IssueStatus
from relay_kit.auth import CurrentStaff, StaffPrincipal
from relay_kit.errors import BadRequest, NotFound
from relay_kit.service import Runtime

from relay_issues import domain, flows, store

router = APIRouter(prefix="/api/issues", tags=["issues"])

MAX_TEXT = 5000
IssueId = Annotated[str, Path(min_length=1, max_length=64)]
_STATUS_FILTERS: dict[str, list[str]] = {
    "unassigned": [IssueStatus.UNASSIGNED.value],
    "assigned": [IssueStatus.ASSIGNED.value],
    "closed": [IssueStatus.CLOSED.value],
    "open": [IssueStatus.UNASSIGNED.value, IssueStatus.ASSIGNED.value],
}


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


Service = Annotated[Runtime, Depends(_runtime)]


def _cause(request: Request) -> domain.Cause:
    return domain.Cause(correlation_id=request.headers.get("x-correlation-id") or None)


Cause = Annotated[domain.Cause, Depends(_cause)]


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


def issue_view(issue: dict[str, Any], *, staff_id: str) -> dict[str, Any]:
    """An issue as a staff member sees it in the feed: status colour data, attention flags, their actions."""
    needs_attention, suggest_resolve = domain.attention_of(issue)
    return {
        "issue_id": issue["_id"],
        "number": issue.get("number"),
        "customer_id": issue["customer_id"],
        "customer_name": issue.get("customer_name"),
        "unknown_contact": issue.get("unknown_contact", False),
        "channel": issue["channel"],
        "status": issue["status"],
        "assignee": issue.get("assignee"),
        "closed_by": issue.get("closed_by"),
        "resolution": issue.get("resolution"),
        "summary": issue.get("summary", ""),
        "message_count": issue.get("message_count", 1),
        "opened_at": issue["opened_at"],
        "updated_at": issue["updated_at"],
        "first_response_at": issue.get("first_response_at"),
        "closed_at": issue.get("closed_at"),
        "needs_attention": needs_attention,
        "suggest_resolve": suggest_resolve,
        "actions": domain.actions_for(issue, staff_id=staff_id),
    }


_ENTRY_FIELDS = ("entry_id", "kind", "at", "private", "text", "author", "channel", "from_address", "to_address",
                 "subject", "attachments", "inbound_message_id", "acknowledgement", "outbound_id", "delivery")


def entry_view(entry: dict[str, Any], *, issue: dict[str, Any]) -> dict[str, Any]:
    """One message on an issue: the customer's, a private comment (flagged private) or a reply with its delivery."""
    view = {name: entry[name] for name in _ENTRY_FIELDS if name in entry}
    return {**view, "issue_id": issue["_id"], "issue_number": issue.get("number")}


def _history_view(item: dict[str, Any]) -> dict[str, Any]:
    return {"at": item["at"], "actor": item.get("actor"), "action": item["action"], "detail": item.get("detail", {})}


def _encode_cursor(issue: dict[str, Any]) -> str:
    raw = f"{issue['updated_at'].isoformat()}|{issue['_id']}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, issue_id = raw.split("|", 1)
        return datetime.fromisoformat(at), issue_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("The 'before' cursor is not one this API gave out; use next_before from a listing.",
                         code="bad_cursor") from None


def _actor(staff: StaffPrincipal) -> Any:
    return staff.ref


# --- queries ------------------------------------------------------------------------------------


@router.get("")
async def list_issues(
    staff: CurrentStaff, service: Service,
    status: Literal["unassigned", "assigned", "closed", "open"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=300)] = None,
) -> dict[str, Any]:
    """My business's issues, newest activity first; pass next_before as `before` for the next page."""
    issues = await store.list_issues(
        service.database, tenant_id=staff.tenant_id, statuses=_STATUS_FILTERS[status] if status else None,
        limit=limit + 1, before=_decode_cursor(before) if before else None,
    )
    page, more = issues[:limit], len(issues) > limit
    return {"issues": [issue_view(i, staff_id=staff.staff_id) for i in page],
            "next_before": _encode_cursor(page[-1]) if more else None}


@router.get("/mine")
async def issue_tracker(
    staff: CurrentStaff, service: Service, limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> dict[str, Any]:
    """Issue Tracker: the issues assigned to me, open ones first, oldest first."""
    issues = await store.list_assigned_to(service.database, tenant_id=staff.tenant_id, staff_id=staff.staff_id,
                                          limit=limit)
    return {"issues": [issue_view(i, staff_id=staff.staff_id) for i in issues]}


@router.get("/counts")
async def issue_counts(staff: CurrentStaff, service: Service) -> dict[str, int]:
    """How many of my business's issues are unassigned, assigned, closed and open, and how many open are mine."""
    counts = await store.count_by_status(service.database, tenant_id=staff.tenant_id, staff_id=staff.staff_id)
    unassigned = counts.get(IssueStatus.UNASSIGNED.value, 0)
    assigned = counts.get(IssueStatus.ASSIGNED.value, 0)
    return {"unassigned": unassigned, "assigned": assigned, "closed": counts.get(IssueStatus.CLOSED.value, 0),
            "open": unassigned + assigned, "mine": counts["mine"]}


@router.get("/{issue_id}")
async def get_issue(issue_id: IssueId, staff: CurrentStaff, service: Service) -> dict[str, Any]:
    """The issue with its history and the customer's whole past communication (all their issues, oldest first)."""
    issue = await store.get_issue(service.database, tenant_id=staff.tenant_id, issue_id=issue_id)
    if issue is None:
        raise NotFound(f"No issue {issue_id!r} in your business; it may have been mistyped.", code="issue_not_found")
    customer_issues = await store.list_customer_issues(service.database, tenant_id=staff.tenant_id,
                                                       customer_id=issue["customer_id"])
    communication = [entry_view(entry, issue=i) for i in customer_issues for entry in i.get("timeline", [])]
    communication.sort(key=lambda entry: entry["at"])
    return {
        "issue": {**issue_view(issue, staff_id=staff.staff_id),
                  "history": [_history_view(h) for h in issue.get("history", [])]},
        "communication": communication,
        "customer_issues": [
            {"issue_id": i["_id"], "number": i.get("number"), "status": i["status"], "summary": i.get("summary", ""),
             "opened_at": i["opened_at"], "closed_at": i.get("closed_at")}
            for i in customer_issues
        ],
    }


# --- actions ------------------------------------------------------------------------------------


def _changed(issue: dict[str, Any], staff: StaffPrincipal) -> dict[str, Any]:
    return {"issue": issue_view(issue, staff_id=staff.staff_id)}


@router.post("/{issue_id}/assign")
async def assign(issue_id: IssueId, body: AssignIn, staff: CurrentStaff, service: Service,
                 cause: Cause) -> dict[str, Any]:
    """Assign It: to an active staff member of my business, with an optional private comment."""
    issue = await flows.assign_issue(database=service.database, outbox=service.outbox, tenant_id=staff.tenant_id,
                                     actor=_actor(staff), issue_id=issue_id, assignee_id=body.assignee_id,
                                     comment=body.comment, cause=cause)
    return _changed(issue, staff)


@router.post("/{issue_id}/take")
async def take(issue_id: IssueId, staff: CurrentStaff, service: Service, cause: Cause) -> dict[str, Any]:
    """Take It: assign the issue to me (taking an issue I hold already changes nothing)."""
    issue = await flows.take_issue(database=service.database, outbox=service.outbox, tenant_id=staff.tenant_id,
                                   actor=_actor(staff), issue_id=issue_id, cause=cause)
    return _changed(issue, staff)


@router.post("/{issue_id}/close")
async def close(issue_id: IssueId, staff: CurrentStaff, service: Service, cause: Cause) -> dict[str, Any]:
    """Mark as Closed: only if the issue is unassigned or assigned to me (else 403 with the reason)."""
    issue = await flows.close_issue(database=service.database, outbox=service.outbox, tenant_id=staff.tenant_id,
                                    actor=_actor(staff), issue_id=issue_id, resolve=False, cause=cause)
    return _changed(issue, staff)


@router.post("/{issue_id}/resolve")
async def resolve(issue_id: IssueId, staff: CurrentStaff, service: Service, cause: Cause) -> dict[str, Any]:
    """Resolve: close with resolution "no action needed" (same rule as closing)."""
    issue = await flows.close_issue(database=service.database, outbox=service.outbox, tenant_id=staff.tenant_id,
                                    actor=_actor(staff), issue_id=issue_id, resolve=True, cause=cause)
    return _changed(issue, staff)


@router.post("/{issue_id}/reopen")
async def reopen(issue_id: IssueId, staff: CurrentStaff, service: Service, cause: Cause) -> dict[str, Any]:
    """Reopen a closed issue (409 if the customer has another open issue by now)."""
    issue = await flows.reopen_issue(database=service.database, outbox=service.outbox, tenant_id=staff.tenant_id,
                                     actor=_actor(staff), issue_id=issue_id, cause=cause)
    return _changed(issue, staff)


@router.post("/{issue_id}/comments", status_code=201)
async def add_comment(issue_id: IssueId, body: TextIn, staff: CurrentStaff, service: Service,
                      cause: Cause) -> dict[str, Any]:
    """A private comment: visible to staff only, never sent to the customer."""
    issue = await flows.comment_on_issue(database=service.database, outbox=service.outbox, tenant_id=staff.tenant_id,
                                         actor=_actor(staff), issue_id=issue_id, text=body.text, cause=cause)
    return {**_changed(issue, staff), "entry": entry_view(issue["timeline"][-1], issue=issue)}


@router.post("/{issue_id}/replies", status_code=201)
async def reply(issue_id: IssueId, body: TextIn, staff: CurrentStaff, service: Service,
                cause: Cause) -> dict[str, Any]:
    """Reply to the customer on the channel and address they last used; its delivery status shows on the reply."""
    issue = await flows.reply_to_customer(database=service.database, outbox=service.outbox, tenant_id=staff.tenant_id,
                                          actor=_actor(staff), issue_id=issue_id, text=body.text, cause=cause)
    return {**_changed(issue, staff), "entry": entry_view(issue["timeline"][-1], issue=issue)}
