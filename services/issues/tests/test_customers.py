"""Issues name the customer as staff know them, follow the directory's renames and merges, and keep SMS consent."""

from datetime import UTC, datetime

from relay_contracts.customer_messages import Channel
from relay_contracts.topics import ISSUE_EVENTS, OUTBOUND_MESSAGES
from relay_stack.polling import eventually


def _customer_changed(events, issue_id: str, change: str):
    """A probe: the issue.customer_changed events of one issue and kind of change, once there is one."""

    async def probe() -> list | None:
        return events.all_matching(lambda e: e["type"] == "issue.customer_changed"
                                   and e["payload"]["issue"]["issue_id"] == issue_id
                                   and e["payload"]["change"] == change) or None

    return probe


async def test_an_unknown_contact_is_shown_by_the_label_ingest_gave_in_every_answer_and_push(shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    events = await shop.watch(ISSUE_EVENTS)
    await shop.customer_writes("cus_f754c4cdd21548ce", "Is it ready?", address="+14155550123",
                               label="(415) 555-0123", unknown_contact=True)
    detail = await shop.open_issue_of("cus_f754c4cdd21548ce", alice)
    issue = detail["issue"]
    assert (issue["customer_label"], issue["customer_name"], issue["unknown_contact"]) == (
        "(415) 555-0123", None, True)
    assert detail["customer_issues"][0]["customer_label"] == "(415) 555-0123"
    taken = await shop.post(f"/api/issues/{issue['issue_id']}/take", alice)
    assert taken.json()["issue"]["customer_label"] == "(415) 555-0123"
    tracker = (await shop.get("/api/issues/mine", alice)).json()["issues"]
    feed = (await shop.get("/api/issues", alice)).json()["issues"]
    assert [i["customer_label"] for i in tracker] == [i["customer_label"] for i in feed] == ["(415) 555-0123"]

    async def both_pushed() -> list | None:
        mine = events.all_matching(lambda e: e["payload"]["issue"]["issue_id"] == issue["issue_id"])
        return mine if len(mine) >= 2 else None

    pushed = await eventually(both_pushed, what="opened and assigned pushed")
    assert [e["payload"]["issue"]["customer_label"] for e in pushed] == ["(415) 555-0123"] * 2


async def test_without_a_label_from_ingest_an_issue_is_labelled_by_name_else_phone_in_national_format_or_email(
        shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    await shop.customer_writes("cus_l1", "hi", address="+14155550188")
    await shop.customer_writes("cus_l2", "hi", name="Jane Doe")
    await shop.customer_writes("cus_l3", "hi", channel=Channel.EMAIL, address="mei@example.com")
    labels = [(await shop.open_issue_of(c, alice))["issue"]["customer_label"] for c in ("cus_l1", "cus_l2", "cus_l3")]
    assert labels == ["(415) 555-0188", "Jane Doe", "mei@example.com"]
    await shop.customer_writes("cus_l1", "it's Lena", name="Lena Park")
    assert (await shop.open_issue_of("cus_l1", alice, count=2))["issue"]["customer_label"] == "Lena Park"


async def test_naming_an_unknown_contact_relabels_all_their_issues_and_announces_the_open_one(shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    events = await shop.watch(ISSUE_EVENTS)
    await shop.customer_writes("cus_unnamed", "First", address="+14155550171", label="(415) 555-0171",
                               unknown_contact=True)
    first = (await shop.open_issue_of("cus_unnamed", alice))["issue"]
    assert (await shop.post(f"/api/issues/{first['issue_id']}/close", alice)).status_code == 200
    await shop.customer_writes("cus_unnamed", "Second", address="+14155550171", label="(415) 555-0171",
                               unknown_contact=True)
    second = (await shop.open_issue_of("cus_unnamed", alice))["issue"]

    await shop.customer_renamed("cus_unnamed", name="Mei Chen", label="Mei Chen")
    changed = (await eventually(_customer_changed(events, second["issue_id"], "profile"),
                                what="the open issue announced renamed"))[0]["payload"]
    assert changed["issue"]["customer_label"] == "Mei Chen" and changed["issue"]["customer_name"] == "Mei Chen"
    assert changed["audience"] == {"tenant_staff": True, "staff_ids": []}
    # The closed issue is changed first, on the same key: had it been announced, it would be here already.
    assert not events.all_matching(lambda e: e["type"] == "issue.customer_changed"
                                   and e["payload"]["issue"]["issue_id"] == first["issue_id"])
    closed = (await shop.get(f"/api/issues/{first['issue_id']}", alice)).json()["issue"]
    assert (closed["customer_label"], closed["customer_name"], closed["unknown_contact"]) == (
        "Mei Chen", "Mei Chen", False)
    assert closed["status"] == "closed"


async def test_merging_a_contact_into_a_customer_with_an_open_issue_closes_it_as_merged_pointing_to_theirs(
        shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    events = await shop.watch(ISSUE_EVENTS)
    await shop.customer_writes("cus_contact", "Is my coat ready?", address="+14155550199", label="(415) 555-0199",
                               unknown_contact=True)
    await shop.customer_writes("cus_ana", "Hello, it's Ana", channel=Channel.EMAIL, address="ana@example.com",
                               name="Ana Ruiz")
    merged = (await shop.open_issue_of("cus_contact", alice))["issue"]
    survivor = (await shop.open_issue_of("cus_ana", alice))["issue"]

    await shop.customer_renamed("cus_contact", name="Ana Ruiz", label="Ana Ruiz", merged_into="cus_ana")
    payload = (await eventually(_customer_changed(events, merged["issue_id"], "merged"),
                                what="the merged issue announced"))[0]["payload"]
    assert payload["previous_customer_id"] == "cus_contact"
    announced = payload["issue"]
    assert (announced["customer_id"], announced["customer_label"], announced["status"], announced["resolution"],
            announced["merged_into_issue_id"], announced["status_label"], announced["closed_by"]) == (
        "cus_ana", "Ana Ruiz", "closed", "merged", survivor["issue_id"], "Closed — merged", None)

    detail = (await shop.get(f"/api/issues/{survivor['issue_id']}", alice)).json()
    assert [i["issue_id"] for i in detail["customer_issues"]] == [merged["issue_id"], survivor["issue_id"]]
    assert [e["text"] for e in detail["communication"]] == ["Is my coat ready?", "Hello, it's Ana"]
    history = (await shop.get(f"/api/issues/{merged['issue_id']}", alice)).json()["issue"]["history"]
    assert history[-1]["action"] == "customer_merged"
    assert history[-1]["detail"]["merged_into_issue_id"] == survivor["issue_id"]
    assert history[-1]["detail"]["previous_customer_id"] == "cus_contact"
    open_issues = (await shop.get("/api/issues", alice, status="open")).json()["issues"]
    assert [i["issue_id"] for i in open_issues if i["customer_id"] in ("cus_ana", "cus_contact")] == [
        survivor["issue_id"]]

    await shop.customer_writes("cus_ana", "Any news?", channel=Channel.EMAIL, address="ana@example.com")
    assert (await shop.open_issue_of("cus_ana", alice, count=2))["issue"]["issue_id"] == survivor["issue_id"]
    await shop.customer_renamed("cus_contact", name="Ana Ruiz", label="Ana Ruiz", merged_into="cus_ana")  # again
    await shop.customer_writes("cus_ana", "sentinel", channel=Channel.EMAIL, address="ana@example.com")
    await shop.open_issue_of("cus_ana", alice, count=3)
    assert len(events.all_matching(lambda e: e["type"] == "issue.customer_changed"
                                   and e["payload"]["change"] == "merged")) == 1


async def test_merging_a_contact_into_a_customer_without_an_open_issue_moves_the_issue_to_them(shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    events = await shop.watch(ISSUE_EVENTS)
    await shop.customer_writes("cus_contact2", "Do you hem trousers?", address="+14155550198",
                               label="(415) 555-0198", unknown_contact=True)
    moved = (await shop.open_issue_of("cus_contact2", alice))["issue"]
    await shop.customer_renamed("cus_contact2", name="Omar Haddad", label="Omar Haddad", merged_into="cus_omar2")
    announced = (await eventually(_customer_changed(events, moved["issue_id"], "merged"),
                                  what="the moved issue announced"))[0]["payload"]["issue"]
    assert (announced["customer_id"], announced["customer_label"], announced["status"]) == (
        "cus_omar2", "Omar Haddad", "unassigned")
    await shop.customer_writes("cus_omar2", "Also a zip", name="Omar Haddad")
    detail = await shop.open_issue_of("cus_omar2", alice, count=2)
    assert detail["issue"]["issue_id"] == moved["issue_id"] and detail["issue"]["unknown_contact"] is False


async def test_a_reply_by_sms_to_a_customer_who_texted_stop_is_409_and_nothing_is_stored_or_sent(shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    events = await shop.watch(ISSUE_EVENTS)
    outbound = await shop.watch(OUTBOUND_MESSAGES)
    phone = "+14155550142"
    await shop.customer_writes("cus_stop", "Is my order ready?", address=phone, label="(415) 555-0142")
    issue = (await shop.open_issue_of("cus_stop", alice))["issue"]
    path = f"/api/issues/{issue['issue_id']}"
    assert issue["sms_opted_out_at"] is None

    stop = await shop.customer_texts_keyword("cus_stop", phone=phone, opted_out=True,
                                             at=datetime(2026, 11, 30, 15, 4, tzinfo=UTC))
    pushed = (await eventually(_customer_changed(events, issue["issue_id"], "consent"),
                               what="the opt-out announced"))[0]["payload"]["issue"]
    assert datetime.fromisoformat(pushed["sms_opted_out_at"]) == datetime(2026, 11, 30, 15, 4, tzinfo=UTC)
    before = (await shop.get(path, alice)).json()
    assert datetime.fromisoformat(before["issue"]["sms_opted_out_at"]) == datetime(2026, 11, 30, 15, 4, tzinfo=UTC)

    refused = await shop.post(f"{path}/replies", alice, {"text": "Yes, ready at 5"})
    assert refused.status_code == 409
    assert refused.json() == {"error": {"code": "opted_out", "message": "(415) 555-0142 texted STOP on Nov 30, 2026; "
                                                                       "SMS replies are blocked until they text START"}}
    after = (await shop.get(path, alice)).json()
    assert after["issue"]["history"] == before["issue"]["history"]
    assert after["communication"] == before["communication"]
    assert (await shop.post(f"{path}/comments", alice, {"text": "they opted out"})).status_code == 201

    await shop.customer_texts_keyword("cus_stop", phone=phone, opted_out=False,
                                      at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    await shop.republish(stop)  # a late redelivery of the older STOP changes nothing
    await shop.customer_writes("cus_stop", "START sorry", address=phone, label="(415) 555-0142")
    again = (await shop.open_issue_of("cus_stop", alice, count=2))["issue"]
    assert again["sms_opted_out_at"] is None
    allowed = await shop.post(f"{path}/replies", alice, {"text": "Ready at 5"})
    assert allowed.status_code == 201, allowed.text

    sent = await outbound.wait_for(lambda e: e["payload"]["issue_id"] == issue["issue_id"], what="the reply")
    assert sent["payload"]["outbound_id"] == allowed.json()["entry"]["outbound_id"]
    assert [e["payload"]["text"] for e in outbound.all_matching(
        lambda e: e["payload"]["issue_id"] == issue["issue_id"])] == ["Ready at 5"]


async def test_a_customer_who_texted_stop_first_opens_an_opted_out_issue_and_email_replies_still_go(shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    phone = "+14155550143"
    await shop.customer_texts_keyword("cus_stop_first", phone=phone, opted_out=True)
    await shop.customer_writes("cus_stop_first", "Where is my order?", address=phone, name="Lena Park")
    issue = (await shop.open_issue_of("cus_stop_first", alice))["issue"]
    assert issue["sms_opted_out_at"] is not None
    path = f"/api/issues/{issue['issue_id']}"
    refused = await shop.post(f"{path}/replies", alice, {"text": "Tomorrow"})
    assert refused.status_code == 409 and refused.json()["error"]["message"].startswith("Lena Park texted STOP on ")

    await shop.customer_writes("cus_stop_first", "Email me instead", channel=Channel.EMAIL, address="lena@example.com")
    await shop.open_issue_of("cus_stop_first", alice, count=2)
    emailed = await shop.post(f"{path}/replies", alice, {"text": "Tomorrow at noon"})
    assert emailed.status_code == 201 and emailed.json()["entry"]["channel"] == "email"


async def test_a_merged_contacts_opt_out_follows_it_to_the_customer_it_was_merged_into(shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    events = await shop.watch(ISSUE_EVENTS)
    await shop.customer_texts_keyword("cus_contact3", phone="+14155550197", opted_out=True,
                                      at=datetime(2026, 11, 29, 8, 0, tzinfo=UTC))
    await shop.customer_writes("cus_dana", "Hi, it's Dana", name="Dana Lee", address="+14155550196")
    survivor = (await shop.open_issue_of("cus_dana", alice))["issue"]
    assert survivor["sms_opted_out_at"] is None
    await shop.customer_renamed("cus_contact3", name="Dana Lee", label="Dana Lee", merged_into="cus_dana")
    pushed = (await eventually(_customer_changed(events, survivor["issue_id"], "consent"),
                               what="the customer's own issue announced opted out"))[0]["payload"]["issue"]
    assert datetime.fromisoformat(pushed["sms_opted_out_at"]) == datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    refused = await shop.post(f"/api/issues/{survivor['issue_id']}/replies", alice, {"text": "Ready"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "opted_out"
