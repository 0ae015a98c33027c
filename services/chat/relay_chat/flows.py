"""Each chat action as a whole: load what it needs, let the domain decide, commit the change with its event.

Every change goes through the kit's unit of work in one document write with its event. A staff action or
a consumed staff account whose change is stored succeeds even if publishing fails right then: the outbox
sweeper publishes the event later (`LEAVE_TO_SWEEPER`, stated at every commit). A change decided on a
conversation that changed meanwhile is decided again on the new state.
"""

from dataclasses import dataclass

from relay_chat import domain, store
from relay_chat.models import (
    ChannelChange,
    ChannelIn,
    Conversation,
    ConversationView,
    Message,
    MessageEdit,
    MessageIn,
    MessagePage,
    MyConversations,
    PositionIn,
    PositionView,
    ReadingPosition,
    ReadMarker,
    ReadState,
    SearchResults,
    StaffEntry,
    StaffMember,
    Unread,
    UnreadSummary,
)
from relay_contracts import Envelope, new_event
from relay_contracts.chat import ChatEvent, MembershipChange
from relay_contracts.issues import StaffRef
from relay_contracts.staff import StaffAccountSaved
from relay_kit.auth import StaffPrincipal
from relay_kit.errors import Conflict, NotFound
from relay_kit.store import Database
from relay_kit.unit_of_work import OnPublishFailure, UnitOfWork

RETRIES = 8


@dataclass(frozen=True)
class Chat:
    """What the chat actions work with: the service's database, its unit of work and its limits."""

    database: Database
    uow: UnitOfWork
    max_private_group: int = 8
    max_page_size: int = 200
    producer: str = "chat"

    def event(self, payload: ChatEvent, *, tenant_id: str) -> Envelope[ChatEvent]:
        """An event of this service about one tenant."""
        return new_event(payload, tenant_id=tenant_id, producer=self.producer)


# ---- loading what an action works on ------------------------------------------------------------------


async def visible_conversation(chat: Chat, *, actor: StaffPrincipal, conversation_id: str) -> Conversation:
    """A conversation the actor may see; 404 otherwise."""
    found = await store.get_conversation(chat.database, tenant_id=actor.tenant_id, conversation_id=conversation_id)
    return domain.visible(found, staff_id=actor.staff_id, conversation_id=conversation_id)


async def joined_conversation(chat: Chat, *, actor: StaffPrincipal, conversation_id: str) -> Conversation:
    """A conversation the actor belongs to; 404 if invisible, 403 for a public channel not joined."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    return domain.joined(conversation, staff_id=actor.staff_id)


async def _known_staff(chat: Chat, *, tenant_id: str, keys: list[str]) -> list[StaffMember]:
    """Active staff named by id or username; 400 naming anyone unknown."""
    wanted = domain.staff_keys(keys)
    found = await store.find_staff(chat.database, tenant_id=tenant_id, keys=wanted)
    return domain.check_all_known(wanted, found)


async def _unread(chat: Chat, *, actor: StaffPrincipal, conversations: list[Conversation],
                  override: dict[str, int] | None = None) -> tuple[dict[str, int], dict[str, Unread]]:
    """My markers and my unread counts in those of the conversations I belong to."""
    markers = await store.markers_of(chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id)
    markers.update(override or {})
    counts = await store.unread_counts(
        chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id,
        markers=domain.markers_to_count(conversations, staff_id=actor.staff_id, markers=markers))
    return markers, counts


# ---- committing conversation changes ------------------------------------------------------------------


async def _create(chat: Chat, conversation: Conversation, *, actor: StaffRef | None) -> bool:
    """Store a new conversation with its event; False if a unique rule says it exists already."""
    event = chat.event(domain.conversation_created(conversation, actor=actor), tenant_id=conversation.tenant_id)
    return await chat.uow.commit(
        store.insert_conversation(chat.database, conversation=conversation, events=[event]),
        collection=store.CONVERSATIONS, document_id=conversation.conversation_id,
        on_publish_failure=OnPublishFailure.LEAVE_TO_SWEEPER)


async def _change(chat: Chat, before: Conversation, change: domain.Change[Conversation]) -> Conversation | None:
    """Store a decided change with its event; None if the conversation changed since it was read."""
    event = chat.event(change.event, tenant_id=before.tenant_id)
    return await chat.uow.commit(
        store.change_conversation(chat.database, before=before, after=change.after, events=[event]),
        collection=store.CONVERSATIONS, document_id=before.conversation_id,
        on_publish_failure=OnPublishFailure.LEAVE_TO_SWEEPER)


# ---- staff directory and default channels -------------------------------------------------------------


async def list_staff(chat: Chat, *, actor: StaffPrincipal) -> list[StaffEntry]:
    """My tenant's active staff (to start a private message or mention someone)."""
    return list(await store.list_staff(chat.database, tenant_id=actor.tenant_id))


