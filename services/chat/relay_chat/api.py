"""The chat HTTP API under /api/chat: parse, authorise (the staff token), call the flows, shape the reply."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from relay_chat import domain, flows
from relay_chat.models import (
    ChannelChange,
    ChannelIn,
    ChannelList,
    ConversationView,
    MemberList,
    MembersIn,
    MessageEdit,
    MessageIn,
    MessagePage,
    MessageView,
    MyConversations,
    OpenedPrivate,
    PositionIn,
    PositionView,
    PrivateIn,
    ReadIn,
    ReadState,
    SearchResults,
    StaffDirectory,
    UnreadSummary,
)
from relay_kit.auth import CurrentStaff

router = APIRouter(prefix="/api/chat", tags=["chat"])


def _chat(request: Request) -> flows.Chat:
    return request.app.state.chat


Chat = Annotated[flows.Chat, Depends(_chat)]
ConversationId = Annotated[str, Path(min_length=1, max_length=100)]
MessageId = Annotated[str, Path(min_length=1, max_length=100)]
StaffId = Annotated[str, Path(max_length=100)]


@router.get("/staff", response_model=StaffDirectory)
async def list_staff(staff: CurrentStaff, chat: Chat) -> StaffDirectory:
    """My tenant's staff directory (for private messages and @mentions)."""
    return StaffDirectory(staff=await flows.list_staff(chat, actor=staff))


@router.get("/conversations", response_model=MyConversations)
async def my_conversations(staff: CurrentStaff, chat: Chat, include_archived: bool = False) -> MyConversations:
    """My channels and private conversations with unread counts, and the total."""
    return await flows.my_conversations(chat, actor=staff, include_archived=include_archived)


@router.get("/channels", response_model=ChannelList)
async def browse_channels(staff: CurrentStaff, chat: Chat, include_archived: bool = False) -> ChannelList:
    """Every public channel of my tenant, to browse and join."""
    return ChannelList(channels=await flows.browse_channels(chat, actor=staff, include_archived=include_archived))


@router.post("/channels", status_code=201, response_model=ConversationView)
async def create_channel(body: ChannelIn, staff: CurrentStaff, chat: Chat) -> ConversationView:
    """Create a public or private channel."""
    channel = await flows.create_channel(chat, actor=staff, request=body)
    return domain.conversation_view(channel, staff_id=staff.staff_id)


@router.patch("/channels/{conversation_id}", response_model=ConversationView)
async def change_channel(conversation_id: ConversationId, body: ChannelChange, staff: CurrentStaff,
                         chat: Chat) -> ConversationView:
    """Rename, set the topic, archive or unarchive a channel."""
    await flows.change_channel(chat, actor=staff, conversation_id=conversation_id, request=body)
    return await flows.conversation_detail(chat, actor=staff, conversation_id=conversation_id)


@router.post("/channels/{conversation_id}/join", response_model=ConversationView)
async def join_channel(conversation_id: ConversationId, staff: CurrentStaff, chat: Chat) -> ConversationView:
    """Join a public channel."""
    await flows.join_channel(chat, actor=staff, conversation_id=conversation_id)
    return await flows.conversation_detail(chat, actor=staff, conversation_id=conversation_id)


@router.post("/channels/{conversation_id}/leave", status_code=204)
async def leave_channel(conversation_id: ConversationId, staff: CurrentStaff, chat: Chat) -> Response:
    """Leave a channel."""
    await flows.leave_channel(chat, actor=staff, conversation_id=conversation_id)
    return Response(status_code=204)


@router.post("/channels/{conversation_id}/members", response_model=MemberList)
async def add_members(conversation_id: ConversationId, body: MembersIn, staff: CurrentStaff,
                      chat: Chat) -> MemberList:
    """Add staff to a channel (managers and admins)."""
    await flows.add_members(chat, actor=staff, conversation_id=conversation_id, staff_ids=body.staff_ids)
    return MemberList(members=await flows.list_members(chat, actor=staff, conversation_id=conversation_id))


@router.delete("/channels/{conversation_id}/members/{staff_id}", status_code=204)
async def remove_member(conversation_id: ConversationId, staff_id: StaffId, staff: CurrentStaff,
                        chat: Chat) -> Response:
    """Remove someone from a channel (managers and admins)."""
    await flows.remove_member(chat, actor=staff, conversation_id=conversation_id, staff_id=staff_id)
    return Response(status_code=204)


@router.post("/private", response_model=OpenedPrivate, status_code=201,
             responses={200: {"model": OpenedPrivate, "description": "the existing conversation with these people"}})
