"""Each action as a whole: load the issue, decide with the domain rules, commit the change with its events.

A change is written only over the version of the issue it was decided on; if someone else changed the
issue first, the action is decided again on the new state. The change and its events are committed
through the kit's unit of work (one document write, then published); a publish that fails is left to the
outbox sweeper, because the change is stored and the staff action or consumed event has succeeded.
"""

import asyncio
import logging
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Protocol

from relay_contracts import Envelope
from relay_contracts.customer_messages import (
    CustomerConsentChanged,
    CustomerProfileChanged,
    DeliveryStatusChanged,
    InboundMessageReceived,
)
from relay_contracts.issues import StaffRef
from relay_contracts.staff import StaffAccountSaved
from relay_kit.errors import Conflict, NotFound, Unavailable
from relay_kit.store import Database
from relay_kit.unit_of_work import OnPublishFailure, UnitOfWork

from relay_issues import domain, metrics, store
from relay_issues.models import Act, Cause, Change, Issue, SearchTerm

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
# The change is stored either way: a staff action answers success and a consumed event is committed;
# the sweeper publishes what the broker did not take (visible in relay_outbox_pending_events meanwhile).
ON_PUBLISH_FAILURE = OnPublishFailure.LEAVE_TO_SWEEPER


class Decision(Protocol):
    """A staff action's rule: the change it makes to the issue, or None if it changes nothing."""

    def __call__(self, issue: Issue, /, *, actor: StaffRef, at: datetime, cause: Cause) -> Change | None: ...


class Outcome(StrEnum):
    """What handling a customer message or a delivery status did."""

    OPENED = "opened"
    APPENDED = "appended"
    ALREADY_APPLIED = "already_applied"
    RECORDED = "recorded"
    UNCHANGED = "unchanged"
    UNKNOWN_ISSUE = "unknown_issue"


async def _commit(*, database: Database, uow: UnitOfWork, change: Change) -> Issue | None:
    """Store the change with its events and publish them; None when the issue changed first (decide again)."""
    return await uow.commit(store.write_change(database, change=change), collection=store.ISSUES,
                            document_id=change.after.issue_id, on_publish_failure=ON_PUBLISH_FAILURE)


def _observe(change: Change) -> None:
    before, after = change.before, change.after
    if before is None:
        return
    if after.first_response_at and not before.first_response_at:
        metrics.FIRST_RESPONSE.observe(max(0.0, (after.first_response_at - after.opened_at).total_seconds()))
    if after.closed_at and after.closed_at != before.closed_at:
        metrics.TIME_TO_CLOSE.observe(max(0.0, (after.closed_at - after.opened_at).total_seconds()))


# --- customer messages --------------------------------------------------------------------------


async def open_or_append(*, database: Database, uow: UnitOfWork, event: Envelope[InboundMessageReceived]) -> Outcome:
    """Append a customer's message to their open issue, or open one: once per message, one open issue per customer."""
    message = event.payload
    tenant_id = event.tenant_id
    for _ in range(MAX_ATTEMPTS):
        applied = await store.get_id_of_issue_with_message(database, tenant_id=tenant_id,
                                                           message_id=message.message_id)
        if applied:
            await uow.publish_pending(collection=store.ISSUES, document_id=applied,
                                      on_publish_failure=ON_PUBLISH_FAILURE)
            return Outcome.ALREADY_APPLIED
        current = await store.get_open_issue(database, tenant_id=tenant_id, customer_id=message.customer_id)
        if current:
            change = domain.append_message(current, event, at=domain.now())
        else:
            number = await store.next_issue_number(database, tenant_id=tenant_id)
            opted_out_at = await store.sms_opted_out_at(database, tenant_id=tenant_id, customer_id=message.customer_id)
            change = domain.open_issue(event, number=number, at=domain.now(), sms_opted_out_at=opted_out_at)
        try:
            written = await _commit(database=database, uow=uow, change=change)
        except store.DuplicateIssue:
            continue  # a concurrent delivery opened the issue or applied the message first: look again
        if written:
            return Outcome.APPENDED if current else Outcome.OPENED
    raise RuntimeError(f"could not apply message {message.message_id} after {MAX_ATTEMPTS} attempts")


async def record_delivery(*, database: Database, uow: UnitOfWork, event: Envelope[DeliveryStatusChanged]) -> Outcome:
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
        if await _commit(database=database, uow=uow, change=change):
            return Outcome.RECORDED
    raise RuntimeError(f"could not record delivery of {status.outbound_id} after {MAX_ATTEMPTS} attempts")


class CustomerDecision(Protocol):
    """A rule about an issue's customer: the change it makes to the issue, or None if it changes nothing."""

    def __call__(self, issue: Issue, /, *, at: datetime, cause: Cause) -> Change | None: ...


