"""Search: messages of the conversations I belong to, by word prefixes, newest first, never deleted ones."""

from datetime import UTC, datetime, timedelta

import pytest

from relay_chat import domain, store
from relay_chat.models import Message
from relay_contracts.issues import StaffRef
from relay_kit.standin import StandInClient
from relay_kit.store import apply_indexes


def _message(n: int, text: str, *, conversation_id: str = "c1", tenant_id: str = "t", deleted: bool = False) -> Message:
    return Message(message_id=f"msg_{n:03d}", tenant_id=tenant_id, conversation_id=conversation_id, seq=n,
                   author=StaffRef(id="stf_1", name="Alice Martin"), author_id="stf_1", text=text,
                   posted_at=datetime(2026, 12, 1, 9, tzinfo=UTC) + timedelta(minutes=n), deleted=deleted,
                   search_terms=[] if deleted else domain.search_terms(text))


async def _post(team, client, conversation_id: str, text: str) -> dict:
    return team.ok(await client.post(f"/api/chat/conversations/{conversation_id}/messages", json={"text": text}), 201)


async def test_search_finds_word_prefixes_newest_first_with_the_conversation_and_author(team) -> None:
    await team.hire("Alice Martin", "Bob Chen")
    alice, bob = team.client("alice"), team.client("bob")
    general = await team.general(alice)
    older = await _post(team, alice, general, "The steam press is down again")
    await _post(team, bob, general, "Pressing queue is long today")
    newer = await _post(team, bob, general, "Steam PRESS repaired, crème stains next")

    found = team.ok(await bob.get("/api/chat/search", params={"q": "ste pres"}))["results"]
    assert [hit["message_id"] for hit in found] == [newer["message_id"], older["message_id"]]
    hit = found[0]
    assert hit == {"conversation_id": general, "conversation_name": "general", "conversation_kind": "channel",
                   "seq": newer["seq"], "message_id": newer["message_id"],
                   "author": {"id": team.id("bob"), "display_name": "Bob Chen"}, "text": newer["text"],
                   "posted_at": hit["posted_at"]}
    # case and accents fold; every word is a prefix of some word of the message; a middle of a word is no match
    assert len(team.ok(await alice.get("/api/chat/search", params={"q": "CREME"}))["results"]) == 1
    assert len(team.ok(await alice.get("/api/chat/search", params={"q": "press"}))["results"]) == 3
    assert team.ok(await alice.get("/api/chat/search", params={"q": "ressing"}))["results"] == []
    limited = team.ok(await alice.get("/api/chat/search", params={"q": "press", "limit": 2}))["results"]
    assert [h["message_id"] for h in limited][0] == newer["message_id"] and len(limited) == 2


async def test_search_sees_only_my_conversations_private_ones_included_and_never_deleted_messages(team) -> None:
    await team.hire("Alice Martin", "Bob Chen", "Carol Diaz")
    alice, bob, carol = team.client("alice"), team.client("bob"), team.client("carol")
    private = team.ok(await alice.post("/api/chat/private", json={"staff_ids": [team.id("bob")]}), 201)
    secret = await _post(team, alice, private["conversation_id"], "Birthday cake in the back fridge")
    closed = team.ok(await alice.post("/api/chat/channels", json={"name": "Managers", "is_private": True}), 201)
    await _post(team, alice, closed["conversation_id"], "Birthday budget is fifty dollars")
    public = team.ok(await carol.post("/api/chat/channels", json={"name": "Deliveries"}), 201)
    await _post(team, carol, public["conversation_id"], "Birthday balloons arrive at noon")

    def ids(body: dict) -> set[str]:
        return {hit["conversation_id"] for hit in body["results"]}

    assert ids(team.ok(await bob.get("/api/chat/search", params={"q": "birthday"}))) == {private["conversation_id"]}
    assert ids(team.ok(await carol.get("/api/chat/search", params={"q": "birthday"}))) == {public["conversation_id"]}
    assert ids(team.ok(await alice.get("/api/chat/search", params={"q": "birthday"}))) == {
        private["conversation_id"], closed["conversation_id"]}  # she never joined Carol's public channel

    edited = team.ok(await alice.patch(
        f"/api/chat/conversations/{private['conversation_id']}/messages/{secret['message_id']}",
        json={"text": "Cupcakes in the back fridge"}))
    assert team.ok(await bob.get("/api/chat/search", params={"q": "cupcake"}))["results"][0]["text"] == edited["text"]
    assert ids(team.ok(await bob.get("/api/chat/search", params={"q": "birthday"}))) == set()
    assert (await alice.delete(
        f"/api/chat/conversations/{private['conversation_id']}/messages/{secret['message_id']}")).status_code == 204
    assert team.ok(await bob.get("/api/chat/search", params={"q": "fridge"}))["results"] == []


