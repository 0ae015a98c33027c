"""What chat stores and answers, each defined once: conversations, messages, read state, the staff directory.

Stored models (`Conversation`, `Message`, `ReadMarker`, `ReadingPosition`, `StaffMember`) are what `store`
reads and writes; request bodies (`…In`, `…Change`, `…Edit`) are validated at the HTTP edge; answer shapes
(`…View`, lists, `ReadState`, `UnreadSummary`) are what every route declares as its `response_model`.
A message's fields are the contract's `ChatMessage` (the shape its events carry), extended here.
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from relay_contracts.chat import ChatMessage, ConversationKind
from relay_contracts.issues import StaffRef
from relay_contracts.staff import StaffRole

# ---- the staff directory ------------------------------------------------------------------------------


class StaffEntry(BaseModel):
    """A directory entry as staff see it (to start a private message, mention someone, list members)."""

    model_config = ConfigDict(frozen=True)

    staff_id: str
    username: str | None = None
    display_name: str | None = None
    role: StaffRole = StaffRole.STAFF


class StaffMember(StaffEntry):
    """A staff account as chat keeps it, from the gateway's `staff.account_saved` events."""

    tenant_id: str
    username: str
    display_name: str
    active: bool = True

    @property
    def ref(self) -> StaffRef:
        """How events name this person."""
        return StaffRef(id=self.staff_id, name=self.display_name)


class StaffDirectory(BaseModel):
    """My tenant's active staff."""

    staff: list[StaffEntry]


class MemberList(BaseModel):
    """Who belongs to a conversation."""

    members: list[StaffEntry]


# ---- conversations ------------------------------------------------------------------------------------


class Conversation(BaseModel):
    """A channel (named, public or private) or a private conversation, as stored."""

    model_config = ConfigDict(frozen=True)

    conversation_id: str
    tenant_id: str
    kind: ConversationKind
    name: str
    name_key: str | None = Field(default=None, description="channels: the name compared case-insensitively")
    topic: str = ""
    is_private: bool
    archived: bool = False
    members: list[str] = Field(default_factory=list, description="staff ids")
    default_key: str | None = Field(default=None, description='"general" or "customer_messages" for the defaults')
    feed: str | None = Field(default=None, description="a feed the UI shows in this channel (customer issues)")
    participants_key: str | None = Field(default=None, description="private: the sorted staff ids, joined")
    participant_refs: list[StaffRef] = Field(default_factory=list, description="private: who is in it")
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime
    last_seq: int = Field(default=0, ge=0, description="the newest message's number (an atomic counter)")
    last_message_at: datetime | None = None
    version: int = Field(default=0, ge=0, description="bumped by every change; a change applies to the one it read")


class ConversationView(BaseModel):
    """A conversation as one staff member sees it in the sidebar, with their read state."""

    conversation_id: str
    kind: ConversationKind
    name: str
    topic: str
    is_private: bool
    archived: bool
    default: str | None = Field(description='"general", "customer_messages" or null')
    feed: str | None
    participants: list[str] = Field(description="private conversations: the staff ids in it")
    members_count: int
    is_member: bool
    created_by: str | None
    created_at: datetime
    last_seq: int
    last_message_at: datetime | None
    read_up_to_seq: int
    unread_count: int
    first_unread_seq: int | None = Field(description='where the "New Messages" line goes')


class OpenedPrivate(ConversationView):
    """A private conversation opened: the new one (created) or the existing one with exactly these people."""

    created: bool


class MyConversations(BaseModel):
    """My channels and private conversations, and my unread total (the badges)."""

    conversations: list[ConversationView]
    total_unread: int


class ChannelList(BaseModel):
    """Public channels of my tenant, to browse and join."""

    channels: list[ConversationView]


# ---- messages -----------------------------------------------------------------------------------------


class Attachment(BaseModel):
    """A file already uploaded somewhere, attached by reference."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://\S+$")
    name: str = Field(min_length=1, max_length=255)
    content_type: str = Field(default="application/octet-stream", max_length=200,
                              pattern=r"^[\w.+-]+/[\w.+-]+$")
    size: int | None = Field(default=None, ge=0)


class MessageView(ChatMessage):
    """A message as members see it: the event's message, and the conversation it is in."""

    conversation_id: str
    attachments: list[Attachment] = Field(default_factory=list)


class Message(MessageView):
    """A message as stored."""

    tenant_id: str
    author_id: str
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    search_terms: list[str] = Field(default_factory=list,
                                    description="its words, case- and accent-folded: what search matches prefixes of")


