"""The chat rules on their own, without the service: mentions, paging around an anchor, who may change a channel."""

from datetime import UTC, datetime

import pytest

from relay_chat import domain
from relay_chat.models import ChannelChange, Conversation, Message
from relay_contracts.chat import ConversationKind
from relay_contracts.issues import StaffRef
from relay_contracts.staff import StaffRole
from relay_kit.auth import StaffPrincipal
from relay_kit.errors import BadRequest, Forbidden

AT = datetime(2025, 1, 1, tzinfo=UTC)


def _messages(*seqs: int) -> list[Message]:
    return [Message(message_id=f"m{s}", tenant_id="t", conversation_id="c", seq=s, author=StaffRef(id="a", name="A"),
                    author_id="a", text=str(s), posted_at=AT) for s in seqs]


def _page(seqs: list[int], *, limit: int, **anchor) -> tuple[list[int], bool, bool]:
    """Run a page plan against messages numbered `seqs`, as the store would read it."""
    plan = domain.plan_page(limit=limit, max_page_size=200, **{"before": None, "after": None, "around": None,
                                                                **anchor})

    def read(seqs_range: domain.SeqRange | None) -> list[Message]:
        if seqs_range is None:
            return []
        found = [s for s in seqs if (seqs_range.above is None or s > seqs_range.above)
                 and (seqs_range.below is None or s < seqs_range.below)]
        found.sort(reverse=seqs_range.newest_first)
        return _messages(*found[:seqs_range.count])

    page = domain.assemble_page(plan, older=read(plan.older), newer=read(plan.newer))
    return [m.seq for m in page.messages], page.has_more_before, page.has_more_after


def test_mentions_are_usernames_or_ids_after_an_at_sign_but_not_email_addresses() -> None:
    assert domain.mentioned_keys("@Bob and @stf_1: mail@example.com, @carol.") == ["Bob", "carol", "stf_1"]


def test_a_page_reads_around_before_or_after_an_anchor_and_says_if_more_lie_either_way() -> None:
    seqs = list(range(1, 21))
    assert _page(seqs, limit=5, before="latest") == ([16, 17, 18, 19, 20], True, False)
    assert _page(seqs, limit=5, before="16") == ([11, 12, 13, 14, 15], True, True)
    assert _page(seqs, limit=4, after=3) == ([4, 5, 6, 7], True, True)
    assert _page(seqs, limit=6, around=10) == ([7, 8, 9, 10, 11, 12], True, True)
    assert _page(seqs, limit=6, around=1) == ([1, 2, 3, 4, 5, 6], False, True)
    assert _page(seqs, limit=6, around=19) == ([16, 17, 18, 19, 20], True, False)  # half the page before it
    with pytest.raises(BadRequest):
        _page(seqs, limit=5, before="5", after=2)
    with pytest.raises(BadRequest):
        _page(seqs, limit=5, before="yesterday")


def test_members_set_the_topic_but_only_managers_or_the_creator_rename_and_the_audience_is_the_members() -> None:
    channel = Conversation(conversation_id="c", tenant_id="t", kind=ConversationKind.CHANNEL, name="Desk",
                           name_key="desk", is_private=False, members=["bob", "carol"], created_by="bob",
                           created_at=AT, updated_at=AT)
    carol = StaffPrincipal(staff_id="carol", tenant_id="t", name="Carol")
    change = domain.change_channel(channel, actor=carol, change=ChannelChange(topic=" rota "))
    assert change is not None and change.after.topic == "rota" and change.event.audience == ["bob", "carol"]
    with pytest.raises(Forbidden):
        domain.change_channel(channel, actor=carol, change=ChannelChange(name="Counter"))
    manager = StaffPrincipal(staff_id="alice", tenant_id="t", name="Alice", role=StaffRole.MANAGER)
    renamed = domain.change_channel(channel, actor=manager, change=ChannelChange(name="#Front  Desk"))
    assert renamed is not None and (renamed.after.name, renamed.after.name_key) == ("Front Desk", "front desk")
    assert domain.change_channel(channel, actor=carol, change=ChannelChange(topic="")) is None
