"""Chat, presence and typing events: round trips, partition keys, and compatibility with older producers."""

import json
from datetime import UTC, datetime

import pytest

from relay_contracts import InvalidEvent, new_event, parse_event
from relay_contracts.chat import (
    ChatMessage,
    ChatMessageDeleted,
    ChatMessageEdited,
    ChatMessagePosted,
    ConversationCreated,
    ConversationKind,
    ConversationRef,
    ConversationUpdated,
    MembershipChange,
    MembershipChanged,
    PresenceChanged,
    PresenceHeartbeat,
    PresenceStatus,
    ReadingPositionSaved,
    ReadMarkerMoved,
    TypingNotified,
    TypingState,
)
from relay_contracts.issues import StaffRef
from relay_contracts.topics import ALL_TOPICS, CHAT_EVENTS, PRESENCE_EVENTS, conversation_key, presence_key

ALICE = StaffRef(id="stf_a", name="Alice Martin")
BOB = StaffRef(id="stf_b", name="Bob Chen")
CHANNEL = ConversationRef(conversation_id="cnv_1", kind=ConversationKind.CHANNEL, name="general")
PRIVATE = ConversationRef(conversation_id="cnv_2", kind=ConversationKind.PRIVATE, name="Alice Martin, Bob Chen",
                          is_private=True, participants=[ALICE, BOB])
MESSAGE = ChatMessage(message_id="msg_1", seq=3, author=ALICE, text="hi @bob", mentions=["stf_b"],
                      reply_to="msg_0", reply_to_seq=2, posted_at=datetime.now(UTC),
                      attachments=[{"url": "https://f.example/a.jpg", "name": "a.jpg", "content_type": "image/jpeg"}])

CHAT_PAYLOADS = [
    ChatMessagePosted(conversation=PRIVATE, audience=["stf_a", "stf_b"], message=MESSAGE),
    ChatMessageEdited(conversation=CHANNEL, audience=["stf_a"], message=MESSAGE),
    ChatMessageDeleted(conversation=CHANNEL, audience=["stf_a"], message_id="msg_1", seq=3, actor=ALICE,
                       author_id="stf_a"),
    ConversationCreated(conversation=CHANNEL, audience=["stf_a"], actor=ALICE),
    ConversationUpdated(conversation=CHANNEL, audience=["stf_a"], actor=ALICE),
    MembershipChanged(conversation=CHANNEL, audience=["stf_a", "stf_b"], member=BOB, change=MembershipChange.ADDED,
                      actor=ALICE),
    ReadMarkerMoved(conversation=CHANNEL, audience=["stf_b"], staff_id="stf_b", read_up_to_seq=3, unread_count=0,
                    total_unread=2, last_seq=3, first_unread_seq=None),
    ReadingPositionSaved(conversation=CHANNEL, audience=["stf_b"], staff_id="stf_b", seq=3),
]
PRESENCE_PAYLOADS = [
    PresenceChanged(replica_id="r1", staff=ALICE, status=PresenceStatus.AWAY),
    PresenceHeartbeat(replica_id="r1", statuses={"stf_a": PresenceStatus.ONLINE}),
    TypingNotified(replica_id="r1", conversation_id="cnv_1", staff=ALICE, state=TypingState.STOP,
                   audience=["stf_b"]),
]


@pytest.mark.parametrize("payload", CHAT_PAYLOADS, ids=lambda p: p.event_type)
def test_chat_events_round_trip_on_the_chat_topic_keyed_by_conversation(payload) -> None:
    event = new_event(payload, tenant_id="demo", producer="chat")
    decoded = parse_event(event.to_bytes())
    assert decoded == event and type(decoded.payload) is type(payload)
    assert decoded.topic is CHAT_EVENTS
    assert decoded.key == conversation_key(tenant_id="demo", conversation_id=payload.conversation.conversation_id)


@pytest.mark.parametrize("payload", PRESENCE_PAYLOADS, ids=lambda p: p.event_type)
def test_presence_and_typing_round_trip_on_their_own_topic_keyed_by_tenant(payload) -> None:
    event = new_event(payload, tenant_id="demo", producer="notify")
    decoded = parse_event(event.to_bytes())
    assert decoded == event
    assert decoded.topic is PRESENCE_EVENTS and PRESENCE_EVENTS in ALL_TOPICS
    assert decoded.key == presence_key(tenant_id="demo")


def test_an_older_producer_without_the_newer_optional_fields_is_understood() -> None:
    raw = json.loads(new_event(CHAT_PAYLOADS[0], tenant_id="demo", producer="chat").to_bytes())
    for field in ("reply_to_seq", "client_message_id"):
        raw["payload"]["message"].pop(field)
    raw["payload"]["conversation"].pop("participants")
    decoded = parse_event(json.dumps(raw))
    assert decoded.payload.message.reply_to_seq is None and decoded.payload.conversation.participants == []

    marker = json.loads(new_event(CHAT_PAYLOADS[6], tenant_id="demo", producer="chat").to_bytes())
    for field in ("last_seq", "first_unread_seq"):
        marker["payload"].pop(field)
    assert parse_event(json.dumps(marker)).payload.last_seq is None


def test_a_chat_event_missing_its_message_or_with_a_bad_seq_is_rejected() -> None:
    raw = json.loads(new_event(CHAT_PAYLOADS[0], tenant_id="demo", producer="chat").to_bytes())
    raw["payload"]["message"]["seq"] = 0
    with pytest.raises(InvalidEvent, match="seq"):
        parse_event(json.dumps(raw))
    del raw["payload"]["message"]
    with pytest.raises(InvalidEvent, match="message"):
        parse_event(json.dumps(raw))
    typing = json.loads(new_event(PRESENCE_PAYLOADS[2], tenant_id="demo", producer="notify").to_bytes())
    typing["payload"]["state"] = "dancing"
    with pytest.raises(InvalidEvent, match="state"):
        parse_event(json.dumps(typing))
