"""Signing in to the Messages module in a browser, and the steps the browser tests share."""

import re
import uuid

from playwright.sync_api import Browser, Locator, Page, expect

from relay_stack import demo
from relay_stack.stack import Stack

TIMEOUT_MS = 15_000
VIEWPORT = {"width": 1280, "height": 800}

# Records what the page's Content-Security-Policy refused (an inline style or script would show up here).
RECORD_CSP_VIOLATIONS = """
  window.cspViolations = [];
  document.addEventListener("securitypolicyviolation",
    (e) => window.cspViolations.push(`${e.violatedDirective}: ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""

# Records every desktop notification the page shows (the browser's own stays as it is).
RECORD_NOTIFICATIONS = """
  window.shownNotifications = [];
  const Real = window.Notification;
  class Recorded extends Real {
    constructor(title, options = {}) {
      super(title, options);
      window.shownNotifications.push({ title, body: options.body || "" });
    }
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recorded;
"""


def new_page(browser: Browser, *, viewport: dict[str, int] | None = None, bypass_csp: bool = False,
             notifications: bool = False, color_scheme: str = "light") -> Page:
    """A fresh context's page: desktop-sized unless told; `bypass_csp` lets a test inject axe-core; with
    `notifications` the site may show desktop notifications and the page records each one shown."""
    context = browser.new_context(viewport=viewport or VIEWPORT, bypass_csp=bypass_csp, color_scheme=color_scheme,
                                  permissions=["notifications"] if notifications else [])
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    if notifications:
        context.add_init_script(RECORD_NOTIFICATIONS)
    return context.new_page()


def csp_violations(page: Page) -> list[str]:
    """What the page's Content-Security-Policy refused since it loaded."""
    return page.evaluate("window.cspViolations || []")


def sign_in(browser: Browser, relay: Stack, username: str, *, tenant_id: str, viewport: dict[str, int] | None = None,
            bypass_csp: bool = False, notifications: bool = False) -> Page:
    """A new browser context signed in as a staff member of a demo-seeded tenant, with its live connection up."""
    page = new_page(browser, viewport=viewport, bypass_csp=bypass_csp, notifications=notifications)
    page.goto(relay.gateway_url + "/")
    page.get_by_label("Business").fill(tenant_id)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(demo.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#me-name")).to_have_text(re.compile(r"\w"), timeout=TIMEOUT_MS)
    expect(page.locator("body")).to_have_attribute("data-live", "on", timeout=TIMEOUT_MS)
    return page


def open_menu(page: Page) -> None:
    """On a narrow screen the side list is a drawer: open it with the Menu button (nothing to do on a wide one)."""
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible() and menu.get_attribute("aria-expanded") != "true":
        menu.click()
        expect(page.get_by_role("complementary", name="Conversations")).to_be_visible()


def create_channel(page: Page, name: str, *, members: list[str]) -> str:
    """Create a channel through the "+" next to Channels; it opens at once. Its conversation id."""
    open_menu(page)
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
    open_menu(page)
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
    open_menu(page)
    page.locator("#nav-feed").click()
    expect(page.locator("#main h1")).to_have_text("Customer Messages", timeout=TIMEOUT_MS)


def sidebar_entry(page: Page, conversation_id: str) -> Locator:
    return page.locator(f'.sidebar a[data-conversation="{conversation_id}"]')
