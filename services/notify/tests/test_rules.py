"""Notify's rules without sockets: the catch-up buffer's bounds, presence expiry, unread following, throttling."""

import time
from collections import deque
from datetime import UTC, datetime

from relay_contracts import new_event
from relay_contracts.chat import (
    ChatMessage,
    ChatMessageDeleted,
    ChatMessagePosted,
    ConversationKind,
    ConversationRef,
    PresenceStatus,
    ReadMarkerMoved,
)
from relay_contracts.customer_messages import Channel
from relay_contracts.issues import (
    IssueAssigned,
    IssueMessageAppended,
    IssueOpened,
    IssueSnapshot,
    IssueStatus,
    StaffRef,
)
from relay_notify import domain
from relay_notify.models import ChatUnread

ME, OTHER = StaffRef(id="me", name="Me"), StaffRef(id="other", name="Other")
CONVERSATION = ConversationRef(conversation_id="c1", kind=ConversationKind.CHANNEL, name="general")


def _posted(seq: int, author: StaffRef = OTHER):
    message = ChatMessage(message_id=f"m{seq}", seq=seq, author=author, text="hi", posted_at=datetime.now(UTC))
    return new_event(ChatMessagePosted(conversation=CONVERSATION, audience=["me", "other"], message=message),
                     tenant_id="t", producer="chat")


def test_catch_up_replays_only_what_the_person_may_see_and_forgets_beyond_its_bounds() -> None:
    buffer = domain.CatchUpBuffer(capacity=3, max_age_seconds=60, complete_since_millis=0)
    events = [_posted(n) for n in range(1, 6)]
    now = time.monotonic()
    for index, event in enumerate(events):
        buffer.add(event_id=event.event_id, text=f"e{index}", audience=["me"] if index != 3 else ["other"], now=now)
    assert buffer.since(events[2].event_id, staff_id="me") == ["e4"]  # e3 is not for me
    assert buffer.since(events[0].event_id, staff_id="me") is None   # evicted: reload
    buffer.trim(now=now + 61)
    assert buffer.entries == deque() and buffer.since(events[4].event_id, staff_id="me") is None


def test_presence_is_the_best_of_all_replicas_and_expires_with_a_silent_replica() -> None:
    book = domain.PresenceBook()
    assert book.set("t", "me", replica_id="a", status=PresenceStatus.AWAY, expires_at=None) == PresenceStatus.AWAY
    assert book.set("t", "me", replica_id="b", status=PresenceStatus.ONLINE, expires_at=10.0) == PresenceStatus.ONLINE
    assert book.expire(now=5.0) == []
    assert book.expire(now=11.0) == [("t", "me", PresenceStatus.AWAY)]
    changes = book.heartbeat("t", replica_id="b", statuses={"other": PresenceStatus.ONLINE}, expires_at=20.0)
    assert changes == [("other", PresenceStatus.ONLINE)]
    assert book.heartbeat("t", replica_id="b", statuses={}, expires_at=30.0) == [("other", PresenceStatus.OFFLINE)]
    assert book.snapshot("t") == {"me": "away"}


def test_unread_follows_posts_reads_and_asks_again_when_events_cannot_say() -> None:
    projection = domain.UnreadProjection(staff_id="me")
    assert projection.apply(_posted(1)) == set()  # not loaded yet: kept for after the load
    assert projection.load(ChatUnread.model_validate({"conversations": [{
        "conversation_id": "c1", "unread_count": 0, "last_seq": 0, "read_up_to_seq": 0}]})) == {"c1"}
    assert projection.conversations["c1"].unread == 1
    assert projection.apply(_posted(1)) == set()  # the same message twice counts once
    projection.apply(_posted(2))
    assert (projection.total, projection.conversations["c1"].first_unread_seq) == (2, 1)
    projection.apply(_posted(3, author=ME))
    assert projection.total == 0
    projection.apply(_posted(4))
    read = new_event(ReadMarkerMoved(conversation=CONVERSATION, audience=["me"], staff_id="me", read_up_to_seq=4,
                                     unread_count=0, total_unread=0, last_seq=4), tenant_id="t", producer="chat")
    assert projection.apply(read) == {"c1"} and projection.total == 0
    projection.apply(_posted(5))
    deleted = new_event(ChatMessageDeleted(conversation=CONVERSATION, audience=["me"], message_id="m5", seq=5,
                                           actor=OTHER, author_id="other"), tenant_id="t", producer="chat")
    assert projection.apply(deleted) == "reload"


def test_typing_is_throttled_per_person_and_conversation() -> None:
    throttle = domain.TypingThrottle(interval_seconds=3)
    key = ("t", "me", "c1")
    assert throttle.allow(key, now=0.0) and not throttle.allow(key, now=2.9) and throttle.allow(key, now=3.1)
    assert throttle.allow(("t", "me", "c2"), now=3.2)
    throttle.reset(key)
    assert throttle.allow(key, now=3.3)


def _said(text: str, *, conversation: ConversationRef, mentions: list[str] | None = None):
    message = ChatMessage(message_id="m9", seq=9, author=OTHER, text=text, posted_at=datetime.now(UTC),
                          mentions=mentions or [])
    return new_event(ChatMessagePosted(conversation=conversation, audience=["me", "other"], message=message),
                     tenant_id="t", producer="chat")


def test_a_toast_says_what_attention_it_asks_for() -> None:
    private = ConversationRef(conversation_id="p1", kind=ConversationKind.PRIVATE, name="Me, Other",
                              participants=[ME, OTHER])
    kinds = [domain.chat_toast(event, viewer="me").attention for event in (
        _said("lunch?", conversation=CONVERSATION), _said("@me look", conversation=CONVERSATION, mentions=["me"]),
        _said("a word", conversation=private), _said("@me here", conversation=private, mentions=["me"]))]
    assert kinds == ["chat", "mention", "private_message", "mention"]
    assert domain.chat_toast(_said("mine", conversation=CONVERSATION), viewer="other") is None

    now = datetime.now(UTC)
    unknown = IssueSnapshot(issue_id="iss_9", customer_id="cus_f754c4cdd21548ce", channel=Channel.SMS,
                            status=IssueStatus.UNASSIGNED, opened_at=now, updated_at=now)
    opened = domain.issue_toast(new_event(IssueOpened(issue=unknown, inbound_message_id="in", text="hi"),
                                          tenant_id="t", producer="issues"), viewer="me")
    assert (opened.title, opened.attention) == ("New message from a customer", "customer_issue")
    labelled = unknown.model_copy(update={"customer_label": "(415) 555-0123"})
    again = domain.issue_toast(new_event(IssueMessageAppended(issue=labelled, inbound_message_id="in2", text="?"),
                                         tenant_id="t", producer="issues"), viewer="me")
    assert (again.title, again.attention) == ("(415) 555-0123 wrote again", "customer_issue")
    given = labelled.model_copy(update={"status": IssueStatus.ASSIGNED, "assignee": ME})
    assigned = domain.issue_toast(new_event(IssueAssigned(issue=given, actor=OTHER), tenant_id="t",
                                            producer="issues"), viewer="me")
    assert (assigned.title, assigned.attention) == ("Other assigned you (415) 555-0123's issue", "mention")
    assert "cus_" not in opened.title + again.title + assigned.title
