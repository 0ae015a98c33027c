"""Chat pushes over real WebSockets: only members get them, with toasts, mentions and unread badges."""

import httpx
import pytest
import websockets

POSTED = "chat.message_posted"


async def test_members_get_the_push_and_a_non_member_gets_nothing(team) -> None:
    await team.hire("Alice Martin", "Bob Chen", "Carol Diaz")
    alice = team.client("alice")
    bob_tab = await team.open_tab("bob", replica="a")
    carol_tab = await team.open_tab("carol", replica="a")
    cid = team.ok(await alice.post("/api/chat/channels", json={
        "name": "Managers only", "is_private": True, "member_ids": ["bob"]}), 201)["conversation_id"]
    team.ok(await alice.post(f"/api/chat/conversations/{cid}/messages", json={"text": "raise for Bob?"}), 201)

    pushed = await bob_tab.next(lambda f: f.get("type") == POSTED and f["payload"]["conversation"][
        "conversation_id"] == cid)
    assert pushed["payload"]["message"]["text"] == "raise for Bob?" and "audience" not in pushed["payload"]
    toast = await bob_tab.next(lambda f: f["kind"] == "toast" and f.get("conversation_id") == cid)
    assert (toast["title"], toast["where"], toast["body"]) == ("Alice Martin", "# Managers only", "raise for Bob?")
    assert toast["event_id"] == pushed["event_id"] and toast["open"] == {"conversation_id": cid, "seq": 1}

    await carol_tab.settle()  # same replica, same fan-out: anything for Carol would be queued before the pong
    assert not [f for f in carol_tab.frames if cid in str(f)]
    assert (await team.client("carol").get(f"/api/chat/conversations/{cid}")).status_code == 404


async def test_unread_badges_follow_new_messages_and_reads_on_every_tab(team) -> None:
    await team.hire("Alice Martin", "Bob Chen")
    alice, bob = team.client("alice"), team.client("bob")
    general = await team.general()
    url = f"/api/chat/conversations/{general}/messages"
    team.ok(await alice.post(url, json={"text": "before Bob connects"}), 201)
    bob_a = await team.open_tab("bob", replica="a")
    bob_b = await team.open_tab("bob", replica="b")
    snapshot = bob_a.of_kind("unread_snapshot")[0]
    assert snapshot["total"] == 1 and snapshot["conversations"][general]["unread"] == 1

    team.ok(await alice.post(url, json={"text": "two"}), 201)
    team.ok(await alice.post(url, json={"text": "three"}), 201)
    for tab in (bob_a, bob_b):
        badge = await tab.next(lambda f: f["kind"] == "unread" and f["unread"] == 3)
        assert (badge["conversation_id"], badge["first_unread_seq"], badge["total"]) == (general, 1, 3)

    team.ok(await bob.post(f"/api/chat/conversations/{general}/read", json={"up_to_seq": 2}))
    for tab in (bob_a, bob_b):
        badge = await tab.next(lambda f: f["kind"] == "unread" and f["unread"] == 1)
        assert (badge["first_unread_seq"], badge["read_up_to_seq"], badge["total"]) == (3, 2, 1)

    mine = team.ok(await bob.post(url, json={"text": "my own"}), 201)  # never unread for me; clears the rest
    for tab in (bob_a, bob_b):
        badge = await tab.next(lambda f: f["kind"] == "unread" and f.get("last_seq") == mine["seq"])
        assert (badge["unread"], badge["total"]) == (0, 0)
        assert not [f for f in tab.of_kind("toast") if f.get("message_id") == mine["message_id"]]


