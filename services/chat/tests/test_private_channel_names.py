"""A private channel's name reveals nothing to non-members: they may use it, members and public names may not."""


async def test_a_non_member_may_create_a_channel_named_like_a_private_one_without_learning_of_it(team) -> None:
    await team.hire("Alice Martin", "Bob Chen", "Carol Diaz", "Dan Evans")
    alice, bob, carol, dan = team.client("alice"), team.client("bob"), team.client("carol"), team.client("dan")
    secret = team.ok(await alice.post("/api/chat/channels", json={
        "name": "Raises", "is_private": True, "member_ids": [team.id("bob")]}), 201)

    for who, is_private in ((carol, True), (dan, False)):
        created = await who.post("/api/chat/channels", json={"name": "raises", "is_private": is_private})
        assert created.status_code == 201, created.text
        assert created.json()["conversation_id"] != secret["conversation_id"]
        assert secret["conversation_id"] not in created.text and "Alice" not in created.text

    # members know the private channel, so for them the name is taken; a public name is taken for everyone
    refused = await bob.post("/api/chat/channels", json={"name": "RAISES", "is_private": True})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "name_taken"
    assert (await alice.post("/api/chat/channels", json={"name": "Raises"})).status_code == 409  # Dan's public one
    assert [c["name"] for c in team.ok(await dan.get("/api/chat/channels"))["channels"]].count("raises") == 1


async def test_renaming_to_a_private_channels_name_is_refused_only_to_who_can_see_it(team) -> None:
    await team.hire("Alice Martin", "Bob Chen")
    alice, bob = team.client("alice"), team.client("bob")
    team.ok(await alice.post("/api/chat/channels", json={"name": "Payroll", "is_private": True}), 201)
    mine = team.ok(await bob.post("/api/chat/channels", json={"name": "Bob's corner"}), 201)
    renamed = await bob.patch(f"/api/chat/channels/{mine['conversation_id']}", json={"name": "payroll"})
    assert renamed.status_code == 200, renamed.text
    other = team.ok(await alice.post("/api/chat/channels", json={"name": "Alice's corner", "is_private": True}), 201)
    refused = await alice.patch(f"/api/chat/channels/{other['conversation_id']}", json={"name": "PAYROLL"})
    assert refused.status_code == 409  # she sees both her private Payroll and Bob's public payroll


async def test_a_database_of_the_previous_version_loses_its_all_channels_name_index_at_start() -> None:
    from pymongo import ASCENDING, IndexModel

    from relay_chat import store
    from relay_kit.standin import StandInClient
    from relay_kit.store import apply_indexes

    database = StandInClient()["relay_chat"]
    conversations = database[store.CONVERSATIONS]
    await conversations.create_indexes([IndexModel([("tenant_id", ASCENDING), ("name_key", ASCENDING)], unique=True,
                                                   name="channel_name_unique",
                                                   partialFilterExpression={"kind": "channel"})])
    await store.drop_retired_indexes(database)
    await apply_indexes(database, store.INDEXES)
    await store.drop_retired_indexes(database)  # idempotent
    assert "channel_name_unique" not in await conversations.index_information()
    channel = {"tenant_id": "t", "kind": "channel", "name_key": "ops"}
    await conversations.insert_one({**channel, "_id": "c1", "is_private": True})
    await conversations.insert_one({**channel, "_id": "c2", "is_private": False})
    await conversations.insert_one({**channel, "_id": "c3", "is_private": True})
    try:
        await conversations.insert_one({**channel, "_id": "c4", "is_private": False})
    except Exception as error:
        from relay_kit.store import is_duplicate_key

        assert is_duplicate_key(error)
    else:
        raise AssertionError("two public channels were given one name")