async def save_staff_account(chat: Chat, *, tenant_id: str, account: StaffAccountSaved) -> None:
    """Keep the directory; every active staff member belongs to the default channels (idempotent)."""
    await store.save_staff(chat.database, member=domain.staff_member(account, tenant_id=tenant_id))
    member, change, actor = domain.default_membership(account)
    for channel in await ensure_default_channels(chat, tenant_id=tenant_id):
        await _change_membership(chat, tenant_id=tenant_id, conversation_id=channel.conversation_id, member=member,
                                 change=change, actor=actor)


async def ensure_default_channels(chat: Chat, *, tenant_id: str) -> list[Conversation]:
    """The tenant's "general" and "Customer Messages" channels, created on first need."""
    channels = []
    for key in domain.DEFAULT_CHANNELS:
        channel = await store.get_default_channel(chat.database, tenant_id=tenant_id, default_key=key)
        if channel is None:
            await _create(chat, domain.default_channel(tenant_id=tenant_id, key=key, at=store.now()), actor=None)
            channel = await store.get_default_channel(chat.database, tenant_id=tenant_id, default_key=key)
            if channel is None:
                name, _ = domain.DEFAULT_CHANNELS[key]
                raise Conflict(f"The default channel {name!r} could not be created; a channel holds its name.")
        channels.append(channel)
    return channels


# ---- channels -----------------------------------------------------------------------------------------


async def create_channel(chat: Chat, *, actor: StaffPrincipal, request: ChannelIn) -> Conversation:
    """Create a public or private channel; the creator and any named staff are its first members."""
    name = domain.clean_channel_name(request.name)
    same_name = await store.channels_named(chat.database, tenant_id=actor.tenant_id, name_key=domain.name_key(name))
    if domain.name_in_sight(same_name, staff_id=actor.staff_id):
        raise domain.name_taken(name)
    others = await _known_staff(chat, tenant_id=actor.tenant_id, keys=request.member_ids)
    channel = domain.new_channel(request, actor=actor, others=others, at=store.now())
    if not await _create(chat, channel, actor=actor.ref):
        raise domain.name_taken(name)
    return channel


async def change_channel(chat: Chat, *, actor: StaffPrincipal, conversation_id: str,
                         request: ChannelChange) -> Conversation:
    """Rename, set the topic, archive or unarchive a channel, as the domain allows."""
    for _ in range(RETRIES):
        conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
        change = domain.change_channel(conversation, actor=actor, change=request)
        if change is None:
            return conversation
        if change.after.name_key != conversation.name_key and change.after.name_key:
            same_name = await store.channels_named(chat.database, tenant_id=actor.tenant_id,
                                                   name_key=change.after.name_key)
            if domain.name_in_sight(same_name, staff_id=actor.staff_id, except_id=conversation.conversation_id):
                raise domain.name_taken(change.after.name)
        try:
            changed = await _change(chat, conversation, change)
        except store.NameTaken:
            raise domain.name_taken(change.after.name) from None
        if changed:
            return changed
    raise Conflict("The channel changed while saving; try again.")


async def join_channel(chat: Chat, *, actor: StaffPrincipal, conversation_id: str) -> Conversation:
    """Join a public channel."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    domain.check_may_join(conversation, actor=actor)
    return await _change_membership(chat, tenant_id=actor.tenant_id, conversation_id=conversation_id,
                                    member=actor.ref, change=MembershipChange.JOINED, actor=actor.ref)


async def leave_channel(chat: Chat, *, actor: StaffPrincipal, conversation_id: str) -> Conversation:
    """Leave a channel (not a default one)."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    domain.check_may_leave(conversation)
    return await _change_membership(chat, tenant_id=actor.tenant_id, conversation_id=conversation_id,
                                    member=actor.ref, change=MembershipChange.LEFT, actor=actor.ref)


