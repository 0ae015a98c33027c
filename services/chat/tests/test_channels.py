"""Channels: the default ones, creating and managing channels, who may do what, and who may see what."""

import httpx


async def test_every_active_staff_member_is_in_general_and_customer_messages(team) -> None:
    await team.hire("Alice Martin", role="manager")
    await team.hire("Bob Chen")
    body = team.ok(await team.client("bob").get("/api/chat/conversations"))
    defaults = {c["default"]: c for c in body["conversations"]}
    assert defaults["general"]["name"] == "general"
    assert defaults["customer_messages"]["name"] == "Customer Messages"
    assert defaults["customer_messages"]["feed"] == "customer_issues"
    assert defaults["general"]["members_count"] == 2
    directory = team.ok(await team.client("bob").get("/api/chat/staff"))["staff"]
    assert {(s["username"], s["role"]) for s in directory} == {("alice", "manager"), ("bob", "staff")}


async def test_a_deactivated_account_leaves_the_default_channels(team) -> None:
    await team.hire("Alice Martin", "Bob Chen")
    await team.hire("Bob Chen", active=False)
    directory = team.ok(await team.client("alice").get("/api/chat/staff"))["staff"]
    assert [s["username"] for s in directory] == ["alice"]


async def test_a_private_channel_is_invisible_to_non_members(team) -> None:
    await team.hire("Alice Martin", "Bob Chen", "Carol Diaz")
    alice, carol = team.client("alice"), team.client("carol")
    secret = team.ok(await alice.post("/api/chat/channels", json={
        "name": "Pricing", "topic": "new price list", "is_private": True, "member_ids": [team.id("bob")]}), 201)
    cid = secret["conversation_id"]
    assert secret["is_private"] and secret["members_count"] == 2

    for response in (
        await carol.get(f"/api/chat/conversations/{cid}"),
        await carol.get(f"/api/chat/conversations/{cid}/messages"),
        await carol.get(f"/api/chat/conversations/{cid}/members"),
        await carol.post(f"/api/chat/conversations/{cid}/messages", json={"text": "let me in"}),
        await carol.post(f"/api/chat/conversations/{cid}/read", json={"up_to_seq": 1}),
        await carol.post(f"/api/chat/channels/{cid}/join"),
        await carol.put("/api/chat/me/position", json={"conversation_id": cid, "seq": 0}),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
    listed = team.ok(await carol.get("/api/chat/conversations"))["conversations"]
    browsed = team.ok(await carol.get("/api/chat/channels"))["channels"]
    assert cid not in {c["conversation_id"] for c in listed + browsed}
    assert cid in {c["conversation_id"] for c in team.ok(await team.client("bob").get("/api/chat/conversations"))[
        "conversations"]}


async def test_another_tenant_never_sees_a_conversation_and_no_token_is_401(team, chat_service) -> None:
    await team.hire("Alice Martin")
    general = await team.general(team.client("alice"))
    other = type(team)(chat_url=team.chat_url, bootstrap=team.bootstrap)
    try:
        await other.hire("Mallory Black", role="admin")
        mallory = other.client("mallory")
        assert (await mallory.get(f"/api/chat/conversations/{general}/messages")).status_code == 404
        assert general not in {c["conversation_id"] for c in
                               team.ok(await mallory.get("/api/chat/channels"))["channels"]}
    finally:
        await other.close()
    anonymous = httpx.get(f"{chat_service.url}/api/chat/conversations")
    assert anonymous.status_code == 401
    forged = httpx.get(f"{chat_service.url}/api/chat/conversations", headers={"authorization": "Bearer nope"})
    assert forged.status_code == 401


async def test_channel_lifecycle_and_who_may_manage_it(team) -> None:
    await team.hire("Alice Martin", role="manager")
    await team.hire("Bob Chen", "Carol Diaz")
    alice, bob, carol = team.client("alice"), team.client("bob"), team.client("carol")
    channel = team.ok(await bob.post("/api/chat/channels", json={"name": "#Front  Desk", "topic": "shifts"}), 201)
    cid = channel["conversation_id"]
    assert channel["name"] == "Front Desk" and channel["members_count"] == 1
    assert (await carol.post("/api/chat/channels", json={"name": "front desk"})).status_code == 409

    # Carol joins the public channel, sets the topic as a member; she may not rename or archive it.
    assert team.ok(await carol.post(f"/api/chat/channels/{cid}/join"))["is_member"] is True
    assert team.ok(await carol.patch(f"/api/chat/channels/{cid}", json={"topic": "rota"}))["topic"] == "rota"
    assert (await carol.patch(f"/api/chat/channels/{cid}", json={"name": "Desk"})).status_code == 403
    assert (await carol.patch(f"/api/chat/channels/{cid}", json={"archived": True})).status_code == 403
    assert (await carol.patch(f"/api/chat/channels/{cid}", json={})).status_code == 422

    # Only managers add and remove members; the creator renames.
    assert (await bob.post(f"/api/chat/channels/{cid}/members", json={"staff_ids": [team.id("alice")]})
            ).status_code == 403
    members = team.ok(await alice.post(f"/api/chat/channels/{cid}/members", json={"staff_ids": ["alice"]}))
    assert {m["username"] for m in members["members"]} == {"alice", "bob", "carol"}
    assert (await alice.post(f"/api/chat/channels/{cid}/members", json={"staff_ids": ["nobody"]})).status_code == 400
    assert (await alice.delete(f"/api/chat/channels/{cid}/members/{team.id('carol')}")).status_code == 204
    assert (await carol.post(f"/api/chat/conversations/{cid}/messages", json={"text": "hi"})).status_code == 403
    assert team.ok(await bob.patch(f"/api/chat/channels/{cid}", json={"name": "Counter"}))["name"] == "Counter"

    # Archived: readable, not writable, until unarchived.
    assert team.ok(await alice.patch(f"/api/chat/channels/{cid}", json={"archived": True}))["archived"] is True
    refused = await bob.post(f"/api/chat/conversations/{cid}/messages", json={"text": "hello?"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "archived"
    assert cid not in {c["conversation_id"] for c in team.ok(await bob.get("/api/chat/conversations"))[
        "conversations"]}
    team.ok(await bob.patch(f"/api/chat/channels/{cid}", json={"archived": False}))
    team.ok(await bob.post(f"/api/chat/conversations/{cid}/messages", json={"text": "back"}), 201)

    # Leaving works for ordinary channels, never for the default ones.
    assert (await bob.post(f"/api/chat/channels/{cid}/leave")).status_code == 204
    assert team.ok(await bob.get(f"/api/chat/conversations/{cid}"))["is_member"] is False
    general = await team.general(bob)
    assert (await bob.post(f"/api/chat/channels/{general}/leave")).status_code == 403
    assert (await alice.patch(f"/api/chat/channels/{general}", json={"archived": True})).status_code == 403
