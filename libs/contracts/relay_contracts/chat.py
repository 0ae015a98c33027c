"""Events about staff chat: channels, memberships, private conversations, messages, read markers.

Every chat event names its audience (the staff ids who may see it), computed by the chat
service next to the change, so that notify pushes it to exactly those people.

Presence and typing signals travel between notify replicas on their own small topic
(`presence.events`): they are ephemeral, never stored, and never replayed to a client.
"""

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from relay_contracts.envelope import EventPayload, register
from relay_contracts.issues import StaffRef
from relay_contracts.topics import CHAT_EVENTS, PRESENCE_EVENTS, conversation_key, presence_key


class ConversationKind(StrEnum):
    """A channel (named, public or private) or a private message between a few people."""

    CHANNEL = "channel"
    PRIVATE = "private"


class ConversationRef(BaseModel):
    """Enough about a conversation for a toast or a sidebar entry."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    conversation_id: str
    kind: ConversationKind
    name: str
    is_private: bool = False
    topic: str | None = None
    archived: bool = False
    participants: list[StaffRef] = Field(default_factory=list, description="private conversations: who is in it")


class ChatMessage(BaseModel):
    """A posted message as members see it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_id: str
    seq: int = Field(ge=1)
    author: StaffRef
    text: str
    mentions: list[str] = Field(default_factory=list)
    reply_to: str | None = None
    attachments: list[dict] = Field(default_factory=list, description="{url, name, content_type, size?} each")
    posted_at: AwareDatetime
    edited_at: AwareDatetime | None = None
    deleted: bool = False
    reply_to_seq: int | None = None
    client_message_id: str | None = None


class ChatEvent(EventPayload):
    """Base of every chat event: the conversation it happened in and who may see it."""

    topic = CHAT_EVENTS

    conversation: ConversationRef
    audience: list[str] = Field(default_factory=list, description="staff ids who may see this")

    def partition_key(self, tenant_id: str) -> bytes:
        return conversation_key(tenant_id=tenant_id, conversation_id=self.conversation.conversation_id)


@register
class ChatMessagePosted(ChatEvent):
    """A message was posted in a channel or private conversation."""

    event_type = "chat.message_posted"
    message: ChatMessage


@register
class ChatMessageEdited(ChatEvent):
    """A message's text was edited by its author."""

    event_type = "chat.message_edited"
    message: ChatMessage


@register
class ChatMessageDeleted(ChatEvent):
    """A message was deleted by its author or a manager."""

    event_type = "chat.message_deleted"
    message_id: str
    seq: int
    actor: StaffRef
    author_id: str | None = None


@register
class ConversationCreated(ChatEvent):
    """A channel was created or a private conversation started."""

    event_type = "chat.conversation_created"
    actor: StaffRef | None = None


@register
class ConversationUpdated(ChatEvent):
    """A channel was renamed, given a new topic, archived or unarchived."""

    event_type = "chat.conversation_updated"
    actor: StaffRef


class MembershipChange(StrEnum):
    """How someone's membership of a channel changed."""

    JOINED = "joined"
    LEFT = "left"
    ADDED = "added"
    REMOVED = "removed"


@register
class MembershipChanged(ChatEvent):
    """Someone joined, left, was added to or removed from a channel."""

    event_type = "chat.membership_changed"
    member: StaffRef
    change: MembershipChange
    actor: StaffRef


@register
class ReadMarkerMoved(ChatEvent):
    """A staff member read up to a message; their unread counts changed (audience: them only)."""

    event_type = "chat.read_marker_moved"
    staff_id: str
    read_up_to_seq: int = Field(ge=0)
    unread_count: int = Field(ge=0)
    total_unread: int = Field(ge=0)
    last_seq: int | None = Field(default=None, ge=0, description="the conversation's newest seq when counted")
    first_unread_seq: int | None = None


@register
class ReadingPositionSaved(ChatEvent):
    """A staff member's last open conversation and place in it, so the module reopens there (audience: them)."""

    event_type = "chat.reading_position_saved"
    staff_id: str
    seq: int = Field(ge=0)


class PresenceStatus(StrEnum):
    """Online (a tab is active), away (all tabs idle or hidden), offline (no tab open)."""

    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class PresenceEvent(EventPayload):
    """Base of presence and typing signals shared between notify replicas."""

    topic = PRESENCE_EVENTS

    replica_id: str = Field(min_length=1, description="the notify replica that saw the change")

    def partition_key(self, tenant_id: str) -> bytes:
        return presence_key(tenant_id=tenant_id)


@register
class PresenceChanged(PresenceEvent):
    """A staff member's presence on one notify replica changed (audience: their tenant's staff)."""

    event_type = "presence.changed"
    staff: StaffRef
    status: PresenceStatus
    ttl_seconds: float = Field(default=45.0, gt=0, description="forget it unless repeated by a heartbeat by then")


@register
class PresenceHeartbeat(PresenceEvent):
    """Every staff member connected to one notify replica, repeated so a lost replica's users go offline."""

    event_type = "presence.heartbeat"
    statuses: dict[str, PresenceStatus] = Field(default_factory=dict, description="staff id -> status")
    ttl_seconds: float = Field(default=45.0, gt=0)


class TypingState(StrEnum):
    """Typing started (repeat every few seconds while typing) or stopped."""

    START = "start"
    STOP = "stop"


@register
class TypingNotified(PresenceEvent):
    """Someone is typing in a conversation (audience: its other members)."""

    event_type = "presence.typing"
    conversation_id: str = Field(min_length=1)
    staff: StaffRef
    state: TypingState = TypingState.START
    audience: list[str] = Field(default_factory=list, description="staff ids who may see this")
