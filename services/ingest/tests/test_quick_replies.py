"""Quick replies: managers keep a tenant's reply templates; staff get them filled from the customer's account."""

from datetime import date
from decimal import Decimal

import httpx
import pytest

from relay_contracts.staff import StaffRole
from relay_ingest import domain

READY = "Hi {first_name}, your order {ticket} is ready for pickup at rack {rack}. Balance {balance}. — {shop_name}"
ORDERS = [
    {"ticket": "4410", "status": "picked up", "rack": "A1", "balance": 0, "placed_at": "2026-11-28T09:00:00Z"},
    {"ticket": "4471", "status": "Ready", "rack": "B12", "balance": "12.5", "due_date": "2026-11-24",
     "placed_at": "2026-11-20T10:00:00Z", "items": ["2 shirts", "1 coat"]},
    {"ticket": "4390", "status": "in_progress", "rack": None, "balance": 3, "placed_at": "2026-11-02"},
]


def _put(tenant, template_id: str, body: object, *, headers: dict | None = None) -> httpx.Response:
    return tenant.api("PUT", f"/api/reply-templates/{template_id}", json=body, headers=headers or tenant.manager)


def test_managers_keep_templates_that_every_staff_member_can_list(tenant, make_tenant) -> None:
    saved = _put(tenant, "ready", {"name": "Order ready", "body": READY})
    assert saved.status_code == 200, saved.text
    assert saved.json()["template_id"] == "ready" and saved.json()["updated_at"]
    assert _put(tenant, "hours", {"name": "Hours", "body": "We are open 8 to 6, {name}."}).status_code == 200
    assert _put(tenant, "hours", {"name": "Opening hours", "body": "Open 8-6."},
                headers=tenant.staff(role=StaffRole.ADMIN)).status_code == 200

    listed = tenant.api("GET", "/api/reply-templates")
    assert listed.status_code == 200
    assert [(t["template_id"], t["name"], t["body"]) for t in listed.json()["templates"]] == [
        ("hours", "Opening hours", "Open 8-6."), ("ready", "Order ready", READY)]
    assert set(listed.json()["templates"][0]) == {"template_id", "name", "body", "updated_at"}
    assert make_tenant().api("GET", "/api/reply-templates").json() == {"templates": []}

    assert tenant.api("DELETE", "/api/reply-templates/hours").status_code == 403  # a staff member
    assert tenant.api("DELETE", "/api/reply-templates/hours", headers=tenant.manager).status_code == 204
    assert tenant.api("DELETE", "/api/reply-templates/hours", headers=tenant.manager).status_code == 404
    assert [t["template_id"] for t in tenant.api("GET", "/api/reply-templates").json()["templates"]] == ["ready"]
    assert httpx.get(f"{tenant.ingest.url}/api/reply-templates").status_code == 401


