"""Every change is announced on chat.events, once, with the audience that may see it."""

import asyncio
from collections import Counter
from typing import Any

from relay_contracts import parse_event
from relay_contracts.topics import CHAT_EVENTS
from relay_stack.polling import eventually
from relay_stack.testing import TopicWatch


async def _chat_events(bootstrap: str, tenant_id: str, wanted: set[str]) -> list[Any]:
    """Every chat event of the tenant, read from the start of the topic until all wanted types are there."""
    watch = TopicWatch(bootstrap, CHAT_EVENTS, from_beginning=True).start()
    try:
        async def all_there() -> bool:
            return wanted <= {e["type"] for e in watch.of(tenant_id)}

        await eventually(all_there, timeout=15, what=f"chat events {sorted(wanted)}")

        async def quiet() -> bool:  # and anything published twice by mistake
            before = len(watch.of(tenant_id))
            await asyncio.sleep(0.3)
            return len(watch.of(tenant_id)) == before

        await eventually(quiet, timeout=15, what="no more chat events")
        return [parse_event({k: v for k, v in e.items() if not k.startswith("_")}) for e in watch.of(tenant_id)]
    finally:
        watch.stop()


async def test_each_change_is_published_once_with_its_audience(team) -> None:
    await team.hire("Alice Martin", role="manager")
    await team.hire("Bob Chen", "Carol Diaz")
    alice, bob = team.client("alice"), team.client("bob")
    channel = team.ok(await alice.post("/api/chat/channels", json={
        "name": "Back office", "is_private": True, "member_ids": ["bob"]}), 201)
    cid = channel["conversation_id"]
    posted = team.ok(await alice.post(f"/api/chat/conversations/{cid}/messages", json={"text": "hi @bob"}), 201)
    team.ok(await bob.post(f"/api/chat/conversations/{cid}/read", json={"up_to_seq": 1}))
    team.ok(await alice.post(f"/api/chat/channels/{cid}/members", json={"staff_ids": ["carol"]}))
    assert (await alice.delete(f"/api/chat/channels/{cid}/members/{team.id('carol')}")).status_code == 204
    assert (await alice.delete(f"/api/chat/conversations/{cid}/messages/{posted['message_id']}")).status_code == 204

    wanted = {"chat.conversation_created", "chat.message_posted", "chat.read_marker_moved",
              "chat.membership_changed", "chat.message_deleted"}
    events = [e for e in await _chat_events(team.bootstrap, team.tenant_id, wanted)
              if getattr(e.payload, "conversation", None) and e.payload.conversation.conversation_id == cid]
    assert all(n == 1 for n in Counter(str(e.event_id) for e in events).values())
    by_type = {}
    for event in events:
        by_type.setdefault(event.type, []).append(event.payload)
    pair = sorted([team.id("alice"), team.id("bob")])
    trio = sorted([*pair, team.id("carol")])
    assert by_type["chat.conversation_created"][0].audience == pair
    message = by_type["chat.message_posted"][0]
    assert message.audience == pair and message.message.mentions == [team.id("bob")]
    assert message.conversation.is_private and message.conversation.name == "Back office"
    marker = by_type["chat.read_marker_moved"][0]
    assert (marker.audience, marker.read_up_to_seq, marker.unread_count, marker.last_seq) == (
        [team.id("bob")], 1, 0, 1)
    added, removed = by_type["chat.membership_changed"]
    assert (added.change, added.audience) == ("added", trio)
    assert (removed.change, removed.audience) == ("removed", trio)
    deleted = by_type["chat.message_deleted"][0]
    assert deleted.audience == pair and deleted.author_id == team.id("alice")
