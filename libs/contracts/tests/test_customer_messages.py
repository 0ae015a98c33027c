"""Customer message events: round trips, and compatibility with producers older and newer than us."""

from datetime import UTC, datetime

import pytest

from relay_contracts import InvalidEvent, new_event, parse_event
from relay_contracts.customer_messages import (
    Attachment,
    Channel,
    DeliveryState,
    DeliveryStatusChanged,
    EmailThreading,
    InboundMessageReceived,
    OutboundMessageRequested,
)


def _inbound(**overrides) -> InboundMessageReceived:
    fields = dict(
        customer_id="cus_jane", message_id="msg_1", customer_name="Jane Doe", channel=Channel.EMAIL,
        provider="mailgun", provider_message_id="<m1@example.com>", from_address="jane@example.com",
        to_address="help@shop.example", subject="Coat", text="Is it ready?",
        attachments=[Attachment(url="/api/customers/cus_jane/attachments/att_1", content_type="image/png",
                                filename="stain.png", size=42)],
        threading=EmailThreading(message_id="<m1@example.com>", in_reply_to="<r@shop.example>",
                                 references=["<r@shop.example>"]),
        received_at=datetime(2026, 11, 24, 10, 0, tzinfo=UTC), unknown_contact=True,
    )
    return InboundMessageReceived(**{**fields, **overrides})


def test_inbound_message_round_trips_with_its_threading_and_attachments() -> None:
    event = new_event(_inbound(), tenant_id="demo", producer="ingest")
    parsed = parse_event(event.to_bytes())
    assert parsed.payload == event.payload
    assert parsed.key == b"demo:cus_jane"
    assert parsed.topic.name == "inbound.messages"


def test_inbound_message_from_an_older_producer_has_no_unknown_contact_flag() -> None:
    event = new_event(_inbound(), tenant_id="demo", producer="ingest").to_document()
    del event["payload"]["unknown_contact"]
    assert parse_event(event).payload.unknown_contact is False


def test_fields_added_by_a_newer_producer_are_ignored_and_missing_required_ones_rejected() -> None:
    event = new_event(_inbound(), tenant_id="demo", producer="ingest").to_document()
    event["payload"]["sentiment"] = "happy"
    assert parse_event(event).payload.text == "Is it ready?"
    del event["payload"]["received_at"]
    with pytest.raises(InvalidEvent, match="received_at"):
        parse_event(event)


def test_delivery_status_round_trips_and_names_its_channel() -> None:
    payload = DeliveryStatusChanged(customer_id="cus_jane", outbound_id="out_1", issue_id="iss_1",
                                    status=DeliveryState.REFUSED, reason="opted out", channel=Channel.SMS)
    parsed = parse_event(new_event(payload, tenant_id="demo", producer="ingest").to_bytes())
    assert parsed.payload == payload and parsed.topic.name == "delivery.status"
    older = new_event(payload, tenant_id="demo", producer="ingest").to_document()
    del older["payload"]["channel"]
    assert parse_event(older).payload.channel is None


def test_outbound_request_round_trips() -> None:
    payload = OutboundMessageRequested(customer_id="cus_jane", outbound_id="out_1", issue_id="iss_1",
                                       channel=Channel.SMS, to_address="+14155550101", text="Ready!",
                                       requested_by="stf_1")
    parsed = parse_event(new_event(payload, tenant_id="demo", producer="issues").to_bytes())
    assert parsed.payload == payload and parsed.key == b"demo:cus_jane"
