"""Two notify replicas: each push exactly once per tab, catch-up after a reconnect, typing and presence across them."""

from collections import Counter
from uuid import UUID

from uuid6 import uuid7

POSTED = "chat.message_posted"


async def test_with_two_replicas_every_tab_gets_each_push_exactly_once(team) -> None:
    await team.hire("Alice Martin", "Bob Chen", "Carol Diaz")
    tabs = {
        "alice@a": await team.open_tab("alice", replica="a"),
        "bob@a": await team.open_tab("bob", replica="a"),
        "bob@b": await team.open_tab("bob", replica="b"),
        "carol@b": await team.open_tab("carol", replica="b"),
    }
    general = await team.general()
    alice = team.client("alice")
    posted = [team.ok(await alice.post(f"/api/chat/conversations/{general}/messages", json={"text": f"n{n}"}), 201)
              for n in range(5)]
    last = posted[-1]["message_id"]
    for tab in tabs.values():
        await tab.next(lambda f: f.get("type") == POSTED and f["payload"]["message"]["message_id"] == last)
        await tab.settle()
    for name, tab in tabs.items():
        events = Counter(f["payload"]["message"]["message_id"] for f in tab.events(POSTED))
        assert events == Counter(m["message_id"] for m in posted), name
        toasts = Counter(f["message_id"] for f in tab.of_kind("toast") if f.get("message_id"))
        expected_toasts = {} if name.startswith("alice") else Counter(m["message_id"] for m in posted)
        assert toasts == expected_toasts, name
        assert len({f["event_id"] for f in tab.events(POSTED)}) == 5


async def test_a_reconnecting_tab_catches_up_since_its_last_event_on_either_replica(team) -> None:
    await team.hire("Alice Martin", "Bob Chen", "Carol Diaz")
    alice = team.client("alice")
    general = await team.general()
    url = f"/api/chat/conversations/{general}/messages"
    watchers = {r: await team.open_tab("carol", replica=r) for r in ("a", "b")}
    bob = await team.open_tab("bob", replica="a")
    team.ok(await alice.post(url, json={"text": "first"}), 201)
    seen = await bob.next(lambda f: f.get("type") == POSTED)
    await bob.close()

    secret = team.ok(await alice.post("/api/chat/private", json={"staff_ids": ["carol"]}), 201)["conversation_id"]
    team.ok(await alice.post(f"/api/chat/conversations/{secret}/messages", json={"text": "not for Bob"}), 201)
    for text in ("second", "third"):
        team.ok(await alice.post(url, json={"text": text}), 201)
    for watcher in watchers.values():  # both replicas have consumed everything Bob missed
        await watcher.next(lambda f: f.get("type") == POSTED and f["payload"]["message"]["text"] == "third")

    for replica in ("a", "b"):
        back = await team.open_tab("bob", replica=replica, since=seen["event_id"])
        caught_up = await back.next(lambda f: f["kind"] == "caught_up")
        replayed = [f["payload"]["message"]["text"] for f in back.frames[:back.frames.index(caught_up)]
                    if f.get("type") == POSTED]
        assert replayed == ["second", "third"], replica
        assert caught_up["replayed"] == len([f for f in back.frames[:back.frames.index(caught_up)]
                                             if f["kind"] == "event"])
        assert secret not in str(back.frames)

    ancient = await team.open_tab("bob", replica="b", since=str(uuid7_at(1_000)))
    assert (await ancient.next(lambda f: f["kind"] in ("reload", "caught_up")))["kind"] == "reload"
    garbage = await team.open_tab("bob", replica="a", since="not-an-event-id")
    assert (await garbage.next(lambda f: f["kind"] in ("reload", "caught_up")))["kind"] == "reload"


def uuid7_at(millis: int) -> UUID:
    """A UUIDv7 stamped at the given Unix milliseconds (long before any replica started)."""
    fresh = uuid7()
    return UUID(int=(millis << 80) | (fresh.int & ((1 << 80) - 1)))


async def test_typing_reaches_other_members_across_replicas_throttled(team) -> None:
    await team.hire("Alice Martin", "Bob Chen", "Carol Diaz")
    private = team.ok(await team.client("alice").post("/api/chat/private", json={"staff_ids": ["bob"]}),
                      201)["conversation_id"]
    alice = await team.open_tab("alice", replica="a")
    bob = await team.open_tab("bob", replica="b")
    carol = await team.open_tab("carol", replica="a")
    for _ in range(3):  # a burst of keystrokes: one signal goes out
        await alice.send({"kind": "typing", "conversation_id": private})
    await alice.send({"kind": "typing", "conversation_id": private, "state": "stop"})
    stop = await bob.next(lambda f: f["kind"] == "typing" and f["state"] == "stop")
    assert (stop["conversation_id"], stop["staff_id"], stop["name"]) == (private, team.id("alice"), "Alice Martin")
    await bob.settle()
    assert [f["state"] for f in bob.of_kind("typing")] == ["start", "stop"]
    assert "event_id" not in stop  # never replayed, never a catch-up point
    await carol.settle()
    await alice.settle()
    assert not carol.of_kind("typing") and not alice.of_kind("typing")


async def test_presence_online_away_offline_is_seen_from_the_other_replica(team) -> None:
    await team.hire("Alice Martin", "Bob Chen")
    bob = await team.open_tab("bob", replica="b")
    alice_id = team.id("alice")

    def status_of_alice(frame: dict, status: str) -> bool:
        return frame["kind"] == "presence" and frame["staff_id"] == alice_id and frame["status"] == status

    alice = await team.open_tab("alice", replica="a")
    await bob.next(lambda f: status_of_alice(f, "online"))
    snapshot = alice.of_kind("presence_snapshot")[0]["statuses"]
    assert snapshot.get(team.id("bob")) in (None, "online")  # bob's heartbeat may not have reached "a" yet
    await alice.send({"kind": "away"})
    await bob.next(lambda f: status_of_alice(f, "away"))
    await alice.send({"kind": "active"})
    await bob.next(lambda _: sum(status_of_alice(g, "online") for g in bob.frames) == 2)  # online again
    await alice.close()
    await bob.next(lambda f: status_of_alice(f, "offline"))


async def test_the_people_of_a_replica_that_died_go_offline_for_the_others(team, live_stack) -> None:
    await team.hire("Alice Martin", "Bob Chen")
    doomed = live_stack.start_replica("c")
    try:
        bob = await team.open_tab("bob", replica="a")
        await team.open_tab("alice", replica="c")
        alice_id = team.id("alice")
        await bob.next(lambda f: f["kind"] == "presence" and f["staff_id"] == alice_id and f["status"] == "online")
        doomed.kill()  # no goodbye: only the missing heartbeats tell
        gone = await bob.next(lambda f: f["kind"] == "presence" and f["staff_id"] == alice_id
                              and f["status"] == "offline", timeout=15)
        assert gone["status"] == "offline"
    finally:
        doomed.kill()
        live_stack.replicas.pop("c", None)