async def add_members(chat: Chat, *, actor: StaffPrincipal, conversation_id: str, staff_ids: list[str]) -> Conversation:
    """Add staff to a channel (managers and admins)."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    domain.check_may_add_members(conversation, actor=actor)
    for staff in await _known_staff(chat, tenant_id=actor.tenant_id, keys=staff_ids):
        conversation = await _change_membership(chat, tenant_id=actor.tenant_id, conversation_id=conversation_id,
                                                member=staff.ref, change=MembershipChange.ADDED, actor=actor.ref)
    return conversation


async def remove_member(chat: Chat, *, actor: StaffPrincipal, conversation_id: str, staff_id: str) -> Conversation:
    """Remove someone from a channel (managers and admins; not from a default one)."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    domain.check_may_remove_member(conversation, actor=actor, staff_id=staff_id)
    found = await store.find_staff(chat.database, tenant_id=actor.tenant_id, keys=[staff_id])
    member = found[0].ref if found else StaffRef(id=staff_id, name=staff_id)
    return await _change_membership(chat, tenant_id=actor.tenant_id, conversation_id=conversation_id,
                                    member=member, change=MembershipChange.REMOVED, actor=actor.ref)


async def _change_membership(chat: Chat, *, tenant_id: str, conversation_id: str, member: StaffRef,
                             change: MembershipChange, actor: StaffRef) -> Conversation:
    """Add or remove one member (nothing to do if already so); decided again if the channel changed meanwhile."""
    for _ in range(RETRIES):
        conversation = await store.get_conversation(chat.database, tenant_id=tenant_id,
                                                    conversation_id=conversation_id)
        if conversation is None:
            raise NotFound(f"No conversation {conversation_id!r}.")
        decided = domain.change_membership(conversation, member=member, change=change, actor=actor)
        if decided is None:
            return conversation
        if domain.joins(change):
            await store.raise_marker(chat.database, tenant_id=tenant_id, staff_id=member.id,
                                     conversation_id=conversation_id, seq=domain.newcomer_read_up_to(conversation))
        changed = await _change(chat, conversation, decided)
        if changed:
            return changed
    raise Conflict("The channel changed while saving; try again.")


async def list_members(chat: Chat, *, actor: StaffPrincipal, conversation_id: str) -> list[StaffEntry]:
    """Who belongs to a conversation I can see (a member no longer in the directory by id only)."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    found = await store.find_staff(chat.database, tenant_id=actor.tenant_id, keys=list(conversation.members))
    directory = {s.staff_id: s for s in found}
    return [directory.get(m) or StaffEntry(staff_id=m) for m in conversation.members]


# ---- private conversations ----------------------------------------------------------------------------


async def open_private(chat: Chat, *, actor: StaffPrincipal, staff_ids: list[str]) -> tuple[Conversation, bool]:
    """The private conversation with exactly these people: the existing one, or a new one (and True)."""
    others = await _known_staff(chat, tenant_id=actor.tenant_id, keys=staff_ids)
    conversation = domain.new_private(actor=actor, others=others, max_group=chat.max_private_group, at=store.now())
    existing = await _private_with(chat, conversation)
    if existing:
        return existing, False
    if await _create(chat, conversation, actor=actor.ref):
        return conversation, True
    existing = await _private_with(chat, conversation)  # another request started it meanwhile
    if existing is None:
        raise Conflict("Starting the conversation collided with another; try again.")
    return existing, False


async def _private_with(chat: Chat, conversation: Conversation) -> Conversation | None:
    return await store.get_private_by_participants(chat.database, tenant_id=conversation.tenant_id,
                                                   participants_key=conversation.participants_key or "")


# ---- listing ------------------------------------------------------------------------------------------


async def my_conversations(chat: Chat, *, actor: StaffPrincipal, include_archived: bool) -> MyConversations:
    """Channels I belong to and my private conversations, with unread counts and their total."""
    conversations = await store.conversations_of(chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id)
    markers, counts = await _unread(chat, actor=actor, conversations=conversations)
    return domain.my_conversations(conversations, staff_id=actor.staff_id, markers=markers, counts=counts,
                                   include_archived=include_archived)


async def browse_channels(chat: Chat, *, actor: StaffPrincipal, include_archived: bool) -> list[ConversationView]:
    """Every public channel of my tenant (to join), and whether I am in it."""
    channels = await store.public_channels(chat.database, tenant_id=actor.tenant_id,
                                           include_archived=include_archived)
    markers, counts = await _unread(chat, actor=actor, conversations=channels)
    return domain.conversation_views(channels, staff_id=actor.staff_id, markers=markers, counts=counts)


async def conversation_detail(chat: Chat, *, actor: StaffPrincipal, conversation_id: str) -> ConversationView:
    """One conversation with my read state (where the "New Messages" line goes)."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    markers, counts = await _unread(chat, actor=actor, conversations=[conversation])
    [view] = domain.conversation_views([conversation], staff_id=actor.staff_id, markers=markers, counts=counts)
    return view


