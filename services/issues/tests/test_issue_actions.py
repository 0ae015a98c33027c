"""Staff work an issue over HTTP: assign, take, close, resolve, reopen, comment and reply, each announced."""

import uuid

from relay_contracts.customer_messages import Channel, DeliveryState, DeliveryStatusChanged, EmailThreading
from relay_contracts.topics import ISSUE_EVENTS, OUTBOUND_MESSAGES
from relay_stack.polling import eventually


async def _new_issue(shop, staff, customer_id: str = "cus_jane", text: str = "Is my suit ready?", **kwargs) -> dict:
    await shop.customer_writes(customer_id, text, **kwargs)
    return (await shop.open_issue_of(customer_id, staff))["issue"]


async def test_close_by_someone_other_than_the_assignee_is_403_with_the_reason(shop) -> None:
    alice, bob = shop.staff("alice", "Alice Martin"), shop.staff("bob", "Bob Chen")
    issue = await _new_issue(shop, alice)
    taken = await shop.post(f"/api/issues/{issue['issue_id']}/take", alice)
    assert taken.status_code == 200 and taken.json()["issue"]["assignee"] == {"id": "alice", "name": "Alice Martin"}

    for action in ("close", "resolve"):
        refused = await shop.post(f"/api/issues/{issue['issue_id']}/{action}", bob)
        assert refused.status_code == 403
        assert refused.json()["error"]["message"].startswith(f"Issue #{issue['number']} is assigned to Alice Martin")
    unchanged = (await shop.get(f"/api/issues/{issue['issue_id']}", bob)).json()["issue"]
    assert unchanged["status"] == "assigned" and "close" not in unchanged["actions"]
    assert (await shop.post(f"/api/issues/{issue['issue_id']}/close", alice)).status_code == 200


