"""Relay's shared vocabulary: every event, topic and key, defined once."""

from relay_contracts import chat, customer_messages, issues, staff, tenants, topics
from relay_contracts.envelope import (
    Envelope,
    EventPayload,
    InvalidEvent,
    new_event,
    parse_event,
    registered_event_types,
)

__all__ = [
    "Envelope",
    "EventPayload",
    "InvalidEvent",
    "chat",
    "customer_messages",
    "issues",
    "new_event",
    "parse_event",
    "registered_event_types",
    "staff",
    "tenants",
    "topics",
]