async def open_private(body: PrivateIn, staff: CurrentStaff, chat: Chat, response: Response) -> OpenedPrivate:
    """Start a private conversation (201), or open the existing one with exactly these people (200)."""
    conversation, created = await flows.open_private(chat, actor=staff, staff_ids=body.staff_ids)
    response.status_code = 201 if created else 200
    detail = await flows.conversation_detail(chat, actor=staff, conversation_id=conversation.conversation_id)
    return OpenedPrivate(**detail.model_dump(), created=created)


@router.get("/conversations/{conversation_id}", response_model=ConversationView)
async def conversation_detail(conversation_id: ConversationId, staff: CurrentStaff, chat: Chat) -> ConversationView:
    """One conversation with my unread count and first unread message."""
    return await flows.conversation_detail(chat, actor=staff, conversation_id=conversation_id)


@router.get("/conversations/{conversation_id}/members", response_model=MemberList)
async def list_members(conversation_id: ConversationId, staff: CurrentStaff, chat: Chat) -> MemberList:
    """Who belongs to the conversation."""
    return MemberList(members=await flows.list_members(chat, actor=staff, conversation_id=conversation_id))


@router.get("/conversations/{conversation_id}/messages", response_model=MessagePage)
async def list_messages(
    conversation_id: ConversationId, staff: CurrentStaff, chat: Chat,
    before: Annotated[str | None, Query(max_length=20, description="a seq, or 'latest'")] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
    around: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> MessagePage:
    """A page of messages, oldest first: the latest, or before/after/around a message number."""
    return await flows.list_messages(chat, actor=staff, conversation_id=conversation_id, before=before,
                                     after=after, around=around, limit=limit)


@router.post("/conversations/{conversation_id}/messages", response_model=MessageView, status_code=201,
             responses={200: {"model": MessageView, "description": "posted before under this client_message_id"}})
async def post_message(conversation_id: ConversationId, body: MessageIn, staff: CurrentStaff, chat: Chat,
                       response: Response) -> MessageView:
    """Post a message (201); the same client_message_id again returns the stored one (200)."""
    message, created = await flows.post_message(chat, actor=staff, conversation_id=conversation_id, request=body)
    response.status_code = 201 if created else 200
    return message


@router.get("/conversations/{conversation_id}/messages/{message_id}", response_model=MessageView)
async def get_message(conversation_id: ConversationId, message_id: MessageId, staff: CurrentStaff,
                      chat: Chat) -> MessageView:
    """One message."""
    return await flows.get_message(chat, actor=staff, conversation_id=conversation_id, message_id=message_id)


@router.patch("/conversations/{conversation_id}/messages/{message_id}", response_model=MessageView)
async def edit_message(conversation_id: ConversationId, message_id: MessageId, body: MessageEdit,
                       staff: CurrentStaff, chat: Chat) -> MessageView:
    """Edit my own message."""
    return await flows.edit_message(chat, actor=staff, conversation_id=conversation_id, message_id=message_id,
                                    request=body)


@router.delete("/conversations/{conversation_id}/messages/{message_id}", status_code=204)
async def delete_message(conversation_id: ConversationId, message_id: MessageId, staff: CurrentStaff,
                         chat: Chat) -> Response:
    """Delete my own message (managers: anyone's)."""
    await flows.delete_message(chat, actor=staff, conversation_id=conversation_id, message_id=message_id)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/read", response_model=ReadState)
async def mark_read(conversation_id: ConversationId, body: ReadIn, staff: CurrentStaff, chat: Chat) -> ReadState:
    """Everything up to this message number is read (the marker never moves backwards)."""
    return await flows.mark_read_up_to(chat, actor=staff, conversation_id=conversation_id, up_to_seq=body.up_to_seq)


@router.get("/search", response_model=SearchResults)
async def search_messages(
    staff: CurrentStaff, chat: Chat,
    q: Annotated[str, Query(min_length=1, max_length=100, description="words; each matches the start of a word")],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> SearchResults:
    """Messages of the conversations I belong to (private ones included) with every word searched, newest first."""
    return await flows.search_messages(chat, actor=staff, q=q, limit=limit)


@router.get("/me/unread", response_model=UnreadSummary)
async def my_unread(staff: CurrentStaff, chat: Chat) -> UnreadSummary:
    """My unread count, first unread message and marker in every conversation, and the total."""
    return await flows.unread_summary(chat, actor=staff)


@router.put("/me/position", response_model=PositionView)
async def save_position(body: PositionIn, staff: CurrentStaff, chat: Chat) -> PositionView:
    """Remember the conversation I have open and where in it."""
    return await flows.save_position(chat, actor=staff, request=body)


@router.get("/me/position", response_model=PositionView)
async def get_position(staff: CurrentStaff, chat: Chat) -> PositionView:
    """Where I left off: the conversation and message, or `conversation_id` and `seq` null."""
    return await flows.get_position(chat, actor=staff)