async def test_a_mention_notifies_the_mentioned_person(team) -> None:
    await team.hire("Alice Martin", "Bob Chen", "Carol Diaz")
    bob_tab = await team.open_tab("bob", replica="b")
    carol_tab = await team.open_tab("carol", replica="a")
    general = await team.general()
    team.ok(await team.client("alice").post(f"/api/chat/conversations/{general}/messages",
                                            json={"text": "@bob the van is here"}), 201)
    mention = await bob_tab.next(lambda f: f["kind"] == "toast" and f.get("conversation_id") == general)
    assert mention["mention"] is True and mention["title"] == "Alice Martin mentioned you"
    assert mention["where"] == "# general" and mention["attention"] == "mention"
    plain = await carol_tab.next(lambda f: f["kind"] == "toast" and f.get("conversation_id") == general)
    assert plain["mention"] is False and plain["title"] == "Alice Martin" and plain["attention"] == "chat"


async def test_edits_and_deletions_reach_members_only(team) -> None:
    await team.hire("Alice Martin", "Bob Chen", "Carol Diaz")
    alice = team.client("alice")
    private = team.ok(await alice.post("/api/chat/private", json={"staff_ids": ["bob"]}), 201)["conversation_id"]
    bob_tab = await team.open_tab("bob", replica="b")
    carol_tab = await team.open_tab("carol", replica="b")
    url = f"/api/chat/conversations/{private}/messages"
    message = team.ok(await alice.post(url, json={"text": "your shift: 9-5"}), 201)
    toast = await bob_tab.next(lambda f: f["kind"] == "toast" and f.get("conversation_id") == private)
    assert toast["where"] == "Alice Martin"  # a private message is named after the other person
    team.ok(await alice.patch(f"{url}/{message['message_id']}", json={"text": "your shift: 10-6"}))
    edited = await bob_tab.next(lambda f: f.get("type") == "chat.message_edited")
    assert edited["payload"]["message"]["text"] == "your shift: 10-6" and edited["payload"]["message"]["edited_at"]
    assert (await alice.delete(f"{url}/{message['message_id']}")).status_code == 204
    deleted = await bob_tab.next(lambda f: f.get("type") == "chat.message_deleted")
    assert deleted["payload"]["message_id"] == message["message_id"]
    badge = await bob_tab.next(lambda f: f["kind"] == "unread_snapshot" and f["conversations"].get(private, {}).get(
        "unread") == 0 and f["conversations"][private]["last_seq"] == 1)
    assert badge["total"] == 0  # the deleted message no longer counts
    await carol_tab.settle()
    assert not [f for f in carol_tab.frames if private in str(f)]


async def test_a_tab_without_a_valid_session_is_refused(live_stack) -> None:
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(f"{live_stack.ws_url('a')}?token=forged")
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(live_stack.ws_url("a"))


async def test_bad_client_frames_get_an_error_and_the_tab_stays_open(team) -> None:
    await team.hire("Alice Martin")
    tab = await team.open_tab("alice")
    await tab.connection.send("not json")
    error = await tab.next(lambda f: f["kind"] == "error")
    assert error["code"] == "bad_frame"
    await tab.send({"kind": "typing", "conversation_id": "cnv_not_mine"})
    missing = await tab.next(lambda f: f["kind"] == "error" and f["code"] == "not_found")
    assert "cnv_not_mine" in missing["message"]
    await tab.settle()


async def test_metrics_count_connections_pushes_and_latency(team, live_stack) -> None:
    await team.hire("Alice Martin", "Bob Chen")
    bob_tab = await team.open_tab("bob", replica="a")
    general = await team.general()
    team.ok(await team.client("alice").post(f"/api/chat/conversations/{general}/messages", json={"text": "hi"}), 201)
    await bob_tab.next(lambda f: f.get("type") == POSTED)
    text = httpx.get(f"{live_stack.replicas['a'].url}/metrics").text
    connections = [line for line in text.splitlines() if line.startswith("relay_ws_connections ")]
    assert connections and float(connections[0].split()[1]) >= 1
    assert 'relay_pushes_total{kind="toast"}' in text
    count = [line for line in text.splitlines() if line.startswith("relay_chat_post_to_push_seconds_count")]
    assert count and float(count[0].split()[1]) >= 1
