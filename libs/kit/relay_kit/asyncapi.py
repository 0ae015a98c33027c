"""Each service's AsyncAPI document: FastStream's, with every channel's message typed by the events it carries.

FastStream generates the document from the broker's subscribers and declared publishers. Relay's
consumers decode the envelope themselves (to dead-letter what does not decode), so FastStream sees their
messages as bytes; here each consumed channel's message gets the schema of the envelope around the
payload classes its handlers take, the same schema a declared publisher documents.
"""

from collections.abc import Iterable, Mapping
from typing import Any, Union
from urllib.parse import quote

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel

from relay_contracts import Envelope, EventPayload, registered_event_types

REF = "#/components/schemas/{model}"


def event_classes(payload_classes: Iterable[type[EventPayload]]) -> list[type[EventPayload]]:
    """The concrete registered event classes that a list of classes (some of them families) stands for."""
    found: dict[str, type[EventPayload]] = {}
    for wanted in payload_classes:
        for event_type, cls in registered_event_types().items():
            if issubclass(cls, wanted):
                found.setdefault(event_type, cls)
    return list(found.values())


def envelope_model(payload_classes: Iterable[type[EventPayload]]) -> type[BaseModel]:
    """`Envelope[A | B | …]` over the concrete event classes: the schema of a channel's messages."""
    classes = tuple(event_classes(payload_classes))
    return Envelope[Union[classes]] if len(classes) > 1 else Envelope[classes[0]]  # type: ignore[valid-type]  # noqa: UP007


def document(broker: KafkaBroker, *, title: str, consumed: Mapping[str, list[type[EventPayload]]]) -> dict[str, Any]:
    """The AsyncAPI 3 document of a service: what it consumes (typed) and what it publishes."""
    spec = AsyncAPI(broker, title=title, schema_version="3.0.0").to_specification().to_jsonable()
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    messages = components.get("messages", {})
    for channel in spec.get("channels", {}).values():
        classes = consumed.get(channel.get("address", ""))
        if not classes:
            continue
        model = envelope_model(classes)
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        for ref in channel.get("messages", {}).values():
            name = ref["$ref"].rsplit("/", 1)[-1]
            if name in messages:
                messages[name]["payload"] = {"$ref": REF.format(model=quote(model.__name__))}
    return spec
