"""The reply box in real browsers: quick replies filled for the customer, the SMS segment counter and its fix for
curly quotes, and a customer who texted STOP (the box says so, and the API refuses with 409)."""

import re
import time

from playwright.sync_api import expect

from relay_stack import demo
from relay_stack.stack import Stack
from tests.browser.issue_pages import (
    JANE, card, check_every_size, national, open_customer_messages, open_issue, texts, unique, unknown_numbers,
)
from tests.browser.pages import TIMEOUT_MS


def test_a_quick_reply_fills_the_customers_ticket_for_editing(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    bob = sign_in("bob", bypass_csp=True)   # for axe-core
    open_customer_messages(bob)
    text = unique("Is my suit ready?")
    texts(relay, demo_tenant, from_number=JANE, body=text)
    view = open_issue(bob, text, "Jane Doe")
    reply = view.get_by_label("Reply to the customer")

    view.get_by_role("button", name="Quick replies").click()
    replies = view.get_by_role("listbox", name="Quick replies")
    ready = replies.get_by_role("option", name=re.compile("^Ready for pickup"))
    expect(ready).to_contain_text("A-1042", timeout=TIMEOUT_MS)   # Jane's open order
    check_every_size(bob, "quick-replies")
    ready.click()
    expect(replies).to_be_hidden()
    expect(reply).to_have_value(re.compile(r"^Hi Jane, your order A-1042 is ready for pickup\. Balance \$12\.50\."))
    expect(reply).to_be_focused()

    # "/" at the start of the reply opens the same list, filtered by what follows; Enter takes the one shown first
    reply.fill("")
    reply.press_sequentially("/runn")
    late = replies.get_by_role("option", name=re.compile("^Running late"))
    expect(late).to_be_visible(timeout=TIMEOUT_MS)
    expect(replies.get_by_role("option")).to_have_count(1)
    expect(late).to_have_attribute("aria-selected", "true")
    reply.press("Enter")
    expect(reply).to_have_value(re.compile(r"^Hi Jane, sorry: order A-1042 needs one more day\."))
    reply.press("End")
    reply.press_sequentially(" Bob")
    expect(reply).to_have_value(re.compile(r" Bob$"))   # the text is the staff member's to edit before sending


def test_the_sms_counter_turns_ucs2_on_a_curly_quote_and_plain_characters_fix_it(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    bob = sign_in("bob")
    open_customer_messages(bob)
    text = unique("Can you press a tie?")
    texts(relay, demo_tenant, from_number=JANE, body=text)
    view = open_issue(bob, text, "Jane Doe")
    reply = view.get_by_label("Reply to the customer")

    reply.fill("Yes, ready at 5")
    counter = view.locator(".sms-count")
    expect(counter).to_have_text("15 characters · GSM-7 · 1 segment")
    expect(reply).to_have_accessible_description("15 characters · GSM-7 · 1 segment")
    reply.fill("Yes, it\u2019s ready at 5 \u2014 see you")
    expect(counter).to_have_text("30 characters · UCS-2 · 1 segment")
    warning = view.locator(".sms .warning")
    expect(warning).to_contain_text("curly apostrophe")
    expect(warning).to_contain_text("em dash")
    reply.fill("Yes, it\u2019s ready " + "a" * 60)
    expect(counter).to_have_text("76 characters · UCS-2 · 2 segments")
    view.get_by_role("button", name="Use plain characters").click()
    expect(counter).to_have_text("76 characters · GSM-7 · 1 segment")
    expect(reply).to_have_value("Yes, it's ready " + "a" * 60)
    expect(view.get_by_role("button", name="Use plain characters")).to_have_count(0)


def _issue_id(page, text: str) -> str:
    return card(page, text).get_attribute("data-issue-id") or ""


def test_a_customer_who_texted_stop_gets_no_sms_reply(sign_in, relay: Stack, demo_tenant: demo.DemoTenant) -> None:
    bob = sign_in("bob")
    open_customer_messages(bob)
    number = unknown_numbers(1, area="202")[0]
    text = unique("Please stop texting me about pickups")
    texts(relay, demo_tenant, from_number=number, body=text)
    expect(card(bob, text)).to_have_count(1, timeout=TIMEOUT_MS)
    issue_id = _issue_id(bob, text)
    texts(relay, demo_tenant, from_number=number, body="STOP")

    # the issues service hears of the opt-out from ingest: wait (with a deadline) until the issue says so
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        issue = bob.request.get(f"{relay.gateway_url}/api/issues/{issue_id}").json()["issue"]
        if issue.get("sms_opted_out_at"):
            break
        bob.wait_for_timeout(200)
    assert issue.get("sms_opted_out_at"), issue

    view = open_issue(bob, text, national(number))
    reply = view.get_by_label("Reply to the customer")
    expect(reply).to_be_disabled(timeout=TIMEOUT_MS)
    notice = view.get_by_role("note")
    expect(notice).to_contain_text(f"{national(number)} texted STOP on")
    expect(notice).to_contain_text("SMS replies are blocked")
    expect(view.get_by_role("button", name="Send reply")).to_be_disabled()
    expect(view.get_by_role("button", name="Quick replies")).to_be_disabled()

    refused = bob.request.post(f"{relay.gateway_url}/api/issues/{issue_id}/replies",
                               data={"text": "Your order is ready"})
    assert refused.status == 409, refused.text()
    error = refused.json()["error"]
    assert error["code"] == "opted_out"
    assert "STOP" in error["message"]


def test_a_manager_adds_a_quick_reply_that_staff_then_insert_filled(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    alice = sign_in("alice")   # a manager
    open_customer_messages(alice)
    text = unique("Where is my coat?")
    texts(relay, demo_tenant, from_number=JANE, body=text)
    view = open_issue(alice, text, "Jane Doe")

    name = unique("Coat on the rack")
    view.get_by_role("button", name="Edit quick replies").click()
    templates = alice.get_by_role("dialog", name="Quick replies")
    templates.get_by_role("button", name="New quick reply").click()
    form = templates.get_by_role("form", name="New quick reply")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Text").fill("Hi {first_name}, your coat (ticket {ticket}) is on rack {rack}.")
    form.get_by_role("button", name="Save quick reply").click()
    expect(templates.get_by_role("status")).to_contain_text(f"Saved “{name}”", timeout=TIMEOUT_MS)
    templates.get_by_role("button", name="Close quick replies").click()
    expect(templates).to_be_hidden()

    bob = sign_in("bob")
    open_customer_messages(bob)
    bobs = open_issue(bob, text, "Jane Doe")
    expect(bobs.get_by_role("button", name="Edit quick replies")).to_have_count(0)   # staff insert, managers keep
    bobs.get_by_role("button", name="Quick replies").click()
    option = bobs.get_by_role("listbox", name="Quick replies").get_by_role("option", name=re.compile(re.escape(name)))
    expect(option).to_contain_text("Hi Jane, your coat (ticket A-1042) is on rack R-12.", timeout=TIMEOUT_MS)

    # and the manager takes it away again, after confirming
    view.get_by_role("button", name="Edit quick replies").click()
    templates.get_by_role("button", name=f"Delete {name}").click()
    templates.get_by_role("button", name=f"Delete “{name}”").click()
    expect(templates.get_by_role("status")).to_contain_text(f"Deleted “{name}”", timeout=TIMEOUT_MS)
    expect(templates.get_by_text(name, exact=True)).to_have_count(0)
