"""The chat HTTP API under /api/chat: parse, authorise (the staff token), call the domain, shape the reply."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from relay_chat import domain
from relay_kit.auth import CurrentStaff

router = APIRouter(prefix="/api/chat", tags=["chat"])


def _chat(request: Request) -> domain.Chat:
    return request.app.state.chat


Chat = Annotated[domain.Chat, Depends(_chat)]
ConversationId = Annotated[str, Path(min_length=1, max_length=100)]
MessageId = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("/staff")
async def list_staff(staff: CurrentStaff, chat: Chat) -> dict[str, Any]:
    """My tenant's staff directory (for private messages and @mentions)."""
    return {"staff": await domain.list_staff(chat, actor=staff)}


@router.get("/conversations")
async def my_conversations(staff: CurrentStaff, chat: Chat, include_archived: bool = False) -> dict[str, Any]:
    """My channels and private conversations with unread counts, and the total."""
    return await domain.my_conversations(chat, actor=staff, include_archived=include_archived)


@router.get("/channels")
async def browse_channels(staff: CurrentStaff, chat: Chat, include_archived: bool = False) -> dict[str, Any]:
    """Every public channel of my tenant, to browse and join."""
    return {"channels": await domain.browse_channels(chat, actor=staff, include_archived=include_archived)}


@router.post("/channels", status_code=201)
async def create_channel(body: domain.ChannelIn, staff: CurrentStaff, chat: Chat) -> dict[str, Any]:
    """Create a public or private channel."""
    channel = await domain.create_channel(chat, actor=staff, channel=body)
    return domain.conversation_view(channel, staff_id=staff.staff_id)


@router.patch("/channels/{conversation_id}")
async def change_channel(conversation_id: ConversationId, body: domain.ChannelChange, staff: CurrentStaff,
                         chat: Chat) -> dict[str, Any]:
    """Rename, set the topic, archive or unarchive a channel."""
    await domain.change_channel(chat, actor=staff, conversation_id=conversation_id, change=body)
    return await domain.conversation_detail(chat, actor=staff, conversation_id=conversation_id)


@router.post("/channels/{conversation_id}/join")
async def join_channel(conversation_id: ConversationId, staff: CurrentStaff, chat: Chat) -> dict[str, Any]:
    """Join a public channel."""
    await domain.join_channel(chat, actor=staff, conversation_id=conversation_id)
    return await domain.conversation_detail(chat, actor=staff, conversation_id=conversation_id)


@router.post("/channels/{conversation_id}/leave", status_code=204)
async def leave_channel(conversation_id: ConversationId, staff: CurrentStaff, chat: Chat) -> Response:
    """Leave a channel."""
    await domain.leave_channel(chat, actor=staff, conversation_id=conversation_id)
    return Response(status_code=204)


@router.post("/channels/{conversation_id}/members")
async def add_members(conversation_id: ConversationId, body: domain.MembersIn, staff: CurrentStaff,
                      chat: Chat) -> dict[str, Any]:
    """Add staff to a channel (managers and admins)."""
    await domain.add_members(chat, actor=staff, conversation_id=conversation_id, staff_ids=body.staff_ids)
    return {"members": await domain.list_members(chat, actor=staff, conversation_id=conversation_id)}


@router.delete("/channels/{conversation_id}/members/{staff_id}", status_code=204)
async def remove_member(conversation_id: ConversationId, staff_id: Annotated[str, Path(max_length=100)],
                        staff: CurrentStaff, chat: Chat) -> Response:
    """Remove someone from a channel (managers and admins)."""
    await domain.remove_member(chat, actor=staff, conversation_id=conversation_id, staff_id=staff_id)
    return Response(status_code=204)


@router.post("/private")
async def open_private(body: domain.PrivateIn, staff: CurrentStaff, chat: Chat, response: Response) -> dict[str, Any]:
    """Start a private conversation, or open the existing one with exactly these people (200 vs 201)."""
    conversation, created = await domain.open_private(chat, actor=staff, staff_ids=body.staff_ids)
    response.status_code = 201 if created else 200
    detail = await domain.conversation_detail(chat, actor=staff, conversation_id=conversation["_id"])
    return {**detail, "created": created}


