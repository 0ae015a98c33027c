"""The one envelope every event travels in, and the registry of event types."""

from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from uuid6 import uuid7

from relay_contracts.topics import Topic


class EventPayload(BaseModel):
    """Base of every event's payload: tolerant of fields added by newer producers."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    topic: ClassVar[Topic]

    def partition_key(self, tenant_id: str) -> bytes:
        """Key under which this event is published; overridden per family of events."""
        raise NotImplementedError


P = TypeVar("P", bound=EventPayload)


class _EnvelopeFields(BaseModel):
    """Metadata shared by all events: identity, type and version, tenant, time, producer and causality."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: UUID
    type: str
    version: int = Field(ge=1)
    tenant_id: str = Field(min_length=1)
    occurred_at: AwareDatetime
    producer: str = Field(min_length=1)
    correlation_id: str = Field(min_length=1)
    causation_id: str | None = None


class Envelope(_EnvelopeFields, Generic[P]):
    """Metadata shared by all events, around a typed payload."""

    payload: P

    @property
    def topic(self) -> Topic:
        """Topic this event belongs on."""
        return self.payload.topic

    @property
    def key(self) -> bytes:
        """Partition key for this event."""
        return self.payload.partition_key(self.tenant_id)

    def to_bytes(self) -> bytes:
        """Serialise as JSON for the wire."""
        return self.model_dump_json().encode()

    def to_document(self) -> dict[str, Any]:
        """Serialise as a JSON-compatible dict (for an outbox document)."""
        return self.model_dump(mode="json")


_REGISTRY: dict[str, type[EventPayload]] = {}


def register(payload_cls: type[P]) -> type[P]:
    """Class decorator: make an event payload known to `parse_event`."""
    if payload_cls.event_type in _REGISTRY:
        raise ValueError(f"event type {payload_cls.event_type!r} registered twice")
    _REGISTRY[payload_cls.event_type] = payload_cls
    return payload_cls


def registered_event_types() -> dict[str, type[EventPayload]]:
    """Every known event type and its payload class."""
    return dict(_REGISTRY)


class InvalidEvent(ValueError):
    """An event on a topic that cannot be decoded; the reason goes with it to dead-letter."""


class _RawEnvelope(_EnvelopeFields):
    """An envelope whose payload is not decoded yet (its type says which class decodes it)."""

    payload: dict[str, Any]


def new_event(
    payload: P,
    *,
    tenant_id: str,
    producer: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> Envelope[P]:
    """Wrap a payload in a fresh envelope with a time-ordered id (UUIDv7)."""
    event_id = UUID(str(uuid7()))
    return Envelope[type(payload)](  # type: ignore[misc]
        event_id=event_id,
        type=payload.event_type,
        version=payload.schema_version,
        tenant_id=tenant_id,
        occurred_at=datetime.now(UTC),
        producer=producer,
        correlation_id=correlation_id or str(event_id),
        causation_id=causation_id,
        payload=payload,
    )


def parse_event(raw: bytes | str | dict[str, Any]) -> Envelope[EventPayload]:
    """Decode and validate an event; raise InvalidEvent with a readable reason."""
    try:
        if isinstance(raw, dict):
            envelope = _RawEnvelope.model_validate(raw)
        else:
            envelope = _RawEnvelope.model_validate_json(raw)
    except ValidationError as error:
        raise InvalidEvent(f"bad envelope: {_summary(error)}") from None
    payload_cls = _REGISTRY.get(envelope.type)
    if payload_cls is None:
        raise InvalidEvent(f"unknown event type {envelope.type!r}")
    try:
        payload = payload_cls.model_validate(envelope.payload)
    except ValidationError as error:
        raise InvalidEvent(f"bad {envelope.type} payload: {_summary(error)}") from None
    return Envelope[payload_cls](**{**envelope.model_dump(), "payload": payload})  # type: ignore[valid-type]


def _summary(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()[:5]
    )