class MessagePage(BaseModel):
    """A page of messages, oldest first, and whether more lie either way."""

    messages: list[MessageView]
    has_more_before: bool
    has_more_after: bool


# ---- search --------------------------------------------------------------------------------------------


class SearchAuthor(BaseModel):
    """Who wrote a message found."""

    id: str
    display_name: str


class SearchHit(BaseModel):
    """A message found, with the conversation it is in (to open it there)."""

    conversation_id: str
    conversation_name: str
    conversation_kind: ConversationKind
    seq: int
    message_id: str
    author: SearchAuthor
    text: str
    posted_at: datetime


class SearchResults(BaseModel):
    """Messages found, newest first."""

    results: list[SearchHit]


# ---- read state and where I left off ------------------------------------------------------------------


class Unread(BaseModel):
    """How many live messages by others lie past my marker in one conversation, and the first one's seq."""

    model_config = ConfigDict(frozen=True)

    count: int = 0
    first_seq: int | None = None


class StaffConversationState(BaseModel):
    """What chat keeps for one staff member about one conversation."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    staff_id: str
    conversation_id: str
    updated_at: datetime


class ReadMarker(StaffConversationState):
    """Everything up to `read_up_to_seq` is read, per staff member and conversation (moved only forwards)."""

    read_up_to_seq: int = Field(ge=0)


class ReadingPosition(StaffConversationState):
    """The conversation a staff member has open, and the message they are at (one per staff member)."""

    seq: int = Field(ge=0)


class ConversationUnread(BaseModel):
    """My read state in one conversation."""

    conversation_id: str
    unread_count: int
    first_unread_seq: int | None
    read_up_to_seq: int
    last_seq: int


class ReadState(ConversationUnread):
    """My read state in one conversation after moving my marker, and my unread total."""

    total_unread: int


class UnreadSummary(BaseModel):
    """My read state in every conversation I belong to, and the total."""

    conversations: list[ConversationUnread]
    total_unread: int


class PositionView(BaseModel):
    """Where I left off: the conversation and message, or nulls when nowhere I can still see."""

    conversation_id: str | None
    seq: int | None
    updated_at: datetime | None = None
    conversation: ConversationView | None = None


# ---- what clients send (validated at the edge) --------------------------------------------------------


class ChannelIn(BaseModel):
    """A new channel."""

    name: str = Field(min_length=1, max_length=80)
    topic: str = Field(default="", max_length=250)
    is_private: bool = False
    member_ids: list[str] = Field(default_factory=list, max_length=500, description="staff ids added at once")


class ChannelChange(BaseModel):
    """Rename, set the topic, archive or unarchive a channel (any of them at once)."""

    name: str | None = Field(default=None, min_length=1, max_length=80)
    topic: str | None = Field(default=None, max_length=250)
    archived: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> "ChannelChange":
        if self.name is None and self.topic is None and self.archived is None:
            raise ValueError("Say what to change: name, topic or archived.")
        return self


class MembersIn(BaseModel):
    """Staff to add to a channel."""

    staff_ids: list[str] = Field(min_length=1, max_length=200)


class PrivateIn(BaseModel):
    """The other people of a private conversation (you are in it anyway)."""

    staff_ids: list[str] = Field(min_length=1, max_length=20)


class MessageIn(BaseModel):
    """A new message."""

    text: str = Field(default="", max_length=10_000)
    reply_to: str | None = Field(default=None, max_length=100, description="message id in the same conversation")
    attachments: list[Attachment] = Field(default_factory=list, max_length=10)
    mentions: list[str] = Field(default_factory=list, max_length=50, description="staff ids or usernames")
    client_message_id: str | None = Field(default=None, min_length=1, max_length=100,
                                          description="the client's own id: a retried post is stored once")

    @model_validator(mode="after")
    def _not_empty(self) -> "MessageIn":
        if not self.text.strip() and not self.attachments:
            raise ValueError("A message needs text or an attachment.")
        return self


class MessageEdit(BaseModel):
    """New text for my message."""

    text: str = Field(min_length=1, max_length=10_000)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("The new text is empty; delete the message instead.")
        return value


class ReadIn(BaseModel):
    """Everything up to this message number is read."""

    up_to_seq: int = Field(ge=0)


class PositionIn(BaseModel):
    """The conversation I have open and the message I am at."""

    conversation_id: str = Field(min_length=1, max_length=100)
    seq: int = Field(default=0, ge=0)
