"""Customer messages become issues: one open issue per customer, each message applied once, bad events dead-lettered."""

import uuid

from relay_contracts.customer_messages import Channel
from relay_contracts.topics import INBOUND_MESSAGES, ISSUE_EVENTS
from relay_stack.polling import eventually


async def test_second_message_is_appended_and_after_close_a_new_message_opens_a_new_issue(shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    events = await shop.watch(ISSUE_EVENTS)
    first = await shop.customer_writes("cus_jane", "Is my suit ready?", name="Jane Doe")
    await shop.customer_writes("cus_jane", "It's the navy one")

    issue = (await shop.open_issue_of("cus_jane", alice, count=2))["issue"]
    assert issue["status"] == "unassigned" and issue["customer_name"] == "Jane Doe"
    opened = await events.wait_for(lambda e: e["type"] == "issue.opened" and e["tenant_id"] == shop.tenant_id)
    assert opened["payload"]["issue"]["issue_id"] == issue["issue_id"]
    assert opened["payload"]["received_at"] is not None
    assert opened["correlation_id"] == first.correlation_id and opened["causation_id"] == str(first.event_id)
    appended = await events.wait_for(lambda e: e["type"] == "issue.message_appended"
                                     and e["payload"]["issue"]["issue_id"] == issue["issue_id"])
    assert appended["payload"]["text"] == "It's the navy one"
    assert appended["payload"]["issue"]["message_count"] == 2

    closed = await shop.post(f"/api/issues/{issue['issue_id']}/close", alice)
    assert closed.status_code == 200, closed.text
    assert closed.json()["issue"]["closed_by"] == {"id": "alice", "name": "Alice Martin"}

    await shop.customer_writes("cus_jane", "One more thing: the tie too")
    second = (await shop.open_issue_of("cus_jane", alice))["issue"]
    assert second["issue_id"] != issue["issue_id"]
    assert second["number"] == issue["number"] + 1
    feed = (await shop.get("/api/issues", alice)).json()["issues"]
    assert [i["status"] for i in feed if i["customer_id"] == "cus_jane"] == ["unassigned", "closed"]


async def test_the_same_inbound_event_delivered_twice_is_applied_once(shop) -> None:
    bob = shop.staff("bob")
    message = await shop.customer_writes("cus_omar", "Do you press shirts?")
    await shop.republish(message)
    await shop.republish(message)
    await shop.customer_writes("cus_omar", "sentinel: after the repeats")

    detail = await shop.open_issue_of("cus_omar", bob, count=2)
    texts = [entry["text"] for entry in detail["communication"]]
    assert texts == ["Do you press shirts?", "sentinel: after the repeats"]
    assert detail["issue"]["message_count"] == 2


async def test_invalid_event_goes_to_dead_letter_with_its_reason_and_the_next_event_is_processed(shop) -> None:
    carol = shop.staff("carol")
    dead_letters = await shop.watch(INBOUND_MESSAGES.dead_letter)
    marker = f"not an event {uuid.uuid4().hex}".encode()
    await shop.publish_raw(INBOUND_MESSAGES, marker, key=f"{shop.tenant_id}:cus_x".encode())
    await shop.customer_writes("cus_x", "a valid message after the broken one")

    dead = await dead_letters.wait_for(lambda e: e.get("raw") == marker, what="the invalid event dead-lettered")
    assert b"bad envelope" in dead["headers"]["dead-letter-reason"]
    assert dead["headers"]["source-topic"] == INBOUND_MESSAGES.name.encode()
    detail = await shop.open_issue_of("cus_x", carol)
    assert detail["communication"][0]["text"] == "a valid message after the broken one"


async def test_an_email_opens_an_issue_on_the_email_channel_with_its_subject(shop) -> None:
    dana = shop.staff("dana")
    await shop.customer_writes("cus_mei", "Can you remove a wine stain?", channel=Channel.EMAIL,
                               subject="Wine stain")
    detail = await shop.open_issue_of("cus_mei", dana)
    assert detail["issue"]["channel"] == "email"
    assert detail["communication"][0]["subject"] == "Wine stain"
    assert detail["communication"][0]["private"] is False


async def test_acknowledgement_suggests_resolve_first(shop) -> None:
    erin = shop.staff("erin")
    await shop.customer_writes("cus_ack", "thanks!")
    issue = (await shop.open_issue_of("cus_ack", erin))["issue"]
    assert issue["suggest_resolve"] is True and issue["needs_attention"] is False
    assert issue["actions"][0] == "resolve"

    await shop.customer_writes("cus_ack", "wait, the shirt is torn")

    async def needs_attention() -> bool:
        issue = (await shop.get("/api/issues", erin, status="open")).json()["issues"][0]
        return issue["message_count"] == 2 and issue["needs_attention"] and not issue["suggest_resolve"]

    await eventually(needs_attention, what="a real question needing attention")
