"""Topic names, partition counts and partition keys: spelled here once, nowhere else."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    """A Kafka topic and how many partitions it is created with."""

    name: str
    partitions: int

    @property
    def dead_letter(self) -> str:
        """The topic where invalid events from this one go, with the reason in a header."""
        return f"{self.name}.dead-letter"


INBOUND_MESSAGES = Topic("inbound.messages", partitions=6)
OUTBOUND_MESSAGES = Topic("outbound.messages", partitions=6)
DELIVERY_STATUS = Topic("delivery.status", partitions=6)
ISSUE_EVENTS = Topic("issue.events", partitions=6)
CHAT_EVENTS = Topic("chat.events", partitions=6)
STAFF_EVENTS = Topic("staff.events", partitions=3)
PRESENCE_EVENTS = Topic("presence.events", partitions=3)  # presence and typing, between notify replicas

ALL_TOPICS = (
    INBOUND_MESSAGES, OUTBOUND_MESSAGES, DELIVERY_STATUS, ISSUE_EVENTS, CHAT_EVENTS, STAFF_EVENTS, PRESENCE_EVENTS,
)


def customer_key(*, tenant_id: str, customer_id: str) -> bytes:
    """Partition key that keeps one customer's messages and issue events in order."""
    return f"{tenant_id}:{customer_id}".encode()


def conversation_key(*, tenant_id: str, conversation_id: str) -> bytes:
    """Partition key that keeps one conversation's chat events in order."""
    return f"{tenant_id}:{conversation_id}".encode()


def staff_key(*, tenant_id: str, staff_id: str) -> bytes:
    """Partition key for a staff member's account events."""
    return f"{tenant_id}:{staff_id}".encode()



def presence_key(*, tenant_id: str) -> bytes:
    """Partition key for a tenant's presence and typing signals (one tenant's stay in order)."""
    return f"{tenant_id}:presence".encode()
