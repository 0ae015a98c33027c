"""The envelope: round trips, tolerance of newer producers, rejection of incomplete events."""

import json
from datetime import UTC, datetime
from uuid import UUID

import pytest

from relay_contracts import InvalidEvent, new_event, parse_event, registered_event_types
from relay_contracts.customer_messages import Channel, InboundMessageReceived
from relay_contracts.topics import ALL_TOPICS, INBOUND_MESSAGES, customer_key


def _inbound() -> InboundMessageReceived:
    return InboundMessageReceived(
        customer_id="cus_1", message_id="msg_1", channel=Channel.SMS, provider="twilio",
        provider_message_id="SM1", from_address="+14155550101", to_address="+15550100000",
        text="Is my suit ready?", received_at=datetime.now(UTC),
    )


def test_event_round_trips_through_bytes_with_its_payload_type() -> None:
    event = new_event(_inbound(), tenant_id="demo", producer="ingest")
    decoded = parse_event(event.to_bytes())
    assert decoded == event
    assert isinstance(decoded.payload, InboundMessageReceived)
    assert decoded.topic is INBOUND_MESSAGES
    assert decoded.key == customer_key(tenant_id="demo", customer_id="cus_1")


def test_event_ids_are_time_ordered_uuid7() -> None:
    first, second = (new_event(_inbound(), tenant_id="demo", producer="ingest") for _ in range(2))
    assert UUID(str(first.event_id)).version == 7
    assert str(first.event_id) < str(second.event_id)
    assert first.correlation_id == str(first.event_id)


def test_causation_and_correlation_are_carried() -> None:
    cause = new_event(_inbound(), tenant_id="demo", producer="ingest")
    effect = new_event(_inbound(), tenant_id="demo", producer="issues",
                       correlation_id=cause.correlation_id, causation_id=str(cause.event_id))
    decoded = parse_event(effect.to_bytes())
    assert decoded.correlation_id == cause.correlation_id
    assert decoded.causation_id == str(cause.event_id)


def test_unknown_fields_from_a_newer_producer_are_tolerated() -> None:
    raw = json.loads(new_event(_inbound(), tenant_id="demo", producer="ingest").to_bytes())
    raw["shard_hint"] = 7
    raw["payload"]["sentiment"] = "worried"
    decoded = parse_event(json.dumps(raw).encode())
    assert decoded.payload.text == "Is my suit ready?"


@pytest.mark.parametrize("path", [("tenant_id",), ("payload", "customer_id"), ("payload", "text"), ("event_id",)])
def test_a_missing_required_field_is_rejected_with_its_name(path: tuple[str, ...]) -> None:
    raw = json.loads(new_event(_inbound(), tenant_id="demo", producer="ingest").to_bytes())
    target = raw
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    with pytest.raises(InvalidEvent, match=path[-1]):
        parse_event(json.dumps(raw).encode())


@pytest.mark.parametrize("raw", [b"not json", b"{}", b"[]", b'{"type": "x"}'])
def test_garbage_is_an_invalid_event(raw: bytes) -> None:
    with pytest.raises(InvalidEvent):
        parse_event(raw)


def test_unknown_event_type_is_rejected() -> None:
    raw = json.loads(new_event(_inbound(), tenant_id="demo", producer="ingest").to_bytes())
    raw["type"] = "inbound.message.teleported"
    with pytest.raises(InvalidEvent, match="unknown event type"):
        parse_event(json.dumps(raw).encode())


def test_every_registered_event_names_a_known_topic() -> None:
    topics = {t.name for t in ALL_TOPICS}
    types = registered_event_types()
    assert {"inbound.message.received", "outbound.message.requested", "delivery.status.changed",
            "issue.opened", "issue.message_appended", "issue.assigned", "issue.comment_added", "issue.replied",
            "issue.closed", "issue.resolved", "chat.message_posted", "chat.membership_changed",
            "chat.read_marker_moved", "staff.account_saved"} <= set(types)
    assert all(cls.topic.name in topics for cls in types.values())
