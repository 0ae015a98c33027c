"""The feed, the Issue Tracker and counts; sign-in and tenancy; the metrics operators watch."""

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from relay_stack.polling import eventually


async def _open_issues(shop, staff, customers: list[str]) -> dict[str, dict]:
    issues = {}
    for customer in customers:  # one at a time: the feed's order is the order they were opened in
        await shop.customer_writes(customer, f"hello from {customer}")
        issues[customer] = (await shop.open_issue_of(customer, staff))["issue"]
    return issues


async def test_feed_pages_by_newest_activity_and_filters_by_status(shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    issues = await _open_issues(shop, alice, [f"cus_{n}" for n in range(5)])
    taken = await shop.post(f"/api/issues/{issues['cus_1']['issue_id']}/take", alice)
    assert taken.status_code == 200
    taken_at = datetime.fromisoformat(taken.json()["issue"]["updated_at"])

    async def clock_moved_on() -> bool:  # activity times are kept to the millisecond
        return datetime.now(UTC) > taken_at + timedelta(milliseconds=2)

    await eventually(clock_moved_on, what="a later millisecond")
    assert (await shop.post(f"/api/issues/{issues['cus_3']['issue_id']}/close", alice)).status_code == 200

    seen, before = [], None
    while True:
        page = (await shop.get("/api/issues", alice, limit=2, **({"before": before} if before else {}))).json()
        seen += [i["customer_id"] for i in page["issues"]]
        before = page["next_before"]
        if not before:
            break
    assert seen == ["cus_3", "cus_1", "cus_4", "cus_2", "cus_0"]

    def customers(status: str) -> list[str]:
        return [i["customer_id"] for i in status_pages[status]]

    status_pages = {s: (await shop.get("/api/issues", alice, status=s)).json()["issues"]
                    for s in ("unassigned", "assigned", "closed", "open")}
    assert customers("unassigned") == ["cus_4", "cus_2", "cus_0"]
    assert customers("assigned") == ["cus_1"] and customers("closed") == ["cus_3"]
    assert customers("open") == ["cus_1", "cus_4", "cus_2", "cus_0"]
    bad = await shop.get("/api/issues", alice, status="lost")
    assert bad.status_code == 422
    assert (await shop.get("/api/issues", alice, before="not-a-cursor")).status_code == 400


async def test_issue_tracker_lists_my_issues_open_first_oldest_first_and_counts_add_up(shop) -> None:
    bob = shop.staff("bob", "Bob Chen")
    issues = await _open_issues(shop, bob, ["cus_a", "cus_b", "cus_c", "cus_d"])
    for customer in ("cus_a", "cus_b", "cus_c"):
        assert (await shop.post(f"/api/issues/{issues[customer]['issue_id']}/take", bob)).status_code == 200
    assert (await shop.post(f"/api/issues/{issues['cus_a']['issue_id']}/close", bob)).status_code == 200

    mine = (await shop.get("/api/issues/mine", bob)).json()["issues"]
    assert [(i["customer_id"], i["status"]) for i in mine] == [
        ("cus_b", "assigned"), ("cus_c", "assigned"), ("cus_a", "closed")]
    counts = (await shop.get("/api/issues/counts", bob)).json()
    assert counts == {"unassigned": 1, "assigned": 2, "closed": 1, "open": 3, "mine": 2, "mine_open": 2}
    assert (await shop.get("/api/issues/counts", shop.staff("carol"))).json()["mine"] == 0


async def test_counts_are_the_callers_own_unassigned_for_everyone_mine_open_for_me(shop) -> None:
    alice, bob = shop.staff("alice", "Alice Martin"), shop.staff("bob", "Bob Chen")
    issues = await _open_issues(shop, alice, ["cus_c1", "cus_c2", "cus_c3", "cus_c4", "cus_c5"])
    path = {customer: f"/api/issues/{issue['issue_id']}" for customer, issue in issues.items()}
    assert (await shop.post(f"{path['cus_c1']}/take", alice)).status_code == 200
    assert (await shop.post(f"{path['cus_c2']}/take", alice)).status_code == 200
    assert (await shop.post(f"{path['cus_c3']}/take", bob)).status_code == 200
    assert (await shop.post(f"{path['cus_c2']}/close", alice)).status_code == 200  # closed: no longer mine_open
    assert (await shop.post(f"{path['cus_c4']}/resolve", bob)).status_code == 200  # closed while unassigned

    wanted = {"unassigned": 1, "assigned": 2, "closed": 2, "open": 3}
    assert (await shop.get("/api/issues/counts", alice)).json() == {**wanted, "mine": 1, "mine_open": 1}
    assert (await shop.get("/api/issues/counts", bob)).json() == {**wanted, "mine": 1, "mine_open": 1}
    assert (await shop.get("/api/issues/counts", shop.staff("carol"))).json() == {**wanted, "mine": 0,
                                                                                  "mine_open": 0}
    rival = shop.staff("alice", "Alice Martin", tenant_id=f"{shop.tenant_id}-rival")
    assert (await shop.get("/api/issues/counts", rival)).json() == {
        "unassigned": 0, "assigned": 0, "closed": 0, "open": 0, "mine": 0, "mine_open": 0}


@pytest.mark.parametrize("path", ["/api/issues", "/api/issues/mine", "/api/issues/counts", "/api/issues/iss_x"])
async def test_staff_api_without_a_valid_token_is_401(shop, path: str) -> None:
    missing = await shop.http.get(f"{shop.url}{path}")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthorized"
    forged = await shop.http.get(f"{shop.url}{path}", headers={"authorization": "Bearer not.a.token"})
    assert forged.status_code == 401
    action = await shop.http.post(f"{shop.url}/api/issues/iss_x/close")
    assert action.status_code == 401


async def test_another_tenants_issue_is_404_and_never_listed(shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    issue = (await _open_issues(shop, alice, ["cus_private"]))["cus_private"]
    rival = shop.staff("alice", "Alice Martin", tenant_id=f"{shop.tenant_id}-rival")
    path = f"/api/issues/{issue['issue_id']}"

    assert (await shop.get(path, rival)).status_code == 404
    for action in ("take", "close", "resolve", "reopen"):
        response = await shop.post(f"{path}/{action}", rival)
        assert response.status_code == 404, action
    assert (await shop.post(f"{path}/replies", rival, {"text": "hi"})).status_code == 404
    assert (await shop.get("/api/issues", rival)).json() == {"issues": [], "next_before": None}
    assert (await shop.get("/api/issues/counts", rival)).json()["open"] == 0
    still = (await shop.get(path, alice)).json()["issue"]
    assert still["status"] == "unassigned" and len(still["history"]) == 1
    unknown = await shop.get("/api/issues/iss_doesnotexist", alice)
    assert unknown.status_code == 404 and "Traceback" not in unknown.text


async def test_metrics_show_open_issues_their_age_and_response_times(shop, issues_service) -> None:
    alice = shop.staff("alice", "Alice Martin")
    issue = (await _open_issues(shop, alice, ["cus_metrics"]))["cus_metrics"]
    path = f"/api/issues/{issue['issue_id']}"
    assert (await shop.post(f"{path}/replies", alice, {"text": "On it"})).status_code == 201
    assert (await shop.post(f"{path}/close", alice)).status_code == 200
    await _open_issues(shop, alice, ["cus_metrics_2"])

    def sample(text: str, name: str) -> float:
        found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    async def exported() -> str | None:
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"{issues_service.url}/metrics")).text
        ready = sample(text, 'relay_open_issues{status="unassigned"}') >= 1
        return text if ready and sample(text, "relay_open_issue_oldest_age_seconds") > 0 else None

    text = await eventually(exported, what="open-issue gauges refreshed from the store")
    assert sample(text, "relay_issue_first_response_seconds_count") >= 1
    assert sample(text, "relay_issue_time_to_close_seconds_count") >= 1
    assert 'relay_open_issues{status="assigned"}' in text
