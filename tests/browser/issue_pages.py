"""The steps the customer-issue browser tests share: customers writing in, the feed, the issue and customer dialogs."""

import random
import re
import uuid

import httpx
from playwright.sync_api import Locator, Page, expect

from relay_stack import demo
from relay_stack.signing import twilio_signature
from relay_stack.stack import Stack
from tests.browser.pages import TIMEOUT_MS
from tests.browser.screens import SIZES, check_screen
from tests.support import unique_sid

JANE = "+14155550101"
OMAR = "+14155550102"
MEI = "+14155550103"


def unique(text: str) -> str:
    """A text no earlier test sent (the tests share one tenant for the whole run)."""
    return f"{text} ({uuid.uuid4().hex[:6]})"


def unknown_numbers(count: int, *, area: str = "415") -> list[str]:
    """Numbers no customer of the demo has (nor an earlier run, most likely): each one's text opens its own issue."""
    first = random.randint(2000, 9999 - count)
    return [f"+1{area}555{first + n}" for n in range(count)]


def national(number: str) -> str:
    """A US number as the tenant's national format shows it: +12025550143 → (202) 555-0143."""
    digits = number.removeprefix("+1")
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def texts(relay: Stack, tenant: demo.DemoTenant, *, from_number: str, body: str,
          media: list[tuple[str, str]] = ()) -> None:
    """The customer texts the shop: a Twilio webhook signed as Twilio signs it, with MMS media as (url, type)."""
    url = f"{relay.gateway_url}/webhooks/{tenant.tenant_id}/twilio/sms"
    form = {"From": from_number, "To": tenant.secrets.twilio_phone_number, "Body": body, "MessageSid": unique_sid(),
            "AccountSid": tenant.secrets.twilio_account_sid, "NumMedia": str(len(media))}
    for n, (media_url, content_type) in enumerate(media):
        form[f"MediaUrl{n}"] = media_url
        form[f"MediaContentType{n}"] = content_type
    signature = twilio_signature(url=url, params=form, auth_token=tenant.secrets.twilio_auth_token)
    answer = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=15)
    assert answer.status_code == 200, answer.text


def _open_place(page: Page, link: re.Pattern[str], heading: str) -> None:
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible() and menu.get_attribute("aria-expanded") != "true":
        menu.click()
    page.get_by_role("navigation", name="Messages").get_by_role("link", name=link).click()
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible(timeout=TIMEOUT_MS)


def open_customer_messages(page: Page) -> None:
    """Customer Messages, from the side list (the drawer on a narrow screen)."""
    _open_place(page, re.compile(r"^Customer Messages"), "Customer Messages")


def open_issue_tracker(page: Page) -> None:
    """The Issue Tracker, from the side list."""
    _open_place(page, re.compile(r"^Issue Tracker"), "Issue Tracker — assigned to me")


def show(page: Page, filter_name: str) -> None:
    """Choose one of the feed's filters (Open, Unassigned, Assigned, Mine, Closed, All)."""
    button = page.get_by_role("group", name="Show").get_by_role("button", name=filter_name, exact=True)
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")


def card(page: Page, text: str) -> Locator:
    """The feed's (or tracker's) card of the issue whose text contains `text`."""
    return page.get_by_role("main").get_by_role("article").filter(has_text=text)


def issue_dialog(page: Page, customer: str | re.Pattern[str]) -> Locator:
    """The open issue, in its dialog named after the customer."""
    return page.get_by_role("dialog", name=customer)


def open_issue(page: Page, text: str, customer: str | re.Pattern[str]) -> Locator:
    """Assign It on the card: the issue with the customer's past communication."""
    card(page, text).get_by_role("button", name="Assign It").click()
    dialog = issue_dialog(page, customer)
    expect(dialog).to_be_visible(timeout=TIMEOUT_MS)
    return dialog


def history(dialog: Locator) -> Locator:
    """The issue's past communication."""
    return dialog.get_by_role("region", name="Past communication")


def entry(dialog: Locator, kind: str, text: str) -> Locator:
    """One entry of the past communication: customer_message, private_comment or reply."""
    return history(dialog).locator(f'.entry[data-kind="{kind}"]').filter(has_text=text)


def customer_dialog(page: Page, name: str | re.Pattern[str]) -> Locator:
    """View Customer, in its dialog named after the customer."""
    return page.get_by_role("dialog", name=name)


def badge_count(page: Page, link_name: str) -> Locator:
    """The count next to Customer Messages or the Issue Tracker in the side list."""
    return page.get_by_role("navigation", name="Messages").get_by_role(
        "link", name=re.compile(f"^{re.escape(link_name)}")).locator(".badge, .count")


def check_every_size(page: Page, name: str) -> None:
    """The screen as it is, at every size Relay is used at (phone, tablets, desktop): no sideways scrolling, nothing
    serious for axe, a screenshot each (the page's context needs bypass_csp=True); back to the size it had."""
    before = page.viewport_size
    try:
        for size in SIZES.values():
            page.set_viewport_size(size)
            page.wait_for_function("([w, h]) => innerWidth === w && innerHeight === h",
                                   arg=[size["width"], size["height"]])
            page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
            check_screen(page, name)
    finally:
        if before:
            page.set_viewport_size(before)