async def _change_issue(*, database: Database, uow: UnitOfWork, tenant_id: str, issue_id: str,
                        decide: CustomerDecision, cause: Cause) -> Issue | None:
    """Decide a change on one issue as stored and commit it with its events (decided again after a lost race)."""
    for _ in range(MAX_ATTEMPTS):
        issue = await store.get_issue(database, tenant_id=tenant_id, issue_id=issue_id)
        if issue is None:
            return None
        change = decide(issue, at=domain.now(), cause=cause)
        if change is None:
            return issue
        written = await _commit(database=database, uow=uow, change=change)
        if written:
            return written
    raise RuntimeError(f"could not change issue {issue_id} after {MAX_ATTEMPTS} attempts")


async def _change_customer_issues(*, database: Database, uow: UnitOfWork, tenant_id: str, customer_id: str,
                                  decide: CustomerDecision, cause: Cause) -> None:
    """Apply a rule about the customer to every one of their issues (an open one announces the change)."""
    for issue_id in await store.list_customer_issue_ids(database, tenant_id=tenant_id, customer_id=customer_id):
        await _change_issue(database=database, uow=uow, tenant_id=tenant_id, issue_id=issue_id, decide=decide,
                            cause=cause)


async def record_consent(*, database: Database, uow: UnitOfWork, event: Envelope[CustomerConsentChanged]) -> Outcome:
    """A customer texted STOP or START: kept per number, and shown on every issue of the customer it concerns."""
    consent = event.payload
    tenant_id = event.tenant_id
    saved = await store.save_sms_consent(database, tenant_id=tenant_id, customer_id=consent.customer_id,
                                         phone=consent.phone, opted_out=consent.opted_out, at=consent.at,
                                         source=consent.source)
    if not saved.applied:
        return Outcome.UNCHANGED  # a newer change of this number is kept already
    cause = domain.cause_of(event)
    for customer_id in dict.fromkeys([consent.customer_id, saved.previous_customer_id]):
        if customer_id is None:
            continue
        opted_out_at = await store.sms_opted_out_at(database, tenant_id=tenant_id, customer_id=customer_id)
        await _change_customer_issues(database=database, uow=uow, tenant_id=tenant_id, customer_id=customer_id,
                                      decide=partial(domain.record_consent, sms_opted_out_at=opted_out_at),
                                      cause=cause)
    return Outcome.RECORDED


async def change_customer(*, database: Database, uow: UnitOfWork, event: Envelope[CustomerProfileChanged]) -> Outcome:
    """A customer's name or label changed, or an unknown contact was merged into a directory customer."""
    profile = event.payload
    tenant_id = event.tenant_id
    cause = domain.cause_of(event)
    survivor_id = profile.merged_into_customer_id
    if survivor_id and survivor_id != profile.customer_id:
        await _merge_customer(database=database, uow=uow, tenant_id=tenant_id, merged_id=profile.customer_id,
                              survivor_id=survivor_id, event=event, cause=cause)
    await _change_customer_issues(
        database=database, uow=uow, tenant_id=tenant_id, customer_id=survivor_id or profile.customer_id,
        decide=partial(domain.rename_customer, customer_name=profile.customer_name,
                       customer_label=profile.customer_label), cause=cause)
    return Outcome.RECORDED


async def _merge_customer(*, database: Database, uow: UnitOfWork, tenant_id: str, merged_id: str, survivor_id: str,
                          event: Envelope[CustomerProfileChanged], cause: Cause) -> None:
    """Move a merged contact's issues and numbers to the customer it was merged into, one open issue kept."""
    profile = event.payload
    await store.move_sms_consent(database, tenant_id=tenant_id, from_customer_id=merged_id,
                                 to_customer_id=survivor_id)
    opted_out_at = await store.sms_opted_out_at(database, tenant_id=tenant_id, customer_id=survivor_id)
    for issue_id in await store.list_customer_issue_ids(database, tenant_id=tenant_id, customer_id=merged_id):
        for _ in range(MAX_ATTEMPTS):
            survivor = await store.get_open_issue(database, tenant_id=tenant_id, customer_id=survivor_id)
            decide = partial(domain.move_to_customer, customer_id=survivor_id, customer_name=profile.customer_name,
                             customer_label=profile.customer_label, sms_opted_out_at=opted_out_at,
                             survivor=survivor)
            try:
                await _change_issue(database=database, uow=uow, tenant_id=tenant_id, issue_id=issue_id,
                                    decide=decide, cause=cause)
                break
            except store.DuplicateIssue:
                continue  # the customer's own open issue appeared meanwhile: close this one into it
        else:
            raise RuntimeError(f"could not move issue {issue_id} to customer {survivor_id}")
    # the merged contact's opt-outs now apply to the customer's own issues too
    await _change_customer_issues(database=database, uow=uow, tenant_id=tenant_id, customer_id=survivor_id,
                                  decide=partial(domain.record_consent, sms_opted_out_at=opted_out_at), cause=cause)


async def save_staff_member(*, database: Database, event: Envelope[StaffAccountSaved]) -> None:
    """Keep the staff directory (who can be assigned, and their names) in step with the gateway."""
    await store.save_staff(database, member=domain.staff_member(event), at=domain.now())


# --- reading ------------------------------------------------------------------------------------


