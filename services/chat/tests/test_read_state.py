"""Read state as Zulip keeps it: a marker per person and conversation, unread badges, the "New Messages" line."""


async def _unread(client, cid: str) -> tuple[int, int | None, int]:
    detail = (await client.get(f"/api/chat/conversations/{cid}")).json()
    total = (await client.get("/api/chat/conversations")).json()["total_unread"]
    return detail["unread_count"], detail["first_unread_seq"], total


async def test_unread_counts_and_first_unread_after_posts_and_reads_by_three_people(team) -> None:
    await team.hire("Alice Martin", "Bob Chen", "Carol Diaz")
    alice, bob, carol = team.client("alice"), team.client("bob"), team.client("carol")
    cid = team.ok(await alice.post("/api/chat/channels", json={
        "name": "Shift", "member_ids": ["bob", "carol"]}), 201)["conversation_id"]
    url = f"/api/chat/conversations/{cid}/messages"

    for who, text in ((alice, "a1"), (bob, "b2"), (alice, "a3")):
        team.ok(await who.post(url, json={"text": text}), 201)
    assert await _unread(alice, cid) == (0, None, 0)  # her posts moved her marker along
    assert await _unread(bob, cid) == (1, 3, 1)       # b2 was his; he has read up to 2
    assert await _unread(carol, cid) == (3, 1, 3)

    read = team.ok(await carol.post(f"/api/chat/conversations/{cid}/read", json={"up_to_seq": 2}))
    assert (read["unread_count"], read["first_unread_seq"], read["total_unread"]) == (1, 3, 1)
    team.ok(await carol.post(url, json={"text": "c4"}), 201)  # her post marks everything above it read
    assert await _unread(carol, cid) == (0, None, 0)
    assert await _unread(bob, cid) == (2, 3, 2)

    team.ok(await bob.post(f"/api/chat/conversations/{cid}/read", json={"up_to_seq": 3}))
    team.ok(await alice.post(url, json={"text": "a5"}), 201)
    general = await team.general(alice)
    team.ok(await alice.post(f"/api/chat/conversations/{general}/messages", json={"text": "all hands"}), 201)
    assert await _unread(bob, cid) == (2, 4, 3)
    assert await _unread(carol, cid) == (1, 5, 2)
    summary = team.ok(await bob.get("/api/chat/me/unread"))
    assert {s["conversation_id"]: s["unread_count"] for s in summary["conversations"]}[general] == 1
    assert summary["total_unread"] == 3


async def test_the_read_marker_never_moves_backwards_nor_past_the_end(team) -> None:
    await team.hire("Alice Martin", "Bob Chen")
    alice, bob = team.client("alice"), team.client("bob")
    general = await team.general(alice)
    for n in range(3):
        team.ok(await alice.post(f"/api/chat/conversations/{general}/messages", json={"text": f"m{n}"}), 201)
    read = f"/api/chat/conversations/{general}/read"
    assert team.ok(await bob.post(read, json={"up_to_seq": 2}))["read_up_to_seq"] == 2
    assert team.ok(await bob.post(read, json={"up_to_seq": 1}))["read_up_to_seq"] == 2
    assert team.ok(await bob.post(read, json={"up_to_seq": 99}))["read_up_to_seq"] == 3
    assert (await bob.post(read, json={"up_to_seq": -1})).status_code == 422


async def test_a_newcomer_does_not_inherit_the_channel_history_as_unread(team) -> None:
    await team.hire("Alice Martin", "Bob Chen")
    alice, bob = team.client("alice"), team.client("bob")
    cid = team.ok(await alice.post("/api/chat/channels", json={"name": "Old news"}), 201)["conversation_id"]
    team.ok(await alice.post(f"/api/chat/conversations/{cid}/messages", json={"text": "before you came"}), 201)
    team.ok(await bob.post(f"/api/chat/channels/{cid}/join"))
    team.ok(await alice.post(f"/api/chat/conversations/{cid}/messages", json={"text": "welcome"}), 201)
    assert await _unread(bob, cid) == (1, 2, 1)


async def test_the_module_reopens_where_each_person_left_off(team) -> None:
    await team.hire("Alice Martin", "Bob Chen")
    alice, bob = team.client("alice"), team.client("bob")
    assert team.ok(await bob.get("/api/chat/me/position"))["conversation_id"] is None
    general = await team.general(alice)
    private = team.ok(await alice.post("/api/chat/private", json={"staff_ids": ["bob"]}), 201)["conversation_id"]
    for n in range(4):
        team.ok(await alice.post(f"/api/chat/conversations/{private}/messages", json={"text": f"p{n}"}), 201)

    team.ok(await bob.put("/api/chat/me/position", json={"conversation_id": general, "seq": 0}))
    saved = team.ok(await bob.put("/api/chat/me/position", json={"conversation_id": private, "seq": 3}))
    assert saved["seq"] == 3
    team.ok(await alice.put("/api/chat/me/position", json={"conversation_id": general, "seq": 0}))

    reopened = team.ok(await bob.get("/api/chat/me/position"))
    assert (reopened["conversation_id"], reopened["seq"]) == (private, 3)
    assert reopened["conversation"]["kind"] == "private" and reopened["conversation"]["unread_count"] == 4
    assert team.ok(await alice.get("/api/chat/me/position"))["conversation_id"] == general
    assert (await bob.put("/api/chat/me/position", json={"conversation_id": "cnv_nope", "seq": 1})).status_code == 404
