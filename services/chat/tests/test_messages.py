"""Messages: posting, mentions, replies, attachments, edit and delete rules, pagination, private messages."""


async def test_mentions_by_username_or_id_are_resolved_to_staff_ids(team) -> None:
    await team.hire("Alice Martin", "Bob Chen", "Carol Diaz")
    alice = team.client("alice")
    general = await team.general(alice)
    text = f"@Bob and @{team.id('carol')}: see mail@example.com, and @nobody."
    message = team.ok(await alice.post(f"/api/chat/conversations/{general}/messages", json={"text": text}), 201)
    assert message["mentions"] == sorted([team.id("bob"), team.id("carol")])
    explicit = await alice.post(f"/api/chat/conversations/{general}/messages",
                                json={"text": "ping", "mentions": ["ghost"]})
    assert explicit.status_code == 400 and "ghost" in explicit.json()["error"]["message"]


async def test_replies_and_attachments_by_reference_and_bad_input_is_refused(team) -> None:
    await team.hire("Alice Martin", "Bob Chen")
    alice, bob = team.client("alice"), team.client("bob")
    general = await team.general(alice)
    first = team.ok(await alice.post(f"/api/chat/conversations/{general}/messages", json={"text": "Coat ready?"}),
                    201)
    reply = team.ok(await bob.post(f"/api/chat/conversations/{general}/messages", json={
        "text": "Yes, photo attached", "reply_to": first["message_id"],
        "attachments": [{"url": "https://files.example/coat.jpg", "name": "coat.jpg", "content_type": "image/jpeg"}],
    }), 201)
    assert reply["reply_to"] == first["message_id"] and reply["reply_to_seq"] == first["seq"]
    assert reply["attachments"][0]["name"] == "coat.jpg"

    other = team.ok(await alice.post("/api/chat/channels", json={"name": "Elsewhere"}), 201)["conversation_id"]
    across = await alice.post(f"/api/chat/conversations/{other}/messages",
                              json={"text": "x", "reply_to": first["message_id"]})
    assert across.status_code == 400
    for body in ({"text": "   "}, {"text": "x", "attachments": [{"url": "javascript:alert(1)", "name": "x"}]},
                 {"text": "x" * 10_001}, {"text": 5}):
        response = await alice.post(f"/api/chat/conversations/{general}/messages", json=body)
        assert response.status_code == 422, (body, response.text)
    page = team.ok(await alice.get(f"/api/chat/conversations/{general}/messages"))
    assert [m["seq"] for m in page["messages"]] == [1, 2]


async def test_edit_own_only_and_delete_own_or_as_manager(team) -> None:
    await team.hire("Alice Martin", role="manager")
    await team.hire("Bob Chen", "Carol Diaz")
    alice, bob, carol = team.client("alice"), team.client("bob"), team.client("carol")
    general = await team.general(bob)
    url = f"/api/chat/conversations/{general}/messages"
    by_bob = team.ok(await bob.post(url, json={"text": "Pick-up at 5"}), 201)
    by_carol = team.ok(await carol.post(url, json={"text": "Noted"}), 201)

    assert (await carol.patch(f"{url}/{by_bob['message_id']}", json={"text": "hacked"})).status_code == 403
    assert (await alice.patch(f"{url}/{by_bob['message_id']}", json={"text": "managers cannot edit"})
            ).status_code == 403
    edited = team.ok(await bob.patch(f"{url}/{by_bob['message_id']}", json={"text": "Pick-up at 6 @carol"}))
    assert edited["edited_at"] and edited["mentions"] == [team.id("carol")]
    seen_by_carol = team.ok(await carol.get(f"{url}/{by_bob['message_id']}"))
    assert seen_by_carol["text"] == "Pick-up at 6 @carol"

    assert (await bob.delete(f"{url}/{by_carol['message_id']}")).status_code == 403
    assert (await alice.delete(f"{url}/{by_carol['message_id']}")).status_code == 204
    assert (await bob.delete(f"{url}/{by_bob['message_id']}")).status_code == 204
    assert (await bob.delete(f"{url}/{by_bob['message_id']}")).status_code == 204  # deleting twice is fine
    assert (await carol.get(f"{url}/{by_carol['message_id']}")).status_code == 404
    assert (await bob.patch(f"{url}/{by_bob['message_id']}", json={"text": "undead"})).status_code == 404
    assert team.ok(await carol.get(url))["messages"] == []