# ---- messages -----------------------------------------------------------------------------------------


async def _mentions(chat: Chat, *, tenant_id: str, text: str, named: list[str]) -> list[str]:
    """Staff ids mentioned as @username or @staff_id in the text, or named by the client; 400 for unknown names."""
    explicit = await _known_staff(chat, tenant_id=tenant_id, keys=named) if named else []
    in_text = domain.mentioned_keys(text)
    found = await store.find_staff(chat.database, tenant_id=tenant_id, keys=in_text) if in_text else []
    return domain.mention_ids(explicit, found)


async def post_message(chat: Chat, *, actor: StaffPrincipal, conversation_id: str,
                       request: MessageIn) -> tuple[Message, bool]:
    """Post to a conversation I belong to (and True), or the message this client posted before under its id."""
    conversation = await joined_conversation(chat, actor=actor, conversation_id=conversation_id)
    domain.check_writable(conversation)
    tenant_id = actor.tenant_id
    if request.client_message_id:
        earlier = await _posted_before(chat, actor=actor, conversation_id=conversation_id, request=request)
        if earlier:
            return earlier, False
    reply_to_seq = None
    if request.reply_to:
        target = await store.get_message(chat.database, tenant_id=tenant_id, conversation_id=conversation_id,
                                         message_id=request.reply_to)
        reply_to_seq = domain.reply_to_seq(target, reply_to=request.reply_to)
    mentions = await _mentions(chat, tenant_id=tenant_id, text=request.text, named=request.mentions)
    posted_at = store.now()
    numbered = await store.next_seq(chat.database, tenant_id=tenant_id, conversation_id=conversation_id,
                                    at=posted_at)
    if numbered is None:
        raise NotFound(f"No conversation {conversation_id!r} that you can see.")
    message = domain.new_message(request, numbered=numbered, author=actor.ref, mentions=mentions,
                                 reply_to_seq=reply_to_seq, at=posted_at)
    event = chat.event(domain.message_posted(numbered, message), tenant_id=tenant_id)
    stored = await chat.uow.commit(
        store.insert_message(chat.database, message=message, events=[event]),
        collection=store.MESSAGES, document_id=message.message_id,
        on_publish_failure=OnPublishFailure.LEAVE_TO_SWEEPER)
    if not stored:
        earlier = await _posted_before(chat, actor=actor, conversation_id=conversation_id, request=request)
        if earlier is None:
            raise Conflict("The message collided with another; try again.")
        return earlier, False
    # The author has read everything up to their own post.
    await store.raise_marker(chat.database, tenant_id=tenant_id, staff_id=actor.staff_id,
                             conversation_id=conversation_id, seq=message.seq)
    return message, True


async def _posted_before(chat: Chat, *, actor: StaffPrincipal, conversation_id: str,
                         request: MessageIn) -> Message | None:
    return await store.get_message_by_client_id(
        chat.database, tenant_id=actor.tenant_id, conversation_id=conversation_id, author_id=actor.staff_id,
        client_message_id=request.client_message_id or "")


async def _message(chat: Chat, *, conversation: Conversation, message_id: str) -> Message | None:
    return await store.get_message(chat.database, tenant_id=conversation.tenant_id,
                                   conversation_id=conversation.conversation_id, message_id=message_id)


