"""Issue rules: open or append, who may do what, acknowledgements, and the events announcing each change.

Every action is a pure function from the issue as stored to a `Change`: the fields to set, the
entries to add to its timeline and history, and the events announcing it. The store writes a
change and its events in one atomic update guarded by the issue's version, so a change is
decided on exactly the state it is written over.
"""

import hashlib
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from relay_contracts import Envelope, EventPayload, new_event
from relay_contracts.customer_messages import (
    Channel,
    DeliveryState,
    DeliveryStatusChanged,
    EmailThreading,
    InboundMessageReceived,
    OutboundMessageRequested,
)
from relay_contracts.issues import (
    IssueAssigned,
    IssueClosed,
    IssueCommentAdded,
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
from relay_kit.errors import BadRequest, Conflict, Forbidden, RelayError
from uuid6 import uuid7

PRODUCER = "issues"
NO_ACTION_NEEDED = "no action needed"
CLOSED = "closed"
SMS_MAX_CHARS = 1600  # Twilio's limit for one outbound message body
SUMMARY_CHARS = 200


class Unprocessable(RelayError):
    """The request is well formed but names something it cannot act on (an inactive assignee)."""

    status_code = 422
    code = "unprocessable"


@dataclass(frozen=True)
class Cause:
    """What led to a change: carried into its events as correlation and causation ids."""

    correlation_id: str | None = None
    causation_id: str | None = None


@dataclass
class Change:
    """A decided change to one issue: fields to set, entries to add, events announcing it."""

    set: dict[str, Any] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    applied_message_id: str | None = None
    events: list[Envelope[Any]] = field(default_factory=list)


# --- time and ids -------------------------------------------------------------------------------


def now() -> datetime:
    """The current UTC time at MongoDB's precision (milliseconds), so stored and computed values agree."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


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


def attention_of(issue: dict[str, Any]) -> tuple[bool, bool]:
    """(needs_attention, suggest_resolve) from the customer's messages since staff last replied."""
    if issue.get("status") == IssueStatus.CLOSED:
        return False, False
    pending: list[dict[str, Any]] = []
    for entry in issue.get("timeline", []):
        if entry["kind"] == "reply":
            pending = []
        elif entry["kind"] == "customer_message":
            pending.append(entry)
    if not pending:
        return False, False
    if all(entry.get("acknowledgement") for entry in pending):
        return False, True
    return True, False


# --- who may do what ----------------------------------------------------------------------------


def _label(issue: dict[str, Any]) -> str:
    return f"Issue #{issue['number']}" if issue.get("number") else "This issue"


def _assignee(issue: dict[str, Any]) -> dict[str, Any] | None:
    return issue.get("assignee")


def check_may_close(issue: dict[str, Any], *, staff: StaffRef) -> None:
    """An issue can be closed only if it is unassigned or assigned to the person closing it."""
    assignee = _assignee(issue)
    if issue["status"] == IssueStatus.ASSIGNED and assignee and assignee["id"] != staff.id:
        raise Forbidden(
            f"{_label(issue)} is assigned to {assignee['name']}; only they can close it. "
            "Ask them, or have it assigned to you first.",
            code="not_assignee",
        )


def _check_open(issue: dict[str, Any], *, action: str) -> None:
    if issue["status"] == IssueStatus.CLOSED:
        closer = (issue.get("closed_by") or {}).get("name")
        by = f" by {closer}" if closer else ""
        raise Conflict(f"{_label(issue)} was closed{by}; reopen it to {action}.", code="issue_closed")


def actions_for(issue: dict[str, Any], *, staff_id: str) -> list[str]:
    """What this staff member can do with the issue now, in the order the UI should offer it."""
    if issue["status"] == IssueStatus.CLOSED:
        return ["reopen", "comment"]
    assignee = _assignee(issue)
    mine_or_free = issue["status"] == IssueStatus.UNASSIGNED or (assignee and assignee["id"] == staff_id)
    actions = ["assign"]
    if issue["status"] == IssueStatus.UNASSIGNED:
        actions.append("take")
    if mine_or_free:
        actions += ["close", "resolve"]
    actions += ["comment", "reply"]
    _, suggest_resolve = attention_of(issue)
    if suggest_resolve and "resolve" in actions:
        actions.remove("resolve")
        actions.insert(0, "resolve")
    return actions


# --- the snapshot every event carries -----------------------------------------------------------


def snapshot(issue: dict[str, Any]) -> IssueSnapshot:
    """The issue as the feed shows it: status colour data, names and attention flags."""
    needs_attention, suggest_resolve = attention_of(issue)
    return IssueSnapshot(
        issue_id=issue["_id"],
        number=issue.get("number"),
        customer_id=issue["customer_id"],
        customer_name=issue.get("customer_name"),
        channel=issue["channel"],
        status=issue["status"],
        assignee=_ref(issue.get("assignee")),
        closed_by=_ref(issue.get("closed_by")),
        resolution=issue.get("resolution"),
        summary=issue.get("summary", ""),
        opened_at=_aware(issue["opened_at"]),
        updated_at=_aware(issue["updated_at"]),
        message_count=issue.get("message_count", 1),
        needs_attention=needs_attention,
        suggest_resolve=suggest_resolve,
        first_response_at=_aware(issue.get("first_response_at")),
        closed_at=_aware(issue.get("closed_at")),
    )


def _ref(value: dict[str, Any] | None) -> StaffRef | None:
    return StaffRef(id=value["id"], name=value["name"]) if value else None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def after(issue: dict[str, Any], change: Change) -> dict[str, Any]:
    """The issue as it will be once the change is written (used to announce it)."""
    result = {**issue, "timeline": list(issue.get("timeline", [])), "history": list(issue.get("history", []))}
    for path, value in change.set.items():
        _set_path(result, path, value)
    result["timeline"] += change.timeline
    result["history"] += change.history
    return result


def _set_path(document: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    target: Any = document
    for part in parts[:-1]:
        if isinstance(target, list):
            target[int(part)] = dict(target[int(part)])
            target = target[int(part)]
        else:
            target[part] = dict(target[part]) if isinstance(target.get(part), dict) else target.get(part, {})
            target = target[part]
    target[parts[-1]] = value


def _announce(issue: dict[str, Any], change: Change, payloads: list[EventPayload], cause: Cause) -> Change:
    """Fill a change's events from payload builders that need the issue as it will be."""
    for payload in payloads:
        change.events.append(new_event(payload, tenant_id=issue["tenant_id"], producer=PRODUCER,
                                       correlation_id=cause.correlation_id, causation_id=cause.causation_id))
    return change


def _history(*, at: datetime, actor: StaffRef | None, action: str, **detail: Any) -> dict[str, Any]:
    return {"at": at, "actor": actor.model_dump() if actor else None, "action": action,
            "detail": {k: v for k, v in detail.items() if v is not None}}


# --- customer messages: open or append ----------------------------------------------------------


def _customer_entry(message: InboundMessageReceived, *, at: datetime) -> dict[str, Any]:
    return {
        "entry_id": _entry_id(),
        "kind": "customer_message",
        "at": at,
        "private": False,
        "text": message.text,
        "channel": message.channel.value,
        "provider": message.provider,
        "from_address": message.from_address,
        "to_address": message.to_address,
        "subject": message.subject,
        "attachments": [a.model_dump() for a in message.attachments],
        "threading": message.threading.model_dump() if message.threading else None,
        "inbound_message_id": message.message_id,
        "acknowledgement": is_acknowledgement(message.text),
    }


def _summary(message: InboundMessageReceived) -> str:
    text = " ".join(message.text.split())
    if not text and message.attachments:
        text = f"[{len(message.attachments)} attachment{'s' if len(message.attachments) > 1 else ''}]"
    return text[:SUMMARY_CHARS]


def _cause_of(event: Envelope[Any]) -> Cause:
    return Cause(correlation_id=event.correlation_id, causation_id=str(event.event_id))


def open_issue(
    event: Envelope[InboundMessageReceived], *, number: int, at: datetime
) -> tuple[dict[str, Any], list[Envelope[Any]]]:
    """A new issue opened by a customer's message, and the IssueOpened event announcing it."""
    message = event.payload
    received_at = _at_ms(message.received_at)
    issue = {
        "_id": issue_id_for(tenant_id=event.tenant_id, opening_message_id=message.message_id),
        "tenant_id": event.tenant_id,
        "customer_id": message.customer_id,
        "customer_name": message.customer_name,
        "unknown_contact": bool(getattr(message, "unknown_contact", False)),
        "number": number,
        "channel": message.channel.value,
        "status": IssueStatus.UNASSIGNED.value,
        "is_open": True,
        "assignee": None,
        "closed_by": None,
        "resolution": None,
        "summary": _summary(message),
        "message_count": 1,
        "opened_at": received_at,
        "updated_at": at,
        "first_response_at": None,
        "closed_at": None,
        "applied_message_ids": [message.message_id],
        "timeline": [_customer_entry(message, at=received_at)],
        "history": [_history(at=at, actor=None, action="opened", inbound_message_id=message.message_id)],
        "version": 1,
    }
    opened = new_event(
        IssueOpened(issue=snapshot(issue), inbound_message_id=message.message_id, text=message.text,
                    received_at=message.received_at),
        tenant_id=event.tenant_id, producer=PRODUCER, correlation_id=event.correlation_id,
        causation_id=str(event.event_id),
    )
    return issue, [opened]


def append_message(issue: dict[str, Any], event: Envelope[InboundMessageReceived], *, at: datetime) -> Change:
    """A further message from the customer, appended to their open issue as a comment."""
    message = event.payload
    received_at = _at_ms(message.received_at)
    change = Change(
        set={"updated_at": at, "summary": _summary(message), "message_count": issue.get("message_count", 1) + 1,
             "channel": message.channel.value},
        timeline=[_customer_entry(message, at=received_at)],
        history=[_history(at=at, actor=None, action="message_appended", inbound_message_id=message.message_id)],
        applied_message_id=message.message_id,
    )
    if message.customer_name:
        change.set["customer_name"] = message.customer_name
    appended = IssueMessageAppended(issue=snapshot(after(issue, change)), inbound_message_id=message.message_id,
                                    text=message.text, received_at=message.received_at)
    return _announce(issue, change, [appended], _cause_of(event))


# --- staff actions ------------------------------------------------------------------------------


def _comment_entry(*, text: str, author: StaffRef, at: datetime) -> dict[str, Any]:
    return {"entry_id": _entry_id(), "kind": "private_comment", "at": at, "private": True, "text": text,
            "author": author.model_dump()}


def assign(issue: dict[str, Any], *, actor: StaffRef, assignee: StaffRef, comment: str | None, at: datetime,
           cause: Cause) -> Change | None:
    """Assign It: give the issue to a staff member of the tenant, with an optional private comment."""
    _check_open(issue, action="assign it")
    current = _assignee(issue)
    change = Change(set={"updated_at": at})
    payloads: list[Any] = []
    if not (current and current["id"] == assignee.id):
        change.set.update({"status": IssueStatus.ASSIGNED.value, "assignee": assignee.model_dump()})
        change.history.append(_history(at=at, actor=actor, action="assigned", assignee=assignee.model_dump(),
                                       previous=current))
    if comment:
        entry = _comment_entry(text=comment, author=actor, at=at)
        change.timeline.append(entry)
        change.history.append(_history(at=at, actor=actor, action="comment_added", entry_id=entry["entry_id"]))
    if not change.history:
        return None  # already assigned to them, nothing to add
    future = snapshot(after(issue, change))
    if "assignee" in change.set:
        payloads.append(IssueAssigned(issue=future, actor=actor))
    for entry in change.timeline:
        payloads.append(IssueCommentAdded(issue=future, actor=actor, comment_id=entry["entry_id"], text=entry["text"]))
    return _announce(issue, change, payloads, cause)


def take(issue: dict[str, Any], *, actor: StaffRef, at: datetime, cause: Cause) -> Change | None:
    """Take It: assign an unassigned issue to myself (already mine: nothing to do)."""
    _check_open(issue, action="take it")
    current = _assignee(issue)
    if issue["status"] == IssueStatus.ASSIGNED and current:
        if current["id"] == actor.id:
            return None
        raise Conflict(f"{_label(issue)} is already assigned to {current['name']}; use Assign It to reassign it.",
                       code="already_assigned")
    change = Change(
        set={"status": IssueStatus.ASSIGNED.value, "assignee": actor.model_dump(), "updated_at": at},
        history=[_history(at=at, actor=actor, action="taken", assignee=actor.model_dump())],
    )
    return _announce(issue, change, [IssueAssigned(issue=snapshot(after(issue, change)), actor=actor)], cause)


def close(
    issue: dict[str, Any], *, actor: StaffRef, at: datetime, cause: Cause, resolve: bool = False
) -> Change | None:
    """Mark as Closed (or Resolve: "no action needed"), only if unassigned or assigned to me."""
    resolution = NO_ACTION_NEEDED if resolve else CLOSED
    if issue["status"] == IssueStatus.CLOSED:
        closer = issue.get("closed_by") or {}
        if closer.get("id") == actor.id and issue.get("resolution") == resolution:
            return None  # the same person closing it the same way again
        raise Conflict(f"{_label(issue)} was already closed by {closer.get('name', 'someone')}.", code="issue_closed")
    check_may_close(issue, staff=actor)
    change = Change(
        set={"status": IssueStatus.CLOSED.value, "is_open": False, "closed_by": actor.model_dump(),
             "closed_at": at, "resolution": resolution, "updated_at": at},
        history=[_history(at=at, actor=actor, action="resolved" if resolve else "closed", resolution=resolution)],
    )
    future = snapshot(after(issue, change))
    payload = IssueResolved(issue=future, actor=actor) if resolve else IssueClosed(issue=future, actor=actor)
    return _announce(issue, change, [payload], cause)


def reopen(issue: dict[str, Any], *, actor: StaffRef, at: datetime, cause: Cause) -> Change:
    """Reopen a closed issue: back to its assignee, or unassigned."""
    if issue["status"] != IssueStatus.CLOSED:
        raise Conflict(f"{_label(issue)} is open already.", code="issue_open")
    status = IssueStatus.ASSIGNED if _assignee(issue) else IssueStatus.UNASSIGNED
    change = Change(
        set={"status": status.value, "is_open": True, "closed_by": None, "closed_at": None, "resolution": None,
             "updated_at": at},
        history=[_history(at=at, actor=actor, action="reopened")],
    )
    return _announce(issue, change, [IssueReopened(issue=snapshot(after(issue, change)), actor=actor)], cause)


def add_private_comment(issue: dict[str, Any], *, actor: StaffRef, text: str, at: datetime, cause: Cause) -> Change:
    """A private comment: staff only, never sent to the customer."""
    entry = _comment_entry(text=text, author=actor, at=at)
    change = Change(
        set={"updated_at": at}, timeline=[entry],
        history=[_history(at=at, actor=actor, action="comment_added", entry_id=entry["entry_id"])],
    )
    future = snapshot(after(issue, change))
    return _announce(issue, change, [IssueCommentAdded(issue=future, actor=actor, comment_id=entry["entry_id"],
                                                       text=text)], cause)


def reply_subject(subject: str | None) -> str:
    """The subject of an email reply: "Re: " once, in front of the customer's subject."""
    subject = " ".join((subject or "").split())
    if not subject:
        return "Re: your message"
    return subject if re.match(r"(?i)^re\s*:", subject) else f"Re: {subject}"


def reply_threading(threading: dict[str, Any] | None) -> EmailThreading | None:
    """Headers that thread a reply under the customer's last email (In-Reply-To and the References chain)."""
    if not threading or not threading.get("message_id"):
        return None
    references = [r for r in threading.get("references") or [] if r]
    if threading["message_id"] not in references:
        references.append(threading["message_id"])
    return EmailThreading(in_reply_to=threading["message_id"], references=references)


def _last_customer_message(issue: dict[str, Any]) -> dict[str, Any]:
    for entry in reversed(issue.get("timeline", [])):
        if entry["kind"] == "customer_message":
            return entry
    raise Conflict(f"{_label(issue)} has no customer message to reply to.", code="nothing_to_reply_to")


def reply(issue: dict[str, Any], *, actor: StaffRef, text: str, at: datetime, cause: Cause) -> Change:
    """Reply to the customer on the channel and address they last used; the outbound request goes with it."""
    _check_open(issue, action="reply")
    last = _last_customer_message(issue)
    channel = Channel(last["channel"])
    if channel == Channel.SMS and len(text) > SMS_MAX_CHARS:
        raise BadRequest(f"A text message reply can be at most {SMS_MAX_CHARS} characters; this one has {len(text)}.")
    subject = reply_subject(last.get("subject")) if channel == Channel.EMAIL else None
    threading = reply_threading(last.get("threading")) if channel == Channel.EMAIL else None
    outbound_id = _outbound_id()
    entry = {
        "entry_id": _entry_id(), "kind": "reply", "at": at, "private": False, "text": text,
        "author": actor.model_dump(), "outbound_id": outbound_id, "channel": channel.value,
        "to_address": last["from_address"], "subject": subject,
        "delivery": {"status": DeliveryState.QUEUED.value, "reason": None, "error_code": None, "at": at},
    }
    change = Change(
        set={"updated_at": at}, timeline=[entry],
        history=[_history(at=at, actor=actor, action="replied", entry_id=entry["entry_id"], outbound_id=outbound_id)],
    )
    if not issue.get("first_response_at"):
        change.set["first_response_at"] = at
    outbound = OutboundMessageRequested(
        customer_id=issue["customer_id"], outbound_id=outbound_id, issue_id=issue["_id"], channel=channel,
        to_address=last["from_address"], text=text, subject=subject, threading=threading, requested_by=actor.id,
    )
    replied = IssueReplied(issue=snapshot(after(issue, change)), actor=actor, comment_id=entry["entry_id"],
                           outbound_id=outbound_id, text=text)
    return _announce(issue, change, [outbound, replied], cause)


_DELIVERY_RANK = {
    DeliveryState.QUEUED: 0, DeliveryState.SENDING: 1, DeliveryState.SENT: 2, DeliveryState.DELIVERED: 3,
    DeliveryState.UNDELIVERED: 4, DeliveryState.FAILED: 4, DeliveryState.BOUNCED: 4, DeliveryState.REFUSED: 4,
}


def delivery_supersedes(*, current: str | None, new: DeliveryState) -> bool:
    """Whether a delivery status moves a reply forward (callbacks can arrive late or twice)."""
    if current is None:
        return True
    if current == new.value:
        return False
    return _DELIVERY_RANK[new] >= _DELIVERY_RANK[DeliveryState(current)]


def record_delivery(issue: dict[str, Any], event: Envelope[DeliveryStatusChanged], *, at: datetime) -> Change | None:
    """A reply's delivery status changed: show it on the reply (stale or repeated statuses change nothing)."""
    status = event.payload
    for index, entry in enumerate(issue.get("timeline", [])):
        if entry.get("outbound_id") == status.outbound_id:
            break
    else:
        return None
    if not delivery_supersedes(current=(entry.get("delivery") or {}).get("status"), new=status.status):
        return None
    delivery = {"status": status.status.value, "reason": status.reason, "error_code": status.error_code,
                "at": _at_ms(status.at) if status.at else at}
    change = Change(
        set={f"timeline.{index}.delivery": delivery},
        history=[_history(at=at, actor=None, action="reply_status_changed", outbound_id=status.outbound_id,
                          status=status.status.value, reason=status.reason)],
    )
    changed = IssueReplyStatusChanged(issue=snapshot(after(issue, change)), outbound_id=status.outbound_id,
                                      status=status.status.value, reason=status.reason)
    return _announce(issue, change, [changed], _cause_of(event))
