"""Events about staff chat: channels, memberships, private conversations, messages, read markers.

Every chat event names its audience (the staff ids who may see it), computed by the chat
service next to the change, so that notify pushes it to exactly those people.
"""

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from relay_contracts.envelope import EventPayload, register
from relay_contracts.issues import StaffRef
from relay_contracts.topics import CHAT_EVENTS, conversation_key


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


class ChatMessage(BaseModel):
    """A posted message as members see it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_id: str
    seq: int = Field(ge=1)
    author: StaffRef
    text: str
    mentions: list[str] = Field(default_factory=list)
    reply_to: str | None = None
    attachments: list[dict] = Field(default_factory=list)
    posted_at: AwareDatetime
    edited_at: AwareDatetime | None = None
    deleted: bool = False


class _ChatEvent(EventPayload):
    topic = CHAT_EVENTS

    conversation: ConversationRef
    audience: list[str] = Field(default_factory=list, description="staff ids who may see this")

    def partition_key(self, tenant_id: str) -> bytes:
        return conversation_key(tenant_id=tenant_id, conversation_id=self.conversation.conversation_id)


@register
class ChatMessagePosted(_ChatEvent):
    """A message was posted in a channel or private conversation."""

    event_type = "chat.message_posted"
    message: ChatMessage


@register
class ChatMessageEdited(_ChatEvent):
    """A message's text was edited by its author."""

    event_type = "chat.message_edited"
    message: ChatMessage


@register
class ChatMessageDeleted(_ChatEvent):
    """A message was deleted by its author or a manager."""

    event_type = "chat.message_deleted"
    message_id: str
    seq: int
    actor: StaffRef


@register
class ConversationCreated(_ChatEvent):
    """A channel was created or a private conversation started."""

    event_type = "chat.conversation_created"
    actor: StaffRef | None = None


@register
class ConversationUpdated(_ChatEvent):
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
class MembershipChanged(_ChatEvent):
    """Someone joined, left, was added to or removed from a channel."""

    event_type = "chat.membership_changed"
    member: StaffRef
    change: MembershipChange
    actor: StaffRef


@register
class ReadMarkerMoved(_ChatEvent):
    """A staff member read up to a message; their unread counts changed (audience: them only)."""

    event_type = "chat.read_marker_moved"
    staff_id: str
    read_up_to_seq: int = Field(ge=0)
    unread_count: int = Field(ge=0)
    total_unread: int = Field(ge=0)