def test_template_changes_need_a_manager_and_a_body_with_known_variables(tenant) -> None:
    forbidden = _put(tenant, "ready", {"name": "Ready", "body": READY}, headers=tenant.staff())
    assert forbidden.status_code == 403 and "manager" in forbidden.json()["error"]["message"]
    unknown = _put(tenant, "ready", {"name": "Ready", "body": "Hi {first_name}, {pickup_day} at {store hours}"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_variables"
    assert "{pickup_day}" in unknown.json()["error"]["message"]
    assert "{store hours}" in unknown.json()["error"]["message"]
    for body in ({"name": "", "body": "x"}, {"name": "x" * 61, "body": "x"}, {"name": "N", "body": ""},
                 {"name": "N", "body": "x" * 1601}, {"name": "N", "body": "  "}, {"name": "N"},
                 {"name": "N", "body": "x", "extra": True}):
        assert _put(tenant, "t1", body).status_code == 422, body
    assert _put(tenant, "bad id!", {"name": "N", "body": "x"}).status_code == 422
    assert tenant.api("GET", "/api/reply-templates").json()["templates"] == []


def test_quick_replies_are_filled_from_the_most_recent_open_order(tenant) -> None:
    assert _put(tenant, "ready", {"name": "Order ready", "body": READY}).status_code == 200
    assert _put(tenant, "due", {"name": "Due", "body": "{name}: {order_status}, due {due_date}."}).status_code == 200
    saved = tenant.upsert("pos-1", {"name": "Jane Doe", "phones": ["+12025550143"], "orders": ORDERS})
    assert saved.status_code == 200, saved.text
    assert saved.json()["orders"][1]["balance"] == "12.50" and saved.json()["orders"][1]["items"] == ["2 shirts",
                                                                                                        "1 coat"]

    answer = tenant.api("GET", "/api/customers/pos-1/quick-replies")
    assert answer.status_code == 200, answer.text
    by_id = {q["template_id"]: q for q in answer.json()["quick_replies"]}
    assert by_id["ready"]["text"] == ("Hi Jane, your order 4471 is ready for pickup at rack B12. Balance $12.50. "
                                      "— Sunrise Dry Cleaners")
    assert by_id["ready"]["missing"] == [] and by_id["ready"]["body"] == READY and by_id["ready"]["name"] == "Order ready"
    assert by_id["due"]["text"] == "Jane Doe: Ready, due Tue, Nov 24."


async def test_what_a_customer_lacks_is_left_as_written_and_listed(tenant, topics) -> None:
    assert _put(tenant, "ready", {"name": "Order ready", "body": READY}).status_code == 200
    assert tenant.sms(from_number="+12025550199", body="Hello?").status_code == 200
    [event] = await topics.wait_for_count(tenant.tenant_id, "inbound.message.received")
    customer_id = event["payload"]["customer_id"]
    [filled] = tenant.api("GET", f"/api/customers/{customer_id}/quick-replies").json()["quick_replies"]
    assert filled["text"] == ("Hi {first_name}, your order {ticket} is ready for pickup at rack {rack}. "
                              "Balance {balance}. — Sunrise Dry Cleaners")
    assert filled["missing"] == ["first_name", "ticket", "rack", "balance"]

    # account fields stand in when there is no open order (the CSV import puts columns there)
    assert tenant.upsert("pos-2", {"name": "Ann", "account": {"ticket": "88", "rack": "C3", "balance": "$5"},
                                   "orders": [{"ticket": "1", "status": "Completed"}]}).status_code == 200
    [filled] = tenant.api("GET", "/api/customers/pos-2/quick-replies").json()["quick_replies"]
    assert filled["text"].startswith("Hi Ann, your order 88 is ready for pickup at rack C3. Balance $5.00.")
    assert tenant.api("GET", "/api/customers/nobody/quick-replies").status_code == 404


def test_orders_are_checked_when_the_point_of_sale_sends_them(tenant) -> None:
    for order in ({"balance": "lots"}, {"due_date": "someday"}, {"ticket": "x" * 61}, {"balance": True}):
        refused = tenant.upsert("pos-3", {"name": "Bad", "orders": [order]})
        assert refused.status_code == 422, (order, refused.text)
    assert tenant.customer("pos-3").status_code == 404


@pytest.mark.parametrize(("raw", "shown"), [
    (12.5, "$12.50"), ("12.5", "$12.50"), ("$1,012.5", "$1,012.50"), (0, "$0.00"), ("-3", "-$3.00"),
    ("(4.25)", "-$4.25"), (Decimal("7.005"), "$7.00"),
])
def test_balances_read_as_money(raw: object, shown: str) -> None:
    assert domain.format_money(domain.money_amount(raw)) == shown


def test_variables_are_named_once_and_filled_where_known() -> None:
    body = "Hi {first_name} {last_name}, {ticket}/{ticket} {unknown} {}"
    assert domain.unknown_variables(body) == ["unknown", ""]
    text, missing = domain.fill_template("Hi {first_name}, {ticket} and {ticket}", values={"first_name": "Jo"})
    assert (text, missing) == ("Hi Jo, {ticket} and {ticket}", ["ticket"])
    assert domain.split_name("Mary Ann  Smith") == ("Mary", "Smith") and domain.split_name("Cher") == ("Cher", None)
    assert domain.format_due_date(date(2026, 11, 24)) == "Tue, Nov 24"