@router.get("/conversations/{conversation_id}")
async def conversation_detail(conversation_id: ConversationId, staff: CurrentStaff, chat: Chat) -> dict[str, Any]:
    """One conversation with my unread count and first unread message."""
    return await domain.conversation_detail(chat, actor=staff, conversation_id=conversation_id)


@router.get("/conversations/{conversation_id}/members")
async def list_members(conversation_id: ConversationId, staff: CurrentStaff, chat: Chat) -> dict[str, Any]:
    """Who belongs to the conversation."""
    return {"members": await domain.list_members(chat, actor=staff, conversation_id=conversation_id)}


@router.get("/conversations/{conversation_id}/messages")
async def list_messages(
    conversation_id: ConversationId, staff: CurrentStaff, chat: Chat,
    before: Annotated[str | None, Query(max_length=20, description="a seq, or 'latest'")] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
    around: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """A page of messages, oldest first: the latest, or before/after/around a message number."""
    return await domain.list_messages(chat, actor=staff, conversation_id=conversation_id, before=before,
                                      after=after, around=around, limit=limit)


@router.post("/conversations/{conversation_id}/messages")
async def post_message(conversation_id: ConversationId, body: domain.MessageIn, staff: CurrentStaff, chat: Chat,
                       response: Response) -> dict[str, Any]:
    """Post a message (201); the same client_message_id again returns the stored one (200)."""
    message, created = await domain.post_message(chat, actor=staff, conversation_id=conversation_id, message=body)
    response.status_code = 201 if created else 200
    return domain.message_view(message)


@router.get("/conversations/{conversation_id}/messages/{message_id}")
async def get_message(conversation_id: ConversationId, message_id: MessageId, staff: CurrentStaff,
                      chat: Chat) -> dict[str, Any]:
    """One message."""
    return domain.message_view(await domain.get_message(chat, actor=staff, conversation_id=conversation_id,
                                                        message_id=message_id))


@router.patch("/conversations/{conversation_id}/messages/{message_id}")
async def edit_message(conversation_id: ConversationId, message_id: MessageId, body: domain.MessageEdit,
                       staff: CurrentStaff, chat: Chat) -> dict[str, Any]:
    """Edit my own message."""
    return domain.message_view(await domain.edit_message(chat, actor=staff, conversation_id=conversation_id,
                                                         message_id=message_id, edit=body))


@router.delete("/conversations/{conversation_id}/messages/{message_id}", status_code=204)
async def delete_message(conversation_id: ConversationId, message_id: MessageId, staff: CurrentStaff,
                         chat: Chat) -> Response:
    """Delete my own message (managers: anyone's)."""
    await domain.delete_message(chat, actor=staff, conversation_id=conversation_id, message_id=message_id)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/read")
async def mark_read(conversation_id: ConversationId, body: domain.ReadIn, staff: CurrentStaff,
                    chat: Chat) -> dict[str, Any]:
    """Everything up to this message number is read (the marker never moves backwards)."""
    return await domain.mark_read_up_to(chat, actor=staff, conversation_id=conversation_id,
                                        up_to_seq=body.up_to_seq)


@router.get("/me/unread")
async def my_unread(staff: CurrentStaff, chat: Chat) -> dict[str, Any]:
    """My unread count, first unread message and marker in every conversation, and the total."""
    return await domain.unread_summary(chat, actor=staff)


@router.put("/me/position")
async def save_position(body: domain.PositionIn, staff: CurrentStaff, chat: Chat) -> dict[str, Any]:
    """Remember the conversation I have open and where in it."""
    return await domain.save_position(chat, actor=staff, position=body)


@router.get("/me/position")
async def get_position(staff: CurrentStaff, chat: Chat) -> dict[str, Any]:
    """Where I left off: {conversation_id, seq, conversation} or {"conversation_id": null}."""
    return await domain.get_position(chat, actor=staff) or {"conversation_id": None, "seq": None}