async def test_take_assign_close_resolve_and_reopen_are_recorded_and_announced(shop) -> None:
    alice, bob = shop.staff("alice", "Alice Martin"), shop.staff("bob", "Bob Chen")
    events = await shop.watch(ISSUE_EVENTS)
    await shop.staff_joins("carol", "Carol Diaz")
    await shop.staff_joins("dave", "Dave Former", active=False)
    issue = await _new_issue(shop, alice)
    path = f"/api/issues/{issue['issue_id']}"

    assert (await shop.post(f"{path}/take", bob)).status_code == 200
    again = await shop.post(f"{path}/take", bob)
    assert again.status_code == 200 and again.json()["issue"]["assignee"]["id"] == "bob"  # idempotent
    grabbed = await shop.post(f"{path}/take", alice)
    assert grabbed.status_code == 409 and "assigned to Bob" in grabbed.json()["error"]["message"]

    unknown = await shop.post(f"{path}/assign", alice, {"assignee_id": "nobody"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "assignee_not_found"

    async def assigned_to_carol() -> dict | None:
        response = await shop.post(f"{path}/assign", alice, {"assignee_id": "carol", "comment": "Her customer"})
        return response.json() if response.status_code == 200 else None

    assigned = (await eventually(assigned_to_carol, what="carol known from staff events"))["issue"]
    assert assigned["assignee"] == {"id": "carol", "name": "Carol Diaz"} and assigned["status"] == "assigned"
    inactive = await shop.post(f"{path}/assign", alice, {"assignee_id": "dave"})
    assert inactive.status_code == 422 and "no longer an active" in inactive.json()["error"]["message"]

    carol = shop.staff("carol", "Carol Diaz")
    resolved = await shop.post(f"{path}/resolve", carol)
    assert resolved.status_code == 200
    assert resolved.json()["issue"]["resolution"] == "no action needed"
    assert resolved.json()["issue"]["closed_by"] == {"id": "carol", "name": "Carol Diaz"}
    assert (await shop.post(f"{path}/resolve", carol)).status_code == 200  # the same again: nothing changes
    for action in ("take", "close"):
        late = await shop.post(f"{path}/{action}", alice)
        assert late.status_code == 409 and "Carol Diaz" in late.json()["error"]["message"]
    late_assign = await shop.post(f"{path}/assign", alice, {"assignee_id": "alice"})
    assert late_assign.status_code == 409
    assert (await shop.post(f"{path}/replies", alice, {"text": "hello?"})).status_code == 409

    reopened = await shop.post(f"{path}/reopen", alice)
    assert reopened.status_code == 200
    assert reopened.json()["issue"]["status"] == "assigned" and reopened.json()["issue"]["closed_by"] is None
    assert (await shop.post(f"{path}/reopen", alice)).status_code == 409
    closed = await shop.post(f"{path}/close", carol)
    assert closed.status_code == 200 and closed.json()["issue"]["resolution"] == "closed"

    detail = (await shop.get(path, alice)).json()
    actions = [(h["action"], (h["actor"] or {}).get("id")) for h in detail["issue"]["history"]]
    assert actions == [("opened", None), ("taken", "bob"), ("assigned", "alice"), ("comment_added", "alice"),
                       ("resolved", "carol"), ("reopened", "alice"), ("closed", "carol")]
    assert detail["issue"]["history"][2]["detail"]["assignee"] == {"id": "carol", "name": "Carol Diaz"}
    assert detail["issue"]["history"][2]["detail"]["previous"] == {"id": "bob", "name": "Bob Chen"}
    assert all(h["at"] for h in detail["issue"]["history"])
    comment = [e for e in detail["communication"] if e["kind"] == "private_comment"][0]
    assert comment["private"] is True and comment["text"] == "Her customer"

    wanted = ["issue.opened", "issue.assigned", "issue.assigned", "issue.comment_added", "issue.resolved",
              "issue.reopened", "issue.closed"]

    async def all_announced() -> list | None:
        mine = events.all_matching(lambda e: e["payload"]["issue"]["issue_id"] == issue["issue_id"])
        return mine if len(mine) >= len(wanted) else None

    announced = await eventually(all_announced, what="every change announced")
    assert [e["type"] for e in announced] == wanted
    resolved_event = announced[4]["payload"]
    assert resolved_event["issue"]["status"] == "closed"
    assert resolved_event["issue"]["closed_by"]["name"] == "Carol Diaz"
    assert announced[2]["payload"]["issue"]["assignee"]["name"] == "Carol Diaz"
    assert announced[2]["payload"]["actor"] == {"id": "alice", "name": "Alice Martin"}


async def test_private_comment_never_reaches_outbound_and_reply_goes_by_sms_to_the_customers_number(shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    outbound = await shop.watch(OUTBOUND_MESSAGES)
    issue = await _new_issue(shop, alice, "cus_sms", "Are you open Sunday?", address="+14155550177")
    path = f"/api/issues/{issue['issue_id']}"
    secret = f"private note {uuid.uuid4().hex}"

    comment = await shop.post(f"{path}/comments", alice, {"text": secret})
    assert comment.status_code == 201 and comment.json()["entry"]["private"] is True
    reply = await shop.post(f"{path}/replies", alice, {"text": "Yes, 10 to 4."})
    assert reply.status_code == 201, reply.text
    entry = reply.json()["entry"]
    assert entry["kind"] == "reply" and entry["delivery"]["status"] == "queued"
    assert reply.json()["issue"]["first_response_at"] is not None

    sent = await outbound.wait_for(lambda e: e["payload"]["issue_id"] == issue["issue_id"], what="the reply requested")
    assert sent["type"] == "outbound.message.requested"
    assert sent["payload"]["outbound_id"] == entry["outbound_id"]
    assert sent["payload"]["channel"] == "sms" and sent["payload"]["to_address"] == "+14155550177"
    assert sent["payload"]["text"] == "Yes, 10 to 4." and sent["payload"]["requested_by"] == "alice"
    # Same key, same partition: a published comment would have arrived before the reply.
    everything = outbound.all_matching(lambda e: True)
    assert secret not in str(everything)

    blank = await shop.post(f"{path}/comments", alice, {"text": "   "})
    assert blank.status_code == 422
    too_long = await shop.post(f"{path}/replies", alice, {"text": "x" * 1700})
    assert too_long.status_code == 400 and "1600" in too_long.json()["error"]["message"]


async def test_email_reply_is_threaded_under_the_customers_last_email(shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    outbound = await shop.watch(OUTBOUND_MESSAGES)
    await shop.customer_writes("cus_mail", "Hello", channel=Channel.EMAIL, address="mei@example.com",
                               subject="Wedding dress",
                               threading=EmailThreading(message_id="<m1@mail.example>"))
    await shop.customer_writes("cus_mail", "Any news?", channel=Channel.EMAIL, address="mei@example.com",
                               subject="Re: Wedding dress",
                               threading=EmailThreading(message_id="<m2@mail.example>", in_reply_to="<r1@shop>",
                                                        references=["<m1@mail.example>", "<r1@shop>"]))
    issue = (await shop.open_issue_of("cus_mail", alice, count=2))["issue"]
    replied = await shop.post(f"/api/issues/{issue['issue_id']}/replies", alice, {"text": "Ready Friday"})
    assert replied.status_code == 201

    sent = (await outbound.wait_for(lambda e: e["payload"]["issue_id"] == issue["issue_id"]))["payload"]
    assert sent["channel"] == "email" and sent["to_address"] == "mei@example.com"
    assert sent["subject"] == "Re: Wedding dress"
    assert sent["threading"]["in_reply_to"] == "<m2@mail.example>"
    assert sent["threading"]["references"] == ["<m1@mail.example>", "<r1@shop>", "<m2@mail.example>"]


async def test_delivery_status_updates_the_reply_and_is_announced(shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    events = await shop.watch(ISSUE_EVENTS)
    issue = await _new_issue(shop, alice, "cus_status", "Can I pick up at 6?")
    reply = (await shop.post(f"/api/issues/{issue['issue_id']}/replies", alice, {"text": "Sure"})).json()["entry"]

    async def delivery(status: DeliveryState, **extra) -> None:
        await shop.publish(DeliveryStatusChanged(customer_id="cus_status", outbound_id=reply["outbound_id"],
                                                 issue_id=issue["issue_id"], status=status, **extra))

    async def reply_status() -> str:
        detail = (await shop.get(f"/api/issues/{issue['issue_id']}", alice)).json()
        return [e for e in detail["communication"] if e["kind"] == "reply"][0]["delivery"]["status"]

    await delivery(DeliveryState.SENT)
    await eventually(lambda: _is(reply_status, "sent"), what="reply shown as sent")
    await delivery(DeliveryState.DELIVERED)
    await delivery(DeliveryState.SENT)  # a late callback never moves it back
    await delivery(DeliveryState.FAILED, error_code="30003", reason="Unreachable handset")
    await eventually(lambda: _is(reply_status, "failed"), what="reply shown as failed")

    changes = await eventually(lambda: _announced(events, issue["issue_id"], 3), what="three status changes")
    assert [e["payload"]["status"] for e in changes] == ["sent", "delivered", "failed"]
    assert changes[-1]["payload"]["reason"] == "Unreachable handset"
    assert changes[-1]["payload"]["outbound_id"] == reply["outbound_id"]


async def _is(probe, expected: str) -> bool:
    return await probe() == expected


async def _announced(events, issue_id: str, count: int) -> list | None:
    found = events.all_matching(lambda e: e["type"] == "issue.reply_status_changed"
                                      and e["payload"]["issue"]["issue_id"] == issue_id)
    return found if len(found) >= count else None


async def test_reopening_is_refused_while_the_customer_has_another_open_issue(shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    first = await _new_issue(shop, alice, "cus_two", "First question")
    assert (await shop.post(f"/api/issues/{first['issue_id']}/close", alice)).status_code == 200
    second = await _new_issue(shop, alice, "cus_two", "Second question")
    refused = await shop.post(f"/api/issues/{first['issue_id']}/reopen", alice)
    assert refused.status_code == 409
    assert f"issue #{second['number']}" in refused.json()["error"]["message"]


async def test_detail_shows_the_customers_whole_past_communication_oldest_first(shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    first = await _new_issue(shop, alice, "cus_past", "Old question")
    path = f"/api/issues/{first['issue_id']}"
    await shop.post(f"{path}/comments", alice, {"text": "regular customer"})
    await shop.post(f"{path}/replies", alice, {"text": "Old answer"})
    await shop.post(f"{path}/close", alice)
    second = await _new_issue(shop, alice, "cus_past", "New question")

    detail = (await shop.get(f"/api/issues/{second['issue_id']}", alice)).json()
    assert [(e["kind"], e["text"], e["issue_id"]) for e in detail["communication"]] == [
        ("customer_message", "Old question", first["issue_id"]),
        ("private_comment", "regular customer", first["issue_id"]),
        ("reply", "Old answer", first["issue_id"]),
        ("customer_message", "New question", second["issue_id"]),
    ]
    assert [i["issue_id"] for i in detail["customer_issues"]] == [first["issue_id"], second["issue_id"]]


async def test_every_published_issue_event_names_its_audience_every_staff_member_of_the_tenant(shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    events = await shop.watch(ISSUE_EVENTS)
    issue = await _new_issue(shop, alice, "cus_audience", "Is my coat ready?")
    path = f"/api/issues/{issue['issue_id']}"
    assert (await shop.post(f"{path}/take", alice)).status_code == 200
    assert (await shop.post(f"{path}/comments", alice, {"text": "checking the rack"})).status_code == 201

    async def announced() -> list | None:
        mine = events.all_matching(lambda e: e["payload"]["issue"]["issue_id"] == issue["issue_id"])
        return mine if len(mine) >= 3 else None

    published = await eventually(announced, what="opened, assigned and comment_added published")
    assert [e["type"] for e in published] == ["issue.opened", "issue.assigned", "issue.comment_added"]
    assert all(e["payload"]["audience"] == {"tenant_staff": True, "staff_ids": []} for e in published)
    assert published[1]["payload"]["issue"]["status_label"] == "Assigned to Alice Martin"
    assert published[1]["payload"]["issue"]["status_colour"] == "blue"