async def test_pages_around_any_message_in_both_directions(team) -> None:
    await team.hire("Alice Martin")
    alice = team.client("alice")
    cid = team.ok(await alice.post("/api/chat/channels", json={"name": "Log"}), 201)["conversation_id"]
    url = f"/api/chat/conversations/{cid}/messages"
    for n in range(1, 21):
        team.ok(await alice.post(url, json={"text": f"m{n}"}), 201)

    def seqs(page: dict) -> list[int]:
        return [m["seq"] for m in page["messages"]]

    latest = team.ok(await alice.get(url, params={"before": "latest", "limit": 5}))
    assert seqs(latest) == [16, 17, 18, 19, 20] and latest["has_more_before"] and not latest["has_more_after"]
    older = team.ok(await alice.get(url, params={"before": 16, "limit": 5}))
    assert seqs(older) == [11, 12, 13, 14, 15] and older["has_more_before"] and older["has_more_after"]
    newer = team.ok(await alice.get(url, params={"after": 3, "limit": 4}))
    assert seqs(newer) == [4, 5, 6, 7] and newer["has_more_before"] and newer["has_more_after"]
    around = team.ok(await alice.get(url, params={"around": 10, "limit": 6}))
    assert seqs(around) == [7, 8, 9, 10, 11, 12]
    start = team.ok(await alice.get(url, params={"around": 1, "limit": 6}))
    assert seqs(start) == [1, 2, 3, 4, 5, 6] and not start["has_more_before"] and start["has_more_after"]
    assert (await alice.get(url, params={"before": 5, "after": 2})).status_code == 400
    assert (await alice.get(url, params={"before": "yesterday"})).status_code == 400


async def test_a_retried_post_with_the_same_client_id_is_stored_once(team) -> None:
    await team.hire("Alice Martin")
    alice = team.client("alice")
    general = await team.general(alice)
    url = f"/api/chat/conversations/{general}/messages"
    first = await alice.post(url, json={"text": "once", "client_message_id": "tab1-42"})
    again = await alice.post(url, json={"text": "once", "client_message_id": "tab1-42"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["message_id"] == again.json()["message_id"]
    assert len(team.ok(await alice.get(url))["messages"]) == 1


async def test_starting_a_private_message_with_the_same_people_reopens_it(team) -> None:
    await team.hire("Alice Martin", "Bob Chen", "Carol Diaz")
    alice, bob, carol = team.client("alice"), team.client("bob"), team.client("carol")
    started = await alice.post("/api/chat/private", json={"staff_ids": [team.id("bob")]})
    assert started.status_code == 201 and started.json()["created"] is True
    cid = started.json()["conversation_id"]
    assert started.json()["kind"] == "private"
    assert sorted(started.json()["participants"]) == sorted([team.id("alice"), team.id("bob")])
    again = await bob.post("/api/chat/private", json={"staff_ids": ["alice", team.id("bob")]})
    assert again.status_code == 200 and again.json()["conversation_id"] == cid and again.json()["created"] is False

    group = team.ok(await carol.post("/api/chat/private", json={"staff_ids": ["alice", "bob"]}), 201)
    assert group["conversation_id"] != cid
    same_group = team.ok(await alice.post("/api/chat/private", json={"staff_ids": ["carol", "bob"]}))
    assert same_group["conversation_id"] == group["conversation_id"]
    assert (await carol.get(f"/api/chat/conversations/{cid}")).status_code == 404

    assert (await alice.post("/api/chat/private", json={"staff_ids": [team.id("alice")]})).status_code == 400
    names = [f"Person{n} Test" for n in range(8)]
    await team.hire(*names)
    too_many = await alice.post("/api/chat/private", json={"staff_ids": [n.split()[0].lower() for n in names]})
    assert too_many.status_code == 400 and "at most 8" in too_many.json()["error"]["message"]
