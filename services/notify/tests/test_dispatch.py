"""Typed dispatch on the real broker: a payload of a type notify does not handle is never pushed, whatever its fields."""

import asyncio
import uuid
from datetime import UTC, datetime

from relay_contracts import EventPayload, new_event
from relay_contracts.envelope import register
from relay_contracts.chat import ChatEvent, PresenceChanged, PresenceHeartbeat, TypingNotified
from relay_contracts.customer_messages import Channel
from relay_contracts.issues import IssueAudience, IssueClosed, IssueEvent, IssueOpened, IssueSnapshot, IssueStatus
from relay_contracts.staff import StaffRole, StaffSessionsEnded
from relay_contracts.topics import ISSUE_EVENTS, customer_key
from relay_kit.auth import StaffPrincipal
from relay_kit.consuming import PUSHER, consume
from relay_kit.kafka import make_broker, publish_event
from relay_notify import consumers
from relay_notify.hub import Connection, Hub
from relay_stack.polling import eventually


@register
class IssueLookalike(EventPayload):
    """Not an issue event, though it travels on issue.events with an `issue` and an `audience` (what hasattr saw)."""

    topic = ISSUE_EVENTS
    event_type = "test.notify_issue_lookalike"
    issue: IssueSnapshot
    audience: IssueAudience = IssueAudience()

    def partition_key(self, tenant_id: str) -> bytes:
        return customer_key(tenant_id=tenant_id, customer_id=self.issue.customer_id)


class RecordingSocket:
    """A tab's socket that keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_text(self, data: str) -> None:
        self.sent.append(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        return None


class NoChat:
    async def unread(self, *, token: str) -> None:
        return None

    async def members(self, *, token: str, conversation_id: str) -> None:
        return None


def _snapshot(issue_id: str) -> IssueSnapshot:
    now = datetime.now(UTC)
    return IssueSnapshot(issue_id=issue_id, customer_id="cus_jane", customer_name="Jane Doe", channel=Channel.SMS,
                         status=IssueStatus.UNASSIGNED, summary="Is my suit ready?", opened_at=now, updated_at=now)


def test_notify_registers_one_handler_per_family_and_none_for_other_payloads() -> None:
    handlers = consumers.handlers_for(Hub(replica_id="r", chat=NoChat(), announce=lambda _: None))
    assert set(handlers.payload_classes) == {ChatEvent, IssueEvent, TypingNotified, PresenceChanged,
                                             PresenceHeartbeat, StaffSessionsEnded}
    assert handlers.handler_for(IssueLookalike(issue=_snapshot("iss_x"))) is None
    closed = IssueClosed(issue=_snapshot("iss_x"))
    opened = IssueOpened(issue=_snapshot("iss_x"), inbound_message_id="in_1", text="hi")
    assert handlers.handler_for(opened) is handlers.handler_for(closed) is not None  # the one issue handler


async def test_a_payload_type_notify_does_not_handle_is_never_pushed(kafka_bootstrap: str) -> None:
    tenant_id = f"t-{uuid.uuid4().hex[:10]}"
    hub = Hub(replica_id="dispatch-test", chat=NoChat(), announce=lambda _: None)
    hub.complete_since_millis = 0
    socket = RecordingSocket()
    staff = StaffPrincipal(staff_id="stf_alice", tenant_id=tenant_id, name="Alice Martin", role=StaffRole.STAFF)
    hub.attach(Connection(staff=staff, token="t", socket=socket, queue_limit=100), since=None)

    broker = make_broker(bootstrap_servers=kafka_bootstrap, client_id="notify-dispatch-test")
    handlers = consumers.handlers_for(hub)
    subscriber = consume(broker, handlers, service="notify-test", group_id=f"notify-test-{uuid.uuid4().hex[:8]}",
                         delivery=PUSHER, topics=[ISSUE_EVENTS], auto_offset_reset="latest", fetch_max_wait_ms=10)
    following = consumers.Following(subscriber=subscriber, topics=(ISSUE_EVENTS,))
    await broker.start()
    try:
        async def positioned() -> bool:
            return await following.positioned()

        await eventually(positioned, timeout=30, what="test consumer positioned")
        lookalike = new_event(IssueLookalike(issue=_snapshot("iss_lookalike")), tenant_id=tenant_id, producer="test")
        opened = new_event(IssueOpened(issue=_snapshot("iss_real"), inbound_message_id="in_1", text="Is it ready?"),
                           tenant_id=tenant_id, producer="issues")
        for event in (lookalike, opened):  # one customer's key: one partition, so the lookalike is consumed first
            await publish_event(broker, event, service="test")

        async def real_one_pushed() -> bool:
            await asyncio.sleep(0)
            return any("iss_real" in text for text in socket.sent)

        await eventually(real_one_pushed, timeout=20, what="the issue event pushed to the tab")
    finally:
        await broker.stop()
    assert not [text for text in socket.sent if "iss_lookalike" in text or "test.notify_issue_lookalike" in text]
