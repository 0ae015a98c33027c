"""Each action as a whole: read the issue, decide with the domain rules, write the change with its events, publish.

A change is written only over the version of the issue it was decided on; if someone else changed
the issue first, the action is decided again on the new state. Events are stored in the same write
(relay_kit's outbox) and published right after; if publishing fails, the outbox sweeper publishes later.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from relay_contracts import Envelope
from relay_contracts.customer_messages import DeliveryStatusChanged, InboundMessageReceived
from relay_contracts.issues import StaffRef
from relay_contracts.staff import StaffAccountSaved
from relay_kit.errors import Conflict, NotFound, Unavailable

from relay_issues import domain, metrics, store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20


class Outcome(StrEnum):
    """What handling a customer message or a delivery status did."""

    OPENED = "opened"
    APPENDED = "appended"
    ALREADY_APPLIED = "already_applied"
    RECORDED = "recorded"
    UNCHANGED = "unchanged"
    UNKNOWN_ISSUE = "unknown_issue"


async def _publish(*, database: Any, outbox: Any, issue_id: str) -> None:
    """Publish the events stored with an issue's last change; on failure the sweeper publishes them later."""
    try:
        await outbox.flush(database[store.ISSUES], issue_id)
    except Exception:
        log.warning("publishing the events of %s failed; the outbox sweeper will retry", issue_id, exc_info=True)


def _observe(*, before: dict[str, Any], change: domain.Change) -> None:
    opened_at = _aware(before["opened_at"])
    if change.set.get("first_response_at"):
        metrics.FIRST_RESPONSE.observe(max(0.0, (change.set["first_response_at"] - opened_at).total_seconds()))
    if change.set.get("closed_at"):
        metrics.TIME_TO_CLOSE.observe(max(0.0, (change.set["closed_at"] - opened_at).total_seconds()))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- customer messages --------------------------------------------------------------------------


async def open_or_append(*, database: Any, outbox: Any, event: Envelope[InboundMessageReceived]) -> Outcome:
    """Append a customer's message to their open issue, or open one: once per message, one open issue per customer."""
    message = event.payload
    tenant_id = event.tenant_id
    for _ in range(MAX_ATTEMPTS):
        applied = await store.get_issue_with_message(database, tenant_id=tenant_id, message_id=message.message_id)
        if applied:
            await _publish(database=database, outbox=outbox, issue_id=applied["_id"])
            return Outcome.ALREADY_APPLIED
        current = await store.get_open_issue(database, tenant_id=tenant_id, customer_id=message.customer_id)
        if current:
            change = domain.append_message(current, event, at=domain.now())
            try:
                written = await store.apply_change(database, issue=current, change=change)
            except store.DuplicateIssue:
                continue  # applied to another issue meanwhile: found as applied next time round
            if written:
                await _publish(database=database, outbox=outbox, issue_id=written["_id"])
                return Outcome.APPENDED
            continue  # the issue changed (or closed) meanwhile: decide again
        number = await store.next_issue_number(database, tenant_id=tenant_id)
        issue, events = domain.open_issue(event, number=number, at=domain.now())
        try:
            await store.insert_issue(database, issue=issue, events=events)
        except store.DuplicateIssue:
            continue  # a concurrent delivery opened the customer's issue first: append to it
        await _publish(database=database, outbox=outbox, issue_id=issue["_id"])
        return Outcome.OPENED
    raise RuntimeError(f"could not apply message {message.message_id} after {MAX_ATTEMPTS} attempts")


async def record_delivery(*, database: Any, outbox: Any, event: Envelope[DeliveryStatusChanged]) -> Outcome:
    """Show a reply's new delivery status on its issue and announce it."""
    status = event.payload
    for _ in range(MAX_ATTEMPTS):
        issue = await store.get_issue(database, tenant_id=event.tenant_id, issue_id=status.issue_id)
        if issue is None:
            log.warning("delivery status for unknown issue %s; ignored", status.issue_id)
            return Outcome.UNKNOWN_ISSUE
        change = domain.record_delivery(issue, event, at=domain.now())
        if change is None:
            return Outcome.UNCHANGED
        if await store.apply_change(database, issue=issue, change=change):
            await _publish(database=database, outbox=outbox, issue_id=issue["_id"])
            return Outcome.RECORDED
    raise RuntimeError(f"could not record delivery of {status.outbound_id} after {MAX_ATTEMPTS} attempts")


async def save_staff_member(*, database: Any, event: Envelope[StaffAccountSaved]) -> None:
    """Keep the staff directory (who can be assigned, and their names) in step with the gateway."""
    account = event.payload
    await store.save_staff(
        database, tenant_id=event.tenant_id, staff_id=account.staff_id, at=domain.now(),
        fields={"username": account.username, "display_name": account.display_name, "role": account.role.value,
                "active": account.active},
    )


# --- staff actions ------------------------------------------------------------------------------


