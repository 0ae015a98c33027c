"""The Messages module in a real browser: sign in, a customer's text arrives live, staff act on it."""

import re

from playwright.sync_api import expect

from relay_stack import demo
from relay_stack.stack import Stack
from tests.browser.issue_pages import card, open_customer_messages, show
from tests.browser.pages import TIMEOUT_MS
from tests.support import post_twilio_sms


def test_customer_text_shows_live_and_take_close_change_its_colour_for_everyone(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    bob = sign_in("bob")
    carol = sign_in("carol")
    for page in (bob, carol):  # the module reopens where each left off, maybe in a chat conversation
        open_customer_messages(page)

    assert post_twilio_sms(relay, demo_tenant, from_number="+14155550103",
                           body="Can I pick up my coat at 5?").status_code == 200

    toast = bob.get_by_role("region", name="Notifications").get_by_text("Mei Tanaka").first
    expect(toast).to_be_visible(timeout=TIMEOUT_MS)
    meis = card(bob, "Can I pick up my coat at 5?")
    expect(meis).to_have_class(re.compile("status-unassigned"), timeout=TIMEOUT_MS)
    bob.screenshot(path="/tmp/relay-feed.png")

    meis.get_by_role("button", name="Take It").click()
    expect(meis.locator(".status")).to_have_text("Assigned to Bob Chen", timeout=TIMEOUT_MS)
    carol_card = card(carol, "Can I pick up my coat at 5?")
    expect(carol_card).to_have_class(re.compile("status-assigned"), timeout=TIMEOUT_MS)
    expect(carol_card.get_by_role("button", name="Mark as Closed")).to_have_count(0)

    meis.get_by_role("button", name="Mark as Closed").click()
    expect(meis).to_have_count(0, timeout=TIMEOUT_MS)
    show(bob, "Closed")
    closed = card(bob, "Can I pick up my coat at 5?")
    expect(closed.locator(".status")).to_have_text(re.compile("^Closed by Bob Chen"), timeout=TIMEOUT_MS)
    expect(closed).to_have_class(re.compile("status-closed"))


def test_wrong_password_shows_a_clear_message(browser, relay: Stack, demo_tenant: demo.DemoTenant) -> None:
    page = browser.new_context().new_page()
    page.goto(relay.gateway_url + "/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The tenant, username or password is not right.", timeout=TIMEOUT_MS)
