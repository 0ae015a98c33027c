"""Getting the counter's attention in real browsers: a customer's text reaches two staff members as a toast naming
the customer, a desktop notification and a count on Customer Messages, with a sound until one of them takes it."""

import random
import re
import uuid

import httpx
from playwright.sync_api import Locator, Page, expect

from relay_stack import demo
from relay_stack.stack import Stack
from tests.browser.pages import TIMEOUT_MS, create_channel, csp_violations, open_feed, post, unique_name
from tests.support import post_twilio_sms


def _new_customer(relay: Stack, tenant: demo.DemoTenant) -> tuple[str, str]:
    """A customer of the point of sale no other test writes as (one customer, one open issue): name and number."""
    number = f"+1415{random.randint(2000000, 9999999)}"
    name = f"Nia Okafor {uuid.uuid4().hex[:4]}"
    answer = httpx.put(f"{relay.gateway_url}/api/customers/cus_{uuid.uuid4().hex[:12]}",
                       params={"tenant_id": tenant.tenant_id}, headers={"authorization": f"Bearer {relay.admin_token}"},
                       json={"name": name, "phones": [number], "emails": [], "account": {}}, timeout=15)
    assert answer.status_code in (200, 201), answer.text
    return name, number


def _switch_on_attention(page: Page) -> None:
    """Both switches on, from the Settings dialog (the notification permission is asked from that click)."""
    page.get_by_role("button", name="Settings").click()
    settings = page.get_by_role("dialog", name="Settings")
    for name in ("Desktop notifications", "Sound for new customer issues"):
        switch = settings.get_by_role("switch", name=name)
        switch.check()
        expect(switch).to_be_checked(timeout=TIMEOUT_MS)
    page.keyboard.press("Escape")
    expect(settings).to_have_count(0)


def _waiting_badge(page: Page) -> Locator:
    return page.get_by_role("link", name=re.compile("^Customer Messages")).locator(".badge")


def _badge_count(badge: Locator) -> int:
    return int(badge.text_content() or 0) if badge.count() else 0


def test_a_customer_text_gets_both_staff_members_attention_until_one_takes_it(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    name, number = _new_customer(relay, demo_tenant)
    bob = sign_in("bob", notifications=True)
    carol = sign_in("carol", notifications=True)
    waiting_before = {}
    for page in (bob, carol):
        open_feed(page)
        _switch_on_attention(page)
        expect(page.locator("body")).to_have_attribute("data-ringing", "off")
        waiting_before[page] = _badge_count(_waiting_badge(page))

    text = f"Is my suit ready? ({uuid.uuid4().hex[:6]})"
    assert post_twilio_sms(relay, demo_tenant, from_number=number, body=text).status_code == 200

    for page in (bob, carol):
        toast = page.get_by_role("region", name="Notifications").locator(".toast").filter(has_text=text)
        expect(toast.locator(".title")).to_have_text(f"New message from {name}", timeout=TIMEOUT_MS)
        expect(toast.locator(".where")).to_have_text("Customer Messages")
        expect(page.get_by_role("status").filter(has_text=text)).to_have_count(1)  # read out by the one live region
        expect(_waiting_badge(page)).to_have_text(str(waiting_before[page] + 1), timeout=TIMEOUT_MS)
        expect(page.locator("body")).to_have_attribute("data-ringing", "on")
        page.wait_for_function("(text) => window.shownNotifications.some((n) => n.body.includes(text))", arg=text,
                               timeout=TIMEOUT_MS)
        shown = page.evaluate("window.shownNotifications")
        assert any(n["title"].startswith(f"New message from {name}") for n in shown), shown
        assert re.fullmatch(r"\(\d+\) Relay", page.title()), page.title()
        assert page.locator("link#favicon").get_attribute("href").startswith("data:image/png"), "no count on the icon"
    bob.screenshot(path="/tmp/relay-attention.png")

    card = bob.locator("article.issue").filter(has_text=text)
    card.get_by_role("button", name="Take It").click(timeout=TIMEOUT_MS)
    for page in (bob, carol):
        expect(page.locator("body")).to_have_attribute("data-ringing", "off", timeout=TIMEOUT_MS)
        badge = _waiting_badge(page)
        if waiting_before[page]:
            expect(badge).to_have_text(str(waiting_before[page]), timeout=TIMEOUT_MS)
        else:
            expect(badge).to_have_count(0, timeout=TIMEOUT_MS)
    carol_card = carol.locator("article.issue").filter(has_text=text)
    expect(carol_card.get_by_text("Assigned to Bob Chen")).to_be_visible(timeout=TIMEOUT_MS)
    for page in (bob, carol):
        assert csp_violations(page) == [], csp_violations(page)


def test_toasts_go_after_a_few_seconds_stack_at_most_three_and_stay_under_a_dialog(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    bob = sign_in("bob")
    carol = sign_in("carol")
    channel_id = create_channel(bob, unique_name("toasts"), members=["Carol Diaz"])
    open_feed(carol)
    for n in range(1, 5):
        post(bob, f"Rail {n} is full")
    toasts = carol.get_by_role("region", name="Notifications").locator(".toast")
    expect(toasts.filter(has_text="Rail 4 is full")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(toasts).to_have_count(3)
    expect(toasts.first).to_contain_text("Rail 4 is full")  # the newest on top

    # A toast held by the pointer stays; the others go after their few seconds.
    toasts.first.hover()
    expect(toasts).to_have_count(1, timeout=TIMEOUT_MS)
    expect(toasts.first).to_contain_text("Rail 4 is full")
    carol.mouse.move(5, 400)
    expect(toasts).to_have_count(0, timeout=TIMEOUT_MS)

    # While a dialog is open a new toast stays under it: the dialog's close button is never covered.
    carol.get_by_role("button", name="Settings").click()
    dialog = carol.get_by_role("dialog", name="Settings")
    post(bob, "Rail 5 is full")
    expect(toasts.filter(has_text="Rail 5 is full")).to_have_count(1, timeout=TIMEOUT_MS)
    close = dialog.get_by_role("button", name="Close")
    close.click(trial=True)  # actionable: nothing on top of it
    covering = carol.evaluate("""() => {
      const box = document.querySelector(".modal-close").getBoundingClientRect();
      const top = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
      return top.closest(".toast") ? "a toast" : "";
    }""")
    assert covering == ""
    close.click()
    assert channel_id
