"""Signing in to the Messages module in a browser, and the steps the browser tests share."""

import re
import uuid

from playwright.sync_api import Browser, Locator, Page, expect

from relay_stack import demo
from relay_stack.stack import Stack

TIMEOUT_MS = 15_000
VIEWPORT = {"width": 1280, "height": 800}


def sign_in(browser: Browser, relay: Stack, username: str, *, tenant_id: str) -> Page:
    """A new browser context signed in as a staff member of a demo-seeded tenant, with its live connection up."""
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(relay.gateway_url + "/")
    page.get_by_label("Business").fill(tenant_id)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(demo.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#me-name")).to_have_text(re.compile(r"\w"), timeout=TIMEOUT_MS)
    expect(page.locator("body")).to_have_attribute("data-live", "on", timeout=TIMEOUT_MS)
    return page


def create_channel(page: Page, name: str, *, members: list[str]) -> str:
    """Create a channel through the "+" next to Channels; it opens at once. Its conversation id."""
    page.locator("#new-channel").click()
    form = page.get_by_role("form", name="New channel")
    form.get_by_label("Name", exact=True).fill(name)
    for member in members:
        form.get_by_label(member).check()
    form.get_by_role("button", name="Create channel").click()
    expect(page.locator("#conversation-header h1")).to_have_text(f"# {name}", timeout=TIMEOUT_MS)
    return page.url.split("#c/", 1)[1]


def start_private(page: Page, *, with_whom: str) -> str:
    """Start a private message through the "+" next to Private messages. Its conversation id."""
    page.locator("#new-private").click()
    form = page.get_by_role("form", name="New private message")
    form.get_by_label(with_whom).check()
    form.get_by_role("button", name="Start conversation").click()
    expect(page.locator("#conversation-header h1")).to_have_text(with_whom, timeout=TIMEOUT_MS)
    return page.url.split("#c/", 1)[1]


def message(page: Page, text: str) -> Locator:
    """The message of the open conversation whose text contains `text`."""
    return page.locator("#message-list > .message").filter(has=page.locator(".body", has_text=text))


def post(page: Page, text: str) -> None:
    """Type a message in the composer and send it with Enter."""
    composer = page.get_by_label("Message", exact=True)
    composer.fill(text)
    composer.press("Enter")
    expect(message(page, text)).to_have_count(1, timeout=TIMEOUT_MS)


def unique_name(prefix: str) -> str:
    """A channel name no earlier test used (tests share one tenant for the whole session)."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def open_feed(page: Page) -> None:
    """The Customer Messages feed, whatever conversation the module reopened in."""
    page.locator("#nav-feed").click()
    expect(page.locator("#main h1")).to_have_text("Customer Messages", timeout=TIMEOUT_MS)


def sidebar_entry(page: Page, conversation_id: str) -> Locator:
    return page.locator(f'.sidebar a[data-conversation="{conversation_id}"]')