async def get_message(chat: Chat, *, actor: StaffPrincipal, conversation_id: str, message_id: str) -> Message:
    """One live message of a conversation I can see."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    return domain.live(await _message(chat, conversation=conversation, message_id=message_id), message_id=message_id)


async def edit_message(chat: Chat, *, actor: StaffPrincipal, conversation_id: str, message_id: str,
                       request: MessageEdit) -> Message:
    """Change the text of my own message."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    message = domain.live(await _message(chat, conversation=conversation, message_id=message_id),
                          message_id=message_id)
    domain.check_may_edit(conversation, message, actor=actor)
    if request.text == message.text:
        return message
    mentions = await _mentions(chat, tenant_id=actor.tenant_id, text=request.text, named=[])
    change = domain.edit_message(conversation, message, text=request.text, mentions=mentions, at=store.now())
    edited = await _change_message(chat, message, change)
    if edited is None:
        raise NotFound(f"No message {message_id!r} in this conversation.")
    return edited


async def delete_message(chat: Chat, *, actor: StaffPrincipal, conversation_id: str, message_id: str) -> None:
    """Delete my own message, or anyone's as a manager. Deleting twice is fine."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    message = await _message(chat, conversation=conversation, message_id=message_id)
    if message is None:
        raise NotFound(f"No message {message_id!r} in this conversation.")
    change = domain.delete_message(conversation, message, actor=actor, at=store.now())
    if change is not None:
        await _change_message(chat, message, change)


async def _change_message(chat: Chat, before: Message, change: domain.Change[Message]) -> Message | None:
    """Store a decided change of a message with its event; None if the message is gone."""
    return await chat.uow.commit(
        store.change_message(chat.database, before=before, after=change.after,
                             events=[chat.event(change.event, tenant_id=before.tenant_id)]),
        collection=store.MESSAGES, document_id=before.message_id, on_publish_failure=OnPublishFailure.LEAVE_TO_SWEEPER)


async def list_messages(chat: Chat, *, actor: StaffPrincipal, conversation_id: str, before: str | None,
                        after: int | None, around: int | None, limit: int) -> MessagePage:
    """A page of messages, oldest first, around any message or before/after one; says if more lie either way."""
    await visible_conversation(chat, actor=actor, conversation_id=conversation_id)
    plan = domain.plan_page(before=before, after=after, around=around, limit=limit,
                            max_page_size=chat.max_page_size)

    async def read(seqs: domain.SeqRange | None) -> list[Message]:
        if seqs is None:
            return []
        return await store.page_of_messages(chat.database, tenant_id=actor.tenant_id,
                                            conversation_id=conversation_id, above=seqs.above, below=seqs.below,
                                            newest_first=seqs.newest_first, limit=seqs.count)

    return domain.assemble_page(plan, older=await read(plan.older), newer=await read(plan.newer))


# ---- search -------------------------------------------------------------------------------------------


async def search_messages(chat: Chat, *, actor: StaffPrincipal, q: str, limit: int) -> SearchResults:
    """Live messages of the conversations I belong to (private ones too) with every word of `q` as a prefix."""
    prefixes = domain.query_terms(q)
    conversations = domain.searchable(
        await store.conversations_of(chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id),
        staff_id=actor.staff_id)
    found = await store.search_messages(chat.database, tenant_id=actor.tenant_id,
                                        conversation_ids=sorted(conversations), prefixes=prefixes, limit=limit)
    return domain.search_results(found, conversations=conversations)


async def backfill_search_terms(chat: Chat, *, batch: int = 500) -> int:
    """Give messages stored before search existed their search words (idempotent); how many were given them."""
    done = 0
    while messages := await store.messages_without_search_terms(chat.database, limit=batch):
        for message in messages:
            await store.set_search_terms(chat.database, message=message,
                                         terms=[] if message.deleted else domain.search_terms(message.text))
        done += len(messages)
    return done


# ---- read state and where I left off ------------------------------------------------------------------


async def mark_read_up_to(chat: Chat, *, actor: StaffPrincipal, conversation_id: str, up_to_seq: int) -> ReadState:
    """Move my read marker forwards (never backwards, never past the end); audience of the event: me only."""
    for _ in range(RETRIES):
        conversation = await joined_conversation(chat, actor=actor, conversation_id=conversation_id)
        target = domain.read_target(conversation, up_to_seq=up_to_seq)
        marker = await store.get_marker(chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id,
                                        conversation_id=conversation_id)
        current = marker.read_up_to_seq if marker else None
        if target <= (current or 0):
            return await _read_state(chat, actor=actor, conversation_id=conversation_id)
        conversations = await store.conversations_of(chat.database, tenant_id=actor.tenant_id,
                                                     staff_id=actor.staff_id)
        markers, counts = await _unread(chat, actor=actor, conversations=conversations,
                                        override={conversation_id: target})
        state = domain.read_state(conversation, conversation_id=conversation_id, markers=markers, counts=counts)
        moved = chat.event(domain.marker_moved(conversation, staff_id=actor.staff_id, state=state),
                           tenant_id=actor.tenant_id)
        after = ReadMarker(tenant_id=actor.tenant_id, staff_id=actor.staff_id, conversation_id=conversation_id,
                           read_up_to_seq=target, updated_at=store.now())
        document_id = store.marker_id(tenant_id=actor.tenant_id, staff_id=actor.staff_id,
                                      conversation_id=conversation_id)
        moved_marker = await chat.uow.commit(
            store.move_marker(chat.database, marker=after, expected=current, events=[moved]),
            collection=store.READ_STATE, document_id=document_id, on_publish_failure=OnPublishFailure.LEAVE_TO_SWEEPER)
        if moved_marker:
            return state
    raise Conflict("The read marker moved meanwhile; try again.")


async def _read_state(chat: Chat, *, actor: StaffPrincipal, conversation_id: str) -> ReadState:
    conversations = await store.conversations_of(chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id)
    markers, counts = await _unread(chat, actor=actor, conversations=conversations)
    conversation = next((c for c in conversations if c.conversation_id == conversation_id), None)
    return domain.read_state(conversation, conversation_id=conversation_id, markers=markers, counts=counts)


async def unread_summary(chat: Chat, *, actor: StaffPrincipal) -> UnreadSummary:
    """My unread state in every conversation I belong to, and the total (the badges)."""
    conversations = await store.conversations_of(chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id)
    markers, counts = await _unread(chat, actor=actor, conversations=conversations)
    return domain.unread_summary(conversations, markers=markers, counts=counts)


async def save_position(chat: Chat, *, actor: StaffPrincipal, request: PositionIn) -> PositionView:
    """Remember the conversation I have open and where in it; audience of the event: me only."""
    conversation = await visible_conversation(chat, actor=actor, conversation_id=request.conversation_id)
    seq = domain.position_seq(conversation, seq=request.seq)
    saved = chat.event(domain.position_saved(conversation, staff_id=actor.staff_id, seq=seq),
                       tenant_id=actor.tenant_id)
    position = ReadingPosition(tenant_id=actor.tenant_id, staff_id=actor.staff_id,
                               conversation_id=conversation.conversation_id, seq=seq, updated_at=store.now())
    stored = await chat.uow.commit(
        store.save_position(chat.database, position=position, events=[saved]),
        collection=store.POSITIONS, document_id=store.position_id(tenant_id=actor.tenant_id, staff_id=actor.staff_id),
        on_publish_failure=OnPublishFailure.LEAVE_TO_SWEEPER)
    return await _position_view(chat, actor=actor, position=stored, conversation=conversation)


async def get_position(chat: Chat, *, actor: StaffPrincipal) -> PositionView:
    """Where I left off (conversation and message), or nowhere if I can no longer see it."""
    position = await store.get_position(chat.database, tenant_id=actor.tenant_id, staff_id=actor.staff_id)
    if position is None:
        return domain.NOWHERE
    conversation = await store.get_conversation(chat.database, tenant_id=actor.tenant_id,
                                                conversation_id=position.conversation_id)
    if conversation is None or not domain.can_see(conversation, staff_id=actor.staff_id):
        return domain.NOWHERE
    return await _position_view(chat, actor=actor, position=position, conversation=conversation)


async def _position_view(chat: Chat, *, actor: StaffPrincipal, position: ReadingPosition,
                         conversation: Conversation) -> PositionView:
    markers, counts = await _unread(chat, actor=actor, conversations=[conversation])
    return domain.position_view(position, conversation=conversation, markers=markers, counts=counts)