async def _act(
    *, database: Any, outbox: Any, tenant_id: str, issue_id: str,
    decide: Callable[[dict[str, Any]], domain.Change | None],
) -> dict[str, Any]:
    """Decide a staff action on the issue as stored, write it if it changes anything, publish its events."""
    for _ in range(MAX_ATTEMPTS):
        issue = await store.get_issue(database, tenant_id=tenant_id, issue_id=issue_id)
        if issue is None:
            raise NotFound(f"No issue {issue_id!r} in your business; it may have been mistyped.",
                           code="issue_not_found")
        change = decide(issue)
        if change is None:
            return issue
        try:
            written = await store.apply_change(database, issue=issue, change=change)
        except store.DuplicateIssue:
            other = await store.get_open_issue(database, tenant_id=tenant_id, customer_id=issue["customer_id"])
            label = f"issue #{other['number']}" if other else "another open issue"
            raise Conflict(f"This customer already has {label} open; continue there instead of reopening this one.",
                           code="customer_has_open_issue") from None
        if written:
            _observe(before=issue, change=change)
            await _publish(database=database, outbox=outbox, issue_id=issue_id)
            return written
        await asyncio.sleep(0)
    raise Unavailable("The issue kept changing while this was being saved; try again.")


async def assign_issue(*, database: Any, outbox: Any, tenant_id: str, actor: StaffRef, issue_id: str,
                       assignee_id: str, comment: str | None, cause: domain.Cause) -> dict[str, Any]:
    """Assign It: to an active staff member of the tenant, with an optional private comment."""
    member = await store.get_staff(database, tenant_id=tenant_id, staff_id=assignee_id)
    if member is None and assignee_id != actor.id:
        raise NotFound(f"No staff member {assignee_id!r} in your business; choose someone from the staff list.",
                       code="assignee_not_found")
    if member is not None and not member.get("active", True):
        raise domain.Unprocessable(f"{member['display_name']} is no longer an active staff member; "
                                   "assign the issue to someone else.", code="assignee_inactive")
    assignee = StaffRef(id=assignee_id, name=member["display_name"]) if member else actor
    return await _act(database=database, outbox=outbox, tenant_id=tenant_id, issue_id=issue_id,
                      decide=lambda issue: domain.assign(issue, actor=actor, assignee=assignee, comment=comment,
                                                         at=domain.now(), cause=cause))


async def take_issue(*, database: Any, outbox: Any, tenant_id: str, actor: StaffRef, issue_id: str,
                     cause: domain.Cause) -> dict[str, Any]:
    """Take It: assign the issue to myself."""
    return await _act(database=database, outbox=outbox, tenant_id=tenant_id, issue_id=issue_id,
                      decide=lambda issue: domain.take(issue, actor=actor, at=domain.now(), cause=cause))


async def close_issue(*, database: Any, outbox: Any, tenant_id: str, actor: StaffRef, issue_id: str,
                      resolve: bool, cause: domain.Cause) -> dict[str, Any]:
    """Mark as Closed, or Resolve ("no action needed"): only if unassigned or assigned to me."""
    return await _act(database=database, outbox=outbox, tenant_id=tenant_id, issue_id=issue_id,
                      decide=lambda issue: domain.close(issue, actor=actor, at=domain.now(), cause=cause,
                                                        resolve=resolve))


async def reopen_issue(*, database: Any, outbox: Any, tenant_id: str, actor: StaffRef, issue_id: str,
                       cause: domain.Cause) -> dict[str, Any]:
    """Reopen a closed issue (refused if the customer has opened another one since)."""
    return await _act(database=database, outbox=outbox, tenant_id=tenant_id, issue_id=issue_id,
                      decide=lambda issue: domain.reopen(issue, actor=actor, at=domain.now(), cause=cause))


async def comment_on_issue(*, database: Any, outbox: Any, tenant_id: str, actor: StaffRef, issue_id: str,
                           text: str, cause: domain.Cause) -> dict[str, Any]:
    """Add a private comment (staff only; it never goes to the customer)."""
    return await _act(database=database, outbox=outbox, tenant_id=tenant_id, issue_id=issue_id,
                      decide=lambda issue: domain.add_private_comment(issue, actor=actor, text=text,
                                                                      at=domain.now(), cause=cause))


async def reply_to_customer(*, database: Any, outbox: Any, tenant_id: str, actor: StaffRef, issue_id: str,
                            text: str, cause: domain.Cause) -> dict[str, Any]:
    """Reply to the customer: stored on the issue and requested from ingest in one write."""
    return await _act(database=database, outbox=outbox, tenant_id=tenant_id, issue_id=issue_id,
                      decide=lambda issue: domain.reply(issue, actor=actor, text=text, at=domain.now(), cause=cause))


# --- operations ---------------------------------------------------------------------------------


async def refresh_open_issue_gauges(*, database: Any) -> None:
    """Read open issues by status and the oldest one's age from the store into the gauges."""
    counts, oldest = await store.open_issue_stats(database)
    metrics.show_open_issues(counts=counts, oldest_opened_at=_aware(oldest) if oldest else None, now=domain.now())


async def keep_open_issue_gauges_fresh(*, database: Any, every: float) -> None:
    """Refresh the open-issue gauges forever (a background job of the service)."""
    while True:
        try:
            await refresh_open_issue_gauges(database=database)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("refreshing the open-issue gauges failed; retrying", exc_info=True)
        await asyncio.sleep(every)
