"""Issue rules: open or append, who may do what, acknowledgements, the audience, and the events announcing each change.

Every action is a pure function from the `Issue` as stored to a `Change`: the issue as it will be and the
events announcing it. The store writes the change and its events in one document write guarded by the
issue's version, so a change is decided on exactly the state it is written over. Who may see each event
is decided in one place, `audience_of`, right where the events are made (`_announce`).
"""

import hashlib
import re
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from relay_contracts import Envelope, EventPayload, new_event
from relay_contracts.customer_messages import (
    Channel,
    DeliveryState,
    DeliveryStatusChanged,
    InboundMessageReceived,
    OutboundMessageRequested,
    advances_delivery,
    customer_label,
    reply_subject,
    reply_threading,
)
from relay_contracts.issues import (
    MERGED,
    NO_ACTION_NEEDED,
    CustomerChange,
    IssueAction,
    IssueAssigned,
    IssueAudience,
    IssueClosed,
    IssueCommentAdded,
    IssueCustomerChanged,
    IssueEvent,
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
from relay_contracts.staff import StaffAccountSaved
from relay_kit.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from uuid6 import uuid7

from relay_issues.models import (
    Cause,
    Change,
    CustomerMessage,
    Delivery,
    HistoryAction,
    HistoryDetail,
    HistoryEntry,
    Issue,
    PrivateComment,
    Reply,
    SearchTerm,
    StaffMember,
)

PRODUCER = "issues"
CLOSED = "closed"
SMS_MAX_CHARS = 1600  # Twilio's limit for one outbound message body
SUMMARY_CHARS = 200
SNAPSHOT_FIELDS = frozenset(IssueSnapshot.model_fields)


# --- time and ids -------------------------------------------------------------------------------


def now() -> datetime:
    """The current UTC time at MongoDB's precision (milliseconds), so stored and computed values agree."""
    return _at_ms(datetime.now(UTC))


def _at_ms(moment: datetime) -> datetime:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


def issue_id_for(*, tenant_id: str, opening_message_id: str) -> str:
    """The id of the issue a message opens: derived from the message, so one message can open only one issue."""
    digest = hashlib.sha256(f"{tenant_id}\x00{opening_message_id}".encode()).hexdigest()
    return f"iss_{digest[:24]}"


def _entry_id() -> str:
    return f"ent_{uuid.UUID(str(uuid7())).hex}"


def _outbound_id() -> str:
    return f"out_{uuid.UUID(str(uuid7())).hex}"


# --- acknowledgements ---------------------------------------------------------------------------

_ACK_PHRASES = (
    "thank you", "thankyou", "thanks", "thank u", "thx", "thnx", "ty", "tysm", "cheers", "much appreciated",
    "appreciate it", "ok", "okay", "okey", "okie", "k", "kk", "alright", "all right", "got it", "sounds good",
    "will do", "noted", "perfect", "great", "cool", "awesome", "nice", "lovely", "excellent", "wonderful",
    "fine", "fab", "brilliant", "yes", "yep", "yeah", "yup", "ya", "sure", "no problem", "no worries", "np",
    "see you", "see ya", "bye", "have a good day", "have a nice day", "good",
)
_ACK_FILLERS = frozenset({"so", "very", "much", "a", "lot", "again", "all", "both", "you", "guys", "too", "great",
                          "and", "oh", "ah", "then", "thats", "that's", "that", "is", "sounds", "super"})
_ACK_EMOJI = frozenset("👍👌🙏😊🙂😀😁😃😄☺❤♥💕👏✅🆗🤝💯😍🥰✌")
_EMOJI_NOISE = {"\ufe0f", "\u200d"} | {chr(c) for c in range(0x1F3FB, 0x1F400)}  # variation selector, ZWJ, skin tones
_MAX_ACK_WORDS = 8
_PHRASE_PATTERN = re.compile(
    r"\b(" + "|".join(sorted((re.escape(p) for p in _ACK_PHRASES), key=len, reverse=True)) + r")\b"
)


def is_acknowledgement(text: str | None) -> bool:
    """Whether a customer's message is a pure acknowledgement ("ok", "thanks!", "👍") that needs no answer."""
    if not text or not text.strip():
        return False
    normalised = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    if "?" in normalised:
        return False
    emoji = [ch for ch in normalised if unicodedata.category(ch) == "So"]
    if any(ch not in _ACK_EMOJI for ch in emoji):
        return False
    words_part = "".join(" " if ch in _EMOJI_NOISE or unicodedata.category(ch) == "So" else ch for ch in normalised)
    words = re.findall(r"[a-z']+", words_part)
    if len(words) > _MAX_ACK_WORDS or any(ch.isdigit() for ch in words_part):
        return False
    if not words:
        return bool(emoji)
    without_phrases = _PHRASE_PATTERN.sub(" ", " ".join(words))
    if without_phrases == " ".join(words):
        return False  # no acknowledgement phrase at all ("so", "you")
    return all(word in _ACK_FILLERS for word in without_phrases.split())


def attention_of(issue: Issue) -> tuple[bool, bool]:
    """(needs_attention, suggest_resolve) from the customer's messages since staff last replied."""
    if issue.status == IssueStatus.CLOSED:
        return False, False
    pending: list[CustomerMessage] = []
    for entry in issue.timeline:
        if isinstance(entry, Reply):
            pending = []
        elif isinstance(entry, CustomerMessage):
            pending.append(entry)
    if not pending:
        return False, False
    if all(entry.acknowledgement for entry in pending):
        return False, True
    return True, False


# --- who may do what ----------------------------------------------------------------------------


def _label(issue: Issue) -> str:
    return f"Issue #{issue.number}" if issue.number else "This issue"


def check_may_close(issue: Issue, *, staff: StaffRef) -> None:
    """An issue can be closed only if it is unassigned or assigned to the person closing it."""
    assignee = issue.assignee
    if issue.status == IssueStatus.ASSIGNED and assignee and assignee.id != staff.id:
        raise Forbidden(
            f"{_label(issue)} is assigned to {assignee.name}; only they can close it. "
            "Ask them, or have it assigned to you first.",
            code="not_assignee",
        )


def customer_named(issue: IssueSnapshot) -> str:
    """How messages to staff name the issue's customer: the label, else the name (never an internal id)."""
    return issue.customer_label or issue.customer_name or "The customer"


def _day(moment: datetime) -> str:
    return f"{moment:%b} {moment.day}, {moment.year}"


def check_may_text(issue: Issue) -> None:
    """A customer who texted STOP gets no SMS until they text START (carriers' rule); Conflict (409) says so."""
    if issue.sms_opted_out_at is not None:
        raise Conflict(f"{customer_named(issue)} texted STOP on {_day(issue.sms_opted_out_at)}; "
                       "SMS replies are blocked until they text START", code="opted_out")


def _check_open(issue: Issue, *, action: str) -> None:
    if issue.status == IssueStatus.CLOSED:
        by = f" by {issue.closed_by.name}" if issue.closed_by else ""
        raise Conflict(f"{_label(issue)} was closed{by}; reopen it to {action}.", code="issue_closed")


def actions_for(issue: Issue, *, staff_id: str) -> list[IssueAction]:
    """What this staff member can do with the issue now (the contract's rule, on the issue's current attention)."""
    return snapshot(issue).actions_for(staff_id=staff_id)


def assignee_for(member: StaffMember | None, *, assignee_id: str, actor: StaffRef) -> StaffRef:
    """Whom Assign It gives the issue to: an active staff member of the tenant (or the actor themselves)."""
    if member is None:
        if assignee_id == actor.id:
            return actor
        raise NotFound(f"No staff member {assignee_id!r} in your business; choose someone from the staff list.",
                       code="assignee_not_found")
    if not member.active:
        raise Unprocessable(f"{member.display_name} is no longer an active staff member; "
                            "assign the issue to someone else.", code="assignee_inactive")
    return member.ref


def staff_member(event: Envelope[StaffAccountSaved]) -> StaffMember:
    """The directory entry a staff account announcement describes."""
    account = event.payload
    return StaffMember(tenant_id=event.tenant_id, staff_id=account.staff_id, username=account.username,
                       display_name=account.display_name, role=account.role, active=account.active)


# --- the snapshot every event carries, and who may see it ----------------------------------------


def snapshot(issue: Issue) -> IssueSnapshot:
    """The issue as the feed shows it and every event carries it: its snapshot fields and attention flags."""
    needs_attention, suggest_resolve = attention_of(issue)
    return IssueSnapshot.model_validate({**issue.model_dump(include=set(SNAPSHOT_FIELDS)),
                                         "needs_attention": needs_attention, "suggest_resolve": suggest_resolve})


def audience_of(issue: Issue) -> IssueAudience:
    """Who may see an event about this issue: a customer issue is seen by every staff member of its tenant."""
    return IssueAudience(tenant_staff=True)


def _announce(before: Issue | None, after: Issue, payloads: list[EventPayload], cause: Cause) -> Change:
    """The change from `before` to `after`, with its events; every issue event names its audience here.

    Every change passes here, so the stored search terms are brought up to date here too.
    """
    after = with_search_terms(after)
    audience = audience_of(after)
    events = tuple(
        new_event(payload.model_copy(update={"audience": audience}) if isinstance(payload, IssueEvent) else payload,
                  tenant_id=after.tenant_id, producer=PRODUCER, correlation_id=cause.correlation_id,
                  causation_id=cause.causation_id)
        for payload in payloads
    )
    return Change(before=before, after=after, events=events)


def _evolve(issue: Issue, **fields: Any) -> Issue:
    return issue.model_copy(update=fields)


def _history(*, at: datetime, actor: StaffRef | None, action: HistoryAction, **detail: Any) -> HistoryEntry:
    return HistoryEntry(at=at, actor=actor, action=action, detail=HistoryDetail(**detail))


def cause_of(event: Envelope[Any]) -> Cause:
    """The correlation and causation ids an event hands on to the changes it causes."""
    return Cause(correlation_id=event.correlation_id, causation_id=str(event.event_id))


# --- customer messages: open or append ----------------------------------------------------------


def _customer_entry(message: InboundMessageReceived, *, at: datetime) -> CustomerMessage:
    return CustomerMessage(
        entry_id=_entry_id(), at=at, text=message.text, channel=message.channel, provider=message.provider,
        from_address=message.from_address, to_address=message.to_address, subject=message.subject,
        attachments=message.attachments, threading=message.threading, inbound_message_id=message.message_id,
        acknowledgement=is_acknowledgement(message.text),
    )


def _summary(message: InboundMessageReceived) -> str:
    text = " ".join(message.text.split())
    if not text and message.attachments:
        text = f"[{len(message.attachments)} attachment{'s' if len(message.attachments) > 1 else ''}]"
    return text[:SUMMARY_CHARS]


def label_of_message(message: InboundMessageReceived) -> str:
    """How staff see the sender of a message: ingest's label, else the name, the phone (national format) or email."""
    if message.customer_label:
        return message.customer_label
    sms = message.channel == Channel.SMS
    return customer_label(name=message.customer_name, phone=message.from_address if sms else None,
                          email=None if sms else message.from_address)


def _label_after(issue: Issue, message: InboundMessageReceived) -> str:
    """The issue's customer label after a further message: the message's word, else the label the issue has."""
    if message.customer_label or message.customer_name or not issue.customer_label:
        return label_of_message(message)
    return issue.customer_label


def open_issue(event: Envelope[InboundMessageReceived], *, number: int, at: datetime,
               sms_opted_out_at: datetime | None = None) -> Change:
    """A new issue opened by a customer's message, and the IssueOpened event announcing it."""
    message = event.payload
    received_at = _at_ms(message.received_at)
    issue = Issue(
        issue_id=issue_id_for(tenant_id=event.tenant_id, opening_message_id=message.message_id),
        tenant_id=event.tenant_id, customer_id=message.customer_id, customer_name=message.customer_name,
        customer_label=label_of_message(message), sms_opted_out_at=sms_opted_out_at,
        unknown_contact=message.unknown_contact, number=number, channel=message.channel,
        status=IssueStatus.UNASSIGNED, summary=_summary(message), message_count=1, opened_at=received_at,
        updated_at=at, applied_message_ids=[message.message_id],
        timeline=[_customer_entry(message, at=received_at)],
        history=[_history(at=at, actor=None, action=HistoryAction.OPENED, inbound_message_id=message.message_id)],
    )
    opened = IssueOpened(issue=snapshot(issue), inbound_message_id=message.message_id, text=message.text,
                         received_at=message.received_at)
    return _announce(None, issue, [opened], cause_of(event))


def append_message(issue: Issue, event: Envelope[InboundMessageReceived], *, at: datetime) -> Change:
    """A further message from the customer, appended to their open issue as a comment."""
    message = event.payload
    after = _evolve(
        issue, updated_at=at, summary=_summary(message), message_count=issue.message_count + 1,
        channel=message.channel, customer_name=message.customer_name or issue.customer_name,
        customer_label=_label_after(issue, message),
        applied_message_ids=[*issue.applied_message_ids, message.message_id],
        timeline=[*issue.timeline, _customer_entry(message, at=_at_ms(message.received_at))],
        history=[*issue.history, _history(at=at, actor=None, action=HistoryAction.MESSAGE_APPENDED,
                                          inbound_message_id=message.message_id)],
    )
    appended = IssueMessageAppended(issue=snapshot(after), inbound_message_id=message.message_id,
                                    text=message.text, received_at=message.received_at)
    return _announce(issue, after, [appended], cause_of(event))


# --- staff actions ------------------------------------------------------------------------------


def _comment(*, text: str, author: StaffRef, at: datetime) -> PrivateComment:
    return PrivateComment(entry_id=_entry_id(), at=at, text=text, author=author)


def assign(issue: Issue, *, actor: StaffRef, assignee: StaffRef, comment: str | None, at: datetime,
           cause: Cause) -> Change | None:
    """Assign It: give the issue to a staff member of the tenant, with an optional private comment."""
    _check_open(issue, action="assign it")
    reassigned = not (issue.assignee and issue.assignee.id == assignee.id)
    if not reassigned and not comment:
        return None  # already assigned to them, nothing to add
    after, history = issue, list(issue.history)
    if reassigned:
        after = _evolve(after, status=IssueStatus.ASSIGNED, assignee=assignee)
        history.append(_history(at=at, actor=actor, action=HistoryAction.ASSIGNED, assignee=assignee,
                                previous=issue.assignee))
    entry = _comment(text=comment, author=actor, at=at) if comment else None
    if entry:
        history.append(_history(at=at, actor=actor, action=HistoryAction.COMMENT_ADDED, entry_id=entry.entry_id))
    after = _evolve(after, updated_at=at, history=history, timeline=[*issue.timeline, *([entry] if entry else [])])
    future = snapshot(after)
    payloads: list[EventPayload] = [IssueAssigned(issue=future, actor=actor)] if reassigned else []
    if entry:
        payloads.append(IssueCommentAdded(issue=future, actor=actor, comment_id=entry.entry_id, text=entry.text))
    return _announce(issue, after, payloads, cause)


def take(issue: Issue, *, actor: StaffRef, at: datetime, cause: Cause) -> Change | None:
    """Take It: assign an unassigned issue to myself (already mine: nothing to do)."""
    _check_open(issue, action="take it")
    current = issue.assignee
    if issue.status == IssueStatus.ASSIGNED and current:
        if current.id == actor.id:
            return None
        raise Conflict(f"{_label(issue)} is already assigned to {current.name}; use Assign It to reassign it.",
                       code="already_assigned")
    after = _evolve(issue, status=IssueStatus.ASSIGNED, assignee=actor, updated_at=at,
                    history=[*issue.history, _history(at=at, actor=actor, action=HistoryAction.TAKEN,
                                                      assignee=actor)])
    return _announce(issue, after, [IssueAssigned(issue=snapshot(after), actor=actor)], cause)


def close(issue: Issue, *, actor: StaffRef, at: datetime, cause: Cause, resolve: bool = False) -> Change | None:
    """Mark as Closed (or Resolve: "no action needed"), only if unassigned or assigned to me."""
    resolution = NO_ACTION_NEEDED if resolve else CLOSED
    if issue.status == IssueStatus.CLOSED:
        closer = issue.closed_by
        if closer and closer.id == actor.id and issue.resolution == resolution:
            return None  # the same person closing it the same way again
        raise Conflict(f"{_label(issue)} was already closed by {closer.name if closer else 'someone'}.",
                       code="issue_closed")
    check_may_close(issue, staff=actor)
    action = HistoryAction.RESOLVED if resolve else HistoryAction.CLOSED
    after = _evolve(issue, status=IssueStatus.CLOSED, closed_by=actor, closed_at=at, resolution=resolution,
                    updated_at=at, history=[*issue.history, _history(at=at, actor=actor, action=action,
                                                                     resolution=resolution)])
    event_class = IssueResolved if resolve else IssueClosed
    return _announce(issue, after, [event_class(issue=snapshot(after), actor=actor)], cause)


def reopen(issue: Issue, *, actor: StaffRef, at: datetime, cause: Cause) -> Change:
    """Reopen a closed issue: back to its assignee, or unassigned."""
    if issue.status != IssueStatus.CLOSED:
        raise Conflict(f"{_label(issue)} is open already.", code="issue_open")
    status = IssueStatus.ASSIGNED if issue.assignee else IssueStatus.UNASSIGNED
    after = _evolve(issue, status=status, closed_by=None, closed_at=None, resolution=None, updated_at=at,
                    history=[*issue.history, _history(at=at, actor=actor, action=HistoryAction.REOPENED)])
    return _announce(issue, after, [IssueReopened(issue=snapshot(after), actor=actor)], cause)


def add_private_comment(issue: Issue, *, actor: StaffRef, text: str, at: datetime, cause: Cause) -> Change:
    """A private comment: staff only, never sent to the customer."""
    entry = _comment(text=text, author=actor, at=at)
    after = _evolve(issue, updated_at=at, timeline=[*issue.timeline, entry],
                    history=[*issue.history, _history(at=at, actor=actor, action=HistoryAction.COMMENT_ADDED,
                                                      entry_id=entry.entry_id)])
    added = IssueCommentAdded(issue=snapshot(after), actor=actor, comment_id=entry.entry_id, text=text)
    return _announce(issue, after, [added], cause)


def _last_customer_message(issue: Issue) -> CustomerMessage:
    for entry in reversed(issue.timeline):
        if isinstance(entry, CustomerMessage):
            return entry
    raise Conflict(f"{_label(issue)} has no customer message to reply to.", code="nothing_to_reply_to")


def reply(issue: Issue, *, actor: StaffRef, text: str, at: datetime, cause: Cause) -> Change:
    """Reply to the customer on the channel and address they last used; the outbound request goes with it."""
    _check_open(issue, action="reply")
    last = _last_customer_message(issue)
    if last.channel == Channel.SMS:
        check_may_text(issue)
    if last.channel == Channel.SMS and len(text) > SMS_MAX_CHARS:
        raise BadRequest(f"A text message reply can be at most {SMS_MAX_CHARS} characters; this one has {len(text)}.")
    email = last.channel == Channel.EMAIL
    entry = Reply(
        entry_id=_entry_id(), at=at, text=text, author=actor, outbound_id=_outbound_id(), channel=last.channel,
        to_address=last.from_address, subject=reply_subject(last.subject) if email else None,
        delivery=Delivery(status=DeliveryState.QUEUED, at=at),
    )
    after = _evolve(issue, updated_at=at, first_response_at=issue.first_response_at or at,
                    timeline=[*issue.timeline, entry],
                    history=[*issue.history, _history(at=at, actor=actor, action=HistoryAction.REPLIED,
                                                      entry_id=entry.entry_id, outbound_id=entry.outbound_id)])
    outbound = OutboundMessageRequested(
        customer_id=issue.customer_id, outbound_id=entry.outbound_id, issue_id=issue.issue_id, channel=entry.channel,
        to_address=entry.to_address, text=text, subject=entry.subject,
        threading=reply_threading(last.threading) if email else None, requested_by=actor.id,
    )
    replied = IssueReplied(issue=snapshot(after), actor=actor, comment_id=entry.entry_id,
                           outbound_id=entry.outbound_id, text=text)
    return _announce(issue, after, [outbound, replied], cause)


def record_delivery(issue: Issue, event: Envelope[DeliveryStatusChanged], *, at: datetime) -> Change | None:
    """A reply's delivery status changed: show it on the reply (stale or repeated statuses change nothing)."""
    status = event.payload
    reply_entry = next((e for e in issue.timeline if isinstance(e, Reply) and e.outbound_id == status.outbound_id),
                       None)
    if reply_entry is None or not advances_delivery(current=reply_entry.delivery.status, new=status.status):
        return None
    delivery = Delivery(status=status.status, reason=status.reason, error_code=status.error_code,
                        at=_at_ms(status.at) if status.at else at)
    updated = reply_entry.model_copy(update={"delivery": delivery})
    after = _evolve(
        issue, timeline=[updated if e is reply_entry else e for e in issue.timeline],
        history=[*issue.history, _history(at=at, actor=None, action=HistoryAction.REPLY_STATUS_CHANGED,
                                          outbound_id=status.outbound_id, status=status.status,
                                          reason=status.reason)],
    )
    changed = IssueReplyStatusChanged(issue=snapshot(after), outbound_id=status.outbound_id,
                                      status=status.status.value, reason=status.reason)
    return _announce(issue, after, [changed], cause_of(event))


# --- the customer: name and label, SMS consent, a contact merged into a directory customer --------


def _customer_changed(before: Issue, after: Issue, *, change: CustomerChange, cause: Cause,
                      previous_customer_id: str | None = None) -> Change:
    """A change about the issue's customer; announced while the issue was open (the feed shows it live)."""
    payloads: list[EventPayload] = []
    if before.is_open:
        payloads.append(IssueCustomerChanged(issue=snapshot(after), change=change,
                                             previous_customer_id=previous_customer_id))
    return _announce(before, after, payloads, cause)


def rename_customer(issue: Issue, *, customer_name: str | None, customer_label: str, at: datetime,
                    cause: Cause) -> Change | None:
    """The customer has a new name or label (an unknown contact was named): shown on every one of their issues."""
    unknown_contact = issue.unknown_contact and not customer_name
    if (issue.customer_name, issue.customer_label, issue.unknown_contact) == (customer_name, customer_label,
                                                                                unknown_contact):
        return None
    after = _evolve(issue, customer_name=customer_name, customer_label=customer_label,
                    unknown_contact=unknown_contact)
    return _customer_changed(issue, after, change=CustomerChange.PROFILE, cause=cause)


def record_consent(issue: Issue, *, sms_opted_out_at: datetime | None, at: datetime, cause: Cause) -> Change | None:
    """The customer texted STOP (SMS replies refused from then on) or START (allowed again)."""
    opted_out_at = _at_ms(sms_opted_out_at) if sms_opted_out_at else None
    if issue.sms_opted_out_at == opted_out_at:
        return None
    after = _evolve(issue, sms_opted_out_at=opted_out_at)
    return _customer_changed(issue, after, change=CustomerChange.CONSENT, cause=cause)


def move_to_customer(issue: Issue, *, customer_id: str, customer_name: str | None, customer_label: str,
                     sms_opted_out_at: datetime | None, survivor: Issue | None, at: datetime,
                     cause: Cause) -> Change | None:
    """A contact merged into a directory customer: its issue becomes theirs, one open issue per customer kept.

    If the issue is open and the customer has an open issue already (`survivor`), it is closed with
    resolution "merged" pointing to that one: its messages stay where they are and show in the customer's
    past communication, and later messages go to the surviving issue.
    """
    if issue.customer_id == customer_id:
        return None
    previous = issue.customer_id
    fields: dict[str, Any] = dict(customer_id=customer_id, customer_name=customer_name,
                                  customer_label=customer_label, unknown_contact=False,
                                  sms_opted_out_at=_at_ms(sms_opted_out_at) if sms_opted_out_at else None)
    merged_into = survivor.issue_id if issue.is_open and survivor and survivor.issue_id != issue.issue_id else None
    if merged_into:
        fields.update(status=IssueStatus.CLOSED, closed_by=None, closed_at=at, resolution=MERGED,
                      merged_into_issue_id=merged_into, updated_at=at)
    history = _history(at=at, actor=None, action=HistoryAction.CUSTOMER_MERGED, previous_customer_id=previous,
                       merged_into_issue_id=merged_into, resolution=MERGED if merged_into else None)
    after = _evolve(issue, **fields, history=[*issue.history, history])
    return _customer_changed(issue, after, change=CustomerChange.MERGED, cause=cause, previous_customer_id=previous)


# --- search: the terms stored with each issue, and what a query asks of them --------------------

_WORD = re.compile(r"[^\W_]+")
MAX_TERM_CHARS = 64
MAX_TERMS = 2000
MAX_QUERY_TERMS = 8


def _fold(text: str) -> str:
    """Lower case without accents, so "José" and "jose" meet."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _words(text: str | None) -> list[str]:
    return [word[:MAX_TERM_CHARS] for word in _WORD.findall(_fold(text or ""))]


def phone_terms(address: str) -> list[str]:
    """A phone number's searchable forms: all its digits, the national number, and the number without area code."""
    digits = re.sub(r"\D", "", address)
    if len(digits) < 3:
        return []
    terms = [digits]
    try:
        parsed = phonenumbers.parse(address if address.startswith("+") else f"+{digits}", None)
    except phonenumbers.NumberParseException:
        return terms
    national = phonenumbers.national_significant_number(parsed)
    area = phonenumbers.length_of_national_destination_code(parsed)
    terms.append(national)
    if 0 < area < len(national):
        terms.append(national[area:])
    return terms


def search_terms_of(issue: Issue) -> list[str]:
    """What finds the issue: its number ("#12"), the customer's name and label, their phone and email, every word."""
    terms: list[str] = [f"#{issue.number}"] if issue.number else []
    terms += _words(issue.customer_name) + _words(issue.customer_label)
    texts: list[str | None] = []
    for entry in issue.timeline:
        if isinstance(entry, CustomerMessage):
            if entry.channel == Channel.SMS:
                terms += phone_terms(entry.from_address)
            else:
                terms.append(_fold(entry.from_address)[:MAX_TERM_CHARS])
                terms += _words(entry.from_address)
            texts.append(entry.subject)
        texts.append(entry.text)
    for text in texts:
        terms += _words(text)
    return list(dict.fromkeys(term for term in terms if term))[:MAX_TERMS]


def with_search_terms(issue: Issue) -> Issue:
    """The issue with its search terms brought up to date."""
    terms = search_terms_of(issue)
    return issue if terms == issue.search_terms else _evolve(issue, search_terms=terms)


def _number_or_phone(digits: str, *, hash_sign: bool) -> SearchTerm:
    number = f"#{int(digits)}"
    return SearchTerm(exact=number) if hash_sign else SearchTerm(prefix=digits, exact=number)


def search_query(text: str) -> list[SearchTerm]:
    """What a query asks: every one of its words must start a term of the issue (a number: "#12" or "12")."""
    folded = _fold(text).strip()
    compact = re.sub(r"[\s().+-]", "", folded)
    if re.fullmatch(r"#?\d+", compact):  # "12", "#12", "(415) 555-0123", "+1 415 555"
        return [_number_or_phone(compact.lstrip("#"), hash_sign=compact.startswith("#"))]
    terms: list[SearchTerm] = []
    for chunk in folded.split():
        if "@" in chunk:
            address = re.sub(r"[^\w.@+-]", "", chunk).strip(".")  # what an address can hold, nothing else
            terms += [SearchTerm(prefix=address[:MAX_TERM_CHARS])] if address else []
        elif re.fullmatch(r"#?[\d().+-]+", chunk) and any(ch.isdigit() for ch in chunk):
            terms.append(_number_or_phone(re.sub(r"\D", "", chunk), hash_sign=chunk.startswith("#")))
        else:
            terms += [SearchTerm(prefix=word) for word in _words(chunk)]
    return list(dict.fromkeys(terms))[:MAX_QUERY_TERMS]