async def get_issue(*, database: Database, tenant_id: str, issue_id: str) -> Issue:
    """The tenant's issue; NotFound (404) if there is none (another tenant's issue is not found either)."""
    issue = await store.get_issue(database, tenant_id=tenant_id, issue_id=issue_id)
    if issue is None:
        raise NotFound(f"No issue {issue_id!r} in your business; it may have been mistyped.", code="issue_not_found")
    return issue


async def issue_with_customer_issues(*, database: Database, tenant_id: str, issue_id: str) -> tuple[Issue, list[Issue]]:
    """The issue, and every issue of its customer oldest first (their whole past communication)."""
    issue = await get_issue(database=database, tenant_id=tenant_id, issue_id=issue_id)
    return issue, await store.list_customer_issues(database, tenant_id=tenant_id, customer_id=issue.customer_id)


async def search_issues(*, database: Database, tenant_id: str, text: str, limit: int) -> list[Issue]:
    """The tenant's issues matching every word of a search (customer, phone, email, number, text), newest first."""
    terms: list[SearchTerm] = domain.search_query(text)
    return await store.search_issues(database, tenant_id=tenant_id, terms=terms, limit=limit)


# --- staff actions ------------------------------------------------------------------------------


async def _act(*, database: Database, uow: UnitOfWork, act: Act, decide: Decision) -> Issue:
    """Decide a staff action on the issue as stored and commit it if it changes anything."""
    for _ in range(MAX_ATTEMPTS):
        issue = await get_issue(database=database, tenant_id=act.tenant_id, issue_id=act.issue_id)
        change = decide(issue, actor=act.actor, at=domain.now(), cause=act.cause)
        if change is None:
            return issue
        try:
            written = await _commit(database=database, uow=uow, change=change)
        except store.DuplicateIssue:
            other = await store.get_open_issue(database, tenant_id=act.tenant_id, customer_id=issue.customer_id)
            label = f"issue #{other.number}" if other else "another open issue"
            raise Conflict(f"This customer already has {label} open; continue there instead of reopening this one.",
                           code="customer_has_open_issue") from None
        if written:
            _observe(change)
            return written
        await asyncio.sleep(0)
    raise Unavailable("The issue kept changing while this was being saved; try again.")


async def assign_issue(*, database: Database, uow: UnitOfWork, act: Act, assignee_id: str,
                       comment: str | None) -> Issue:
    """Assign It: to an active staff member of the tenant, with an optional private comment."""
    member = await store.get_staff(database, tenant_id=act.tenant_id, staff_id=assignee_id)
    assignee = domain.assignee_for(member, assignee_id=assignee_id, actor=act.actor)
    return await _act(database=database, uow=uow, act=act,
                      decide=partial(domain.assign, assignee=assignee, comment=comment))


async def take_issue(*, database: Database, uow: UnitOfWork, act: Act) -> Issue:
    """Take It: assign the issue to myself."""
    return await _act(database=database, uow=uow, act=act, decide=domain.take)


async def close_issue(*, database: Database, uow: UnitOfWork, act: Act, resolve: bool) -> Issue:
    """Mark as Closed, or Resolve ("no action needed"): only if unassigned or assigned to me."""
    return await _act(database=database, uow=uow, act=act, decide=partial(domain.close, resolve=resolve))


async def reopen_issue(*, database: Database, uow: UnitOfWork, act: Act) -> Issue:
    """Reopen a closed issue (refused if the customer has opened another one since)."""
    return await _act(database=database, uow=uow, act=act, decide=domain.reopen)


async def comment_on_issue(*, database: Database, uow: UnitOfWork, act: Act, text: str) -> Issue:
    """Add a private comment (staff only; it never goes to the customer)."""
    return await _act(database=database, uow=uow, act=act, decide=partial(domain.add_private_comment, text=text))


async def reply_to_customer(*, database: Database, uow: UnitOfWork, act: Act, text: str) -> Issue:
    """Reply to the customer: stored on the issue and requested from ingest in one write."""
    return await _act(database=database, uow=uow, act=act, decide=partial(domain.reply, text=text))


# --- operations ---------------------------------------------------------------------------------


async def prepare(database: Database) -> None:
    """At start: the store's indexes, and search terms for issues stored before search existed."""
    await store.prepare(database)
    for issue_id in await store.issue_ids_without_search_terms(database):
        issue = await store.get_issue_by_id(database, issue_id=issue_id)
        if issue is not None:
            await store.set_search_terms(database, issue=domain.with_search_terms(issue))


async def refresh_open_issue_gauges(*, database: Database) -> None:
    """Read open issues by status and the oldest one's age from the store into the gauges."""
    counts, oldest = await store.open_issue_stats(database)
    metrics.show_open_issues(counts=counts, oldest_opened_at=oldest, now=domain.now())


async def keep_open_issue_gauges_fresh(*, database: Database, every: float) -> None:
    """Refresh the open-issue gauges forever (a background job of the service)."""
    while True:
        try:
            await refresh_open_issue_gauges(database=database)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("refreshing the open-issue gauges failed; retrying", exc_info=True)
        await asyncio.sleep(every)