async def test_search_is_tenant_scoped(team, chat_service, kafka_bootstrap) -> None:
    from .conftest import Team

    await team.hire("Alice Martin")
    alice = team.client("alice")
    await _post(team, alice, await team.general(alice), "Zebra-print coat for Mrs Klein")
    other = Team(chat_url=chat_service.url, bootstrap=kafka_bootstrap)
    try:
        await other.hire("Alice Martin")
        theirs = other.client("alice")
        assert other.ok(await theirs.get("/api/chat/search", params={"q": "zebra"}))["results"] == []
    finally:
        await other.close()


async def test_bad_searches_are_clear_4xx(team) -> None:
    await team.hire("Alice Martin")
    alice = team.client("alice")
    for params in ({}, {"q": ""}, {"q": "x" * 101}, {"q": "coat", "limit": 0}, {"q": "coat", "limit": 51},
                   {"q": "coat", "limit": "many"}):
        assert (await alice.get("/api/chat/search", params=params)).status_code == 422, params
    for q in ("!!! ???", "a b c d e f g h i"):
        answer = await alice.get("/api/chat/search", params={"q": q})
        assert answer.status_code == 400 and answer.json()["error"]["message"], (q, answer.text)
    assert (await alice.get("/api/chat/search", params={"q": "coat"}, headers={"authorization": ""})).status_code == 401


async def test_the_search_query_matches_the_same_on_the_stand_in_and_on_mongodb(
    database, request: pytest.FixtureRequest
) -> None:
    await apply_indexes(database, store.INDEXES)
    corpus = [_message(1, "Steam press (#2) is down"), _message(2, "Pressing queue: 40 napkins"),
              _message(3, "The press.man comes at 3"), _message(4, "Crème stains on the blouse"),
              _message(5, "press me", conversation_id="c2"), _message(6, "press gone", deleted=True),
              _message(7, "press elsewhere", tenant_id="other")]
    for message in corpus:
        await store.insert_message(database, message=message, events=[])

    async def found(q: str, conversations: list[str] = ["c1"], limit: int = 10) -> list[str]:  # noqa: B006
        messages = await store.search_messages(database, tenant_id="t", conversation_ids=conversations,
                                               prefixes=domain.query_terms(q), limit=limit)
        return [m.message_id for m in messages]

    assert await found("press") == ["msg_003", "msg_002", "msg_001"]  # newest first, live, this tenant and c1
    assert await found("PRESS", ["c1", "c2"], limit=2) == ["msg_005", "msg_003"]
    assert await found("ste pre") == ["msg_001"]
    assert await found("creme") == ["msg_004"] and await found("crème stain") == ["msg_004"]
    assert await found("man") == ["msg_003"] and await found("ress") == [] and await found("2") == ["msg_001"]
    assert await found("press", []) == []
    if request.node.callspec.params["database"] != "mongodb":
        return
    plan = await database.command("explain", {"find": store.MESSAGES, "filter": {
        "tenant_id": "t", "conversation_id": {"$in": ["c1"]}, "deleted": False,
        "$and": [{"search_terms": {"$regex": "^press"}}]}})
    assert "search_terms" in str(plan["queryPlanner"]["winningPlan"]), plan


async def test_messages_stored_before_search_get_their_words_at_start() -> None:
    from relay_chat import flows

    database = StandInClient()["relay_chat"]
    await apply_indexes(database, store.INDEXES)
    author = StaffRef(id="stf_1", name="Alice Martin")
    old = Message(message_id="msg_old", tenant_id="t", conversation_id="c", seq=1, author=author, author_id="stf_1",
                  text="Velvet jacket for pickup", posted_at=datetime.now(UTC))
    document = {"_id": old.message_id, **old.model_dump(exclude={"message_id", "search_terms"}, exclude_none=True)}
    await database[store.MESSAGES].insert_one(document)
    chat = flows.Chat(database=database, uow=None)  # type: ignore[arg-type]  (no change with events here)
    assert await flows.backfill_search_terms(chat) == 1
    assert await flows.backfill_search_terms(chat) == 0
    found = await store.search_messages(database, tenant_id="t", conversation_ids=["c"],
                                        prefixes=domain.query_terms("velv pick"), limit=5)
    assert [m.message_id for m in found] == ["msg_old"]


def test_search_terms_are_folded_words_each_once() -> None:
    assert domain.search_terms("Crème brûlée? CRÈME! @bob's 2-piece") == ["creme", "brulee", "bob", "s", "2",
                                                                         "piece"]
    assert domain.query_terms("  Steam   PRESS ") == ["steam", "press"]
