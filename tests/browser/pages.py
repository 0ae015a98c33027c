"""Signing in to the Messages module in a browser, shared by the browser tests."""

import re

from playwright.sync_api import Browser, Page, expect

from relay_stack import demo
from relay_stack.stack import Stack

TIMEOUT_MS = 15_000
VIEWPORT = {"width": 1280, "height": 800}


def sign_in(browser: Browser, relay: Stack, username: str) -> Page:
    """A new browser context signed in as a demo staff member, with its live connection up."""
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(relay.gateway_url + "/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(demo.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#me-name")).to_have_text(re.compile(r"\w"), timeout=TIMEOUT_MS)
    expect(page.locator("body")).to_have_attribute("data-live", "on", timeout=TIMEOUT_MS)
    return page
