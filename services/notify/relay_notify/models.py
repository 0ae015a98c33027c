"""What notify answers: the frames it pushes to a tab, the frames a tab may send, and its readiness answer.

Each frame is a JSON object with a `kind` (the table in services/notify/README.md lists them). Frames that
come from a stored event carry its `event_id`; presence, typing and the connection's own frames carry none.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from relay_contracts.chat import PresenceStatus, TypingState


class Frame(BaseModel):
    """A frame on the socket."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str

    def encode(self) -> str:
        """The frame as the text sent on the socket."""
        return self.model_dump_json()


# ---- from the server --------------------------------------------------------------------------------------


class Hello(Frame):
    """The first frame of every connection."""

    kind: Literal["hello"] = "hello"
    connection_id: str
    replica_id: str
    tenant_id: str
    staff_id: str


class EventFrame(Frame):
    """A chat or issue event the person may see, as published without its audience."""

    kind: Literal["event"] = "event"
    event_id: str
    type: str
    occurred_at: str
    payload: dict[str, Any]


Attention = Literal["customer_issue", "mention", "private_message", "chat"]
"""What kind of attention a toast asks for, so the UI can choose a desktop notification and a sound:
a customer's issue, a mention of me (or an issue given to me), a private message, anything else in chat."""


class Toast(Frame):
    """A toast: where it happened, who or what, a line of text, what a click opens, and the attention it asks for."""

    kind: Literal["toast"] = "toast"
    event_id: str
    title: str
    where: str
    conversation_name: str
    body: str
    mention: bool = False
    attention: Attention = "chat"
    open: dict[str, str | int]


class MessageToast(Toast):
    """A new message by someone else."""

    conversation_id: str
    message_id: str
    seq: int


class AddedToChannelToast(Toast):
    """Someone else added me to a channel."""

    conversation_id: str


class IssueToast(Toast):
    """A customer's new issue or further message, or an issue assigned to me by someone else."""

    issue_id: str


class UnreadCounts(BaseModel):
    """One person's read state in one conversation."""

    model_config = ConfigDict(frozen=True)

    unread: int
    first_unread_seq: int | None
    read_up_to_seq: int
    last_seq: int


class Unread(Frame):
    """My badge of one conversation changed."""

    kind: Literal["unread"] = "unread"
    conversation_id: str
    unread: int
    first_unread_seq: int | None
    read_up_to_seq: int
    last_seq: int
    total: int
    event_id: str


class UnreadSnapshot(Frame):
    """All my badges: after connecting, and whenever the counts had to be asked again."""

    kind: Literal["unread_snapshot"] = "unread_snapshot"
    total: int
    conversations: dict[str, UnreadCounts]


class CaughtUp(Frame):
    """After replaying what a reconnecting tab missed."""

    kind: Literal["caught_up"] = "caught_up"
    replayed: int


class Reload(Frame):
    """`since` is too old or unknown here: reload the page's state and reconnect without it."""

    kind: Literal["reload"] = "reload"
    reason: str


class PresenceSnapshot(Frame):
    """Everyone of my tenant who is online or away, after connecting."""

    kind: Literal["presence_snapshot"] = "presence_snapshot"
    statuses: dict[str, PresenceStatus]


class Presence(Frame):
    """Someone of my tenant changed status."""

    kind: Literal["presence"] = "presence"
    staff_id: str
    status: PresenceStatus


class Typing(Frame):
    """Someone else is typing in a conversation I belong to."""

    kind: Literal["typing"] = "typing"
    conversation_id: str
    staff_id: str
    name: str
    state: TypingState


class Pong(Frame):
    """The answer to `ping`."""

    kind: Literal["pong"] = "pong"


class ErrorFrame(Frame):
    """A frame from the tab could not be acted on; the socket stays open."""

    kind: Literal["error"] = "error"
    code: str
    message: str


# ---- from the tab -----------------------------------------------------------------------------------------

CONVERSATION_ID = r"^[A-Za-z0-9_-]{1,100}$"


class TypingIn(BaseModel):
    """I am typing in a conversation (or stopped)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["typing"]
    conversation_id: Annotated[str, Field(pattern=CONVERSATION_ID)]
    state: TypingState = TypingState.START


class StatusIn(BaseModel):
    """This tab is hidden or idle (`away`), or back (`active`)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["away", "active"]


class PingIn(BaseModel):
    """Is the connection alive?"""

    model_config = ConfigDict(frozen=True)

    kind: Literal["ping"]


ClientFrame = Annotated[TypingIn | StatusIn | PingIn, Field(discriminator="kind")]
CLIENT_FRAME: TypeAdapter[TypingIn | StatusIn | PingIn] = TypeAdapter(ClientFrame)


# ---- what chat answers ------------------------------------------------------------------------------------


class ConversationReadState(BaseModel):
    """One conversation's unread count for the asking person, as chat answers it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    conversation_id: str
    unread_count: int = 0
    last_seq: int = 0
    read_up_to_seq: int = 0
    first_unread_seq: int | None = None


class ChatUnread(BaseModel):
    """Chat's answer to `GET /api/chat/me/unread`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    conversations: list[ConversationReadState] = Field(default_factory=list)


# ---- over HTTP --------------------------------------------------------------------------------------------


class Readiness(BaseModel):
    """`GET /readyz`: whether this replica follows every event, and how many tabs it holds."""

    ready: bool
    replica_id: str
    connections: int
