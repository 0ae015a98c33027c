"""Customer message events: round trips, and compatibility with producers older and newer than us."""

from datetime import UTC, datetime

import pytest

from relay_contracts import InvalidEvent, new_event, parse_event
from relay_contracts.customer_messages import (
    Attachment,
    Channel,
    CustomerConsentChanged,
    CustomerProfileChanged,
    DeliveryState,
    DeliveryStatusChanged,
    EmailThreading,
    InboundMessageReceived,
    OutboundMessageRequested,
    customer_label,
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


def test_inbound_message_from_an_older_producer_has_no_customer_label() -> None:
    event = new_event(_inbound(customer_label="Jane Doe"), tenant_id="demo", producer="ingest").to_document()
    assert parse_event(event).payload.customer_label == "Jane Doe"
    del event["payload"]["customer_label"]
    assert parse_event(event).payload.customer_label is None


def test_consent_change_round_trips_on_inbound_messages_under_the_customer_key() -> None:
    payload = CustomerConsentChanged(customer_id="cus_jane", phone="+12025550143", opted_out=True,
                                     at=datetime(2026, 11, 24, 10, 0, tzinfo=UTC), source="keyword")
    parsed = parse_event(new_event(payload, tenant_id="demo", producer="ingest").to_bytes())
    assert parsed.payload == payload and parsed.type == "customer.consent_changed"
    assert parsed.topic.name == "inbound.messages" and parsed.key == b"demo:cus_jane"
    naive = new_event(payload, tenant_id="demo", producer="ingest").to_document()
    naive["payload"]["at"] = "2026-11-24T10:00:00"
    with pytest.raises(InvalidEvent, match="at"):
        parse_event(naive)


def test_profile_change_round_trips_with_and_without_a_merge() -> None:
    named = CustomerProfileChanged(customer_id="cus_1", customer_name="Ann Lee", customer_label="Ann Lee")
    merged = CustomerProfileChanged(customer_id="cus_1", customer_name="Ann Lee", customer_label="Ann Lee",
                                    merged_into_customer_id="pos-42")
    for payload in (named, merged):
        parsed = parse_event(new_event(payload, tenant_id="demo", producer="ingest").to_bytes())
        assert parsed.payload == payload and parsed.type == "customer.profile_changed"
        assert parsed.topic.name == "inbound.messages" and parsed.key == b"demo:cus_1"
    assert named.merged_into_customer_id is None


@pytest.mark.parametrize(("fields", "expected"), [
    ({"name": "  Jane   Doe ", "phone": "+12025550143", "email": "jane@example.com"}, "Jane Doe"),
    ({"name": None, "phone": "+12025550143", "email": "jane@example.com"}, "(202) 555-0143"),
    ({"name": " ", "phone": "+442079460958", "email": None}, "+44 20 7946 0958"),
    ({"name": None, "phone": "+442079460958", "email": None, "country": "GB"}, "020 7946 0958"),
    ({"name": None, "phone": "+16135550100", "email": None}, "+1 613-555-0100"),  # Canada, for a US shop
    ({"name": None, "phone": None, "email": "jane@example.com"}, "jane@example.com"),
    ({"name": None, "phone": "not a number", "email": None}, "not a number"),
    ({"name": None, "phone": None, "email": None}, "Unknown customer"),
    ({"name": "", "phone": "", "email": ""}, "Unknown customer"),
])
def test_a_customer_is_labelled_by_name_then_national_phone_then_email(fields: dict, expected: str) -> None:
    assert customer_label(**fields) == expected
