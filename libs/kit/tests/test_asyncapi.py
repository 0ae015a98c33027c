"""A service's AsyncAPI document names what it consumes and publishes, each message typed by its events."""

from relay_contracts.customer_messages import InboundMessageReceived, OutboundMessageRequested
from relay_contracts.issues import IssueEvent
from relay_contracts.staff import StaffAccountSaved
from relay_kit.consuming import EventHandlers
from relay_kit.service import Runtime
from relay_kit.settings import ServiceSettings


def test_consumed_and_published_channels_carry_their_event_schemas() -> None:
    runtime = Runtime(ServiceSettings(service_name="docs-test", kafka_bootstrap_servers="127.0.0.1:1"))
    handlers = EventHandlers()

    @handlers.on(InboundMessageReceived)
    async def on_inbound(event) -> None:
        """Handles customer messages."""

    @handlers.on(StaffAccountSaved)
    async def on_staff(event) -> None:
        """Handles staff accounts."""

    runtime.consume(handlers, group_id="docs-group")
    runtime.declare_publishing(IssueEvent, OutboundMessageRequested)
    spec = runtime.asyncapi(title="Relay docs-test")

    addresses = {channel["address"] for channel in spec["channels"].values()}
    assert {"inbound.messages", "staff.events", "issue.events", "outbound.messages"} <= addresses
    payloads = {message["payload"]["$ref"] for message in spec["components"]["messages"].values()}
    assert any("InboundMessageReceived" in ref for ref in payloads)
    assert any("IssueReopened" in ref for ref in payloads)  # a family stands for every issue event
    schemas = spec["components"]["schemas"]
    assert "InboundMessageReceived" in schemas and "IssueSnapshot" in schemas and "OutboundMessageRequested" in schemas
    actions = sorted(operation["action"] for operation in spec["operations"].values())
    assert actions.count("receive") >= 1 and actions.count("send") == 2
