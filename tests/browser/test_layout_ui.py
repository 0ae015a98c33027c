"""Every main screen of the shell at a phone's, a tablet's (both ways) and a desktop's size: no horizontal
scrolling, nothing serious for axe-core, touch-sized controls on the phone, the side list a drawer on narrow
screens, dialogs full-screen on a phone; each screen's picture lands in docs/screenshots/."""

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from relay_stack import demo
from relay_stack.stack import Stack
from tests.browser.pages import TIMEOUT_MS, new_page, unique_name
from tests.browser.screens import SIZES, check_screen

LONG_ADDRESS = "https://files.example.com/orders/" + "winter-coat-alterations-" * 6 + "receipt.pdf"
DRAWER_BELOW = 900
TOUCH = 44


@pytest.fixture(scope="module")
def bob_api(relay: Stack, demo_tenant: demo.DemoTenant) -> Iterator[httpx.Client]:
    """Bob's own session on the HTTP API: he writes what the screens show."""
    client = httpx.Client(base_url=relay.gateway_url, timeout=15)
    answer = client.post("/api/session", json={"tenant": demo_tenant.tenant_id, "username": "bob",
                                                "password": demo.PASSWORD})
    assert answer.status_code == 200, answer.text
    client.headers["authorization"] = f"Bearer {answer.json()['token']}"
    yield client
    client.close()


def _staff_id(client: httpx.Client, username: str) -> str:
    staff = client.get("/api/staff").json()["staff"]
    return next(s["staff_id"] for s in staff if s["username"] == username)


def _conversations_for_carol(client: httpx.Client) -> tuple[str, str]:
    """A channel with messages Carol has not read yet and a private conversation with her: their ids."""
    carol = _staff_id(client, "carol")
    channel = client.post("/api/chat/channels", json={"name": unique_name("counter"), "topic": "Front counter today",
                                                      "member_ids": [carol]})
    assert channel.status_code == 201, channel.text
    channel_id = channel.json()["conversation_id"]
    for text in ("Morning! The pressing queue is long today.", f"Receipt for the winter coat: {LONG_ADDRESS}",
                 "Mrs Tanaka picks up at noon — her coat is on rail 3."):
        assert client.post(f"/api/chat/conversations/{channel_id}/messages", json={"text": text}).status_code == 201
    private = client.post("/api/chat/private", json={"staff_ids": [carol]})
    assert private.status_code in (200, 201), private.text
    private_id = private.json()["conversation_id"]
    assert client.post(f"/api/chat/conversations/{private_id}/messages",
                       json={"text": "Can you cover the till at 3?"}).status_code == 201
    return channel_id, private_id


def _sign_in_as_carol(page: Page, relay: Stack, tenant_id: str) -> None:
    page.get_by_label("Business").fill(tenant_id)
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill(demo.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("body")).to_have_attribute("data-live", "on", timeout=TIMEOUT_MS)


def _small_controls(page: Page) -> list[str]:
    """Visible buttons and links of the shell smaller than a fingertip."""
    return page.evaluate("""(touch) => [...document.querySelectorAll(
        ".topbar button, .sidebar a, .sidebar button, .composer button, .modal button")]
      .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== "hidden")
      .filter((el) => { const b = el.getBoundingClientRect(); return b.height < touch || b.width < touch; })
      .map((el) => `${el.tagName} ${el.textContent.trim() || el.getAttribute("aria-label")}`)""", TOUCH)


@pytest.mark.parametrize("size", list(SIZES))
def test_every_main_screen_fits_the_screen_and_passes_axe(
    browser, relay: Stack, demo_tenant: demo.DemoTenant, bob_api: httpx.Client, size: str
) -> None:
    viewport = SIZES[size]
    narrow = viewport["width"] < DRAWER_BELOW
    channel_id, private_id = _conversations_for_carol(bob_api)
    page = new_page(browser, viewport=viewport, bypass_csp=True)
    try:
        page.goto(relay.gateway_url + "/")
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=TIMEOUT_MS)
        check_screen(page, "sign-in")
        _sign_in_as_carol(page, relay, demo_tenant.tenant_id)

        page.goto(f"{relay.gateway_url}/#feed")
        expect(page.locator("#main h1")).to_have_text("Customer Messages", timeout=TIMEOUT_MS)
        expect(page.locator("article.issue").first).to_be_visible(timeout=TIMEOUT_MS)
        check_screen(page, "customer-messages")

        page.goto(f"{relay.gateway_url}/#c/{channel_id}")
        expect(page.locator("#new-messages-line")).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.locator("#message-list > .message")).to_have_count(3)
        check_screen(page, "channel")
        if size == "phone":
            assert _small_controls(page) == []

        page.goto(f"{relay.gateway_url}/#c/{private_id}")
        expect(page.locator("#conversation-header h1")).to_have_text("Bob Chen", timeout=TIMEOUT_MS)
        expect(page.locator("#message-list > .message").last).to_contain_text("Can you cover the till at 3?")
        check_screen(page, "private-message")

        menu = page.get_by_role("button", name="Menu")
        side_list = page.get_by_role("complementary", name="Conversations")
        if narrow:
            expect(side_list).to_be_hidden()
            menu.click()
            expect(menu).to_have_attribute("aria-expanded", "true")
            expect(side_list).to_be_visible()
            expect(side_list.get_by_role("link", name=re.compile("^Customer Messages"))).to_be_visible()
            check_screen(page, "drawer")
            if size == "phone":
                assert _small_controls(page) == []
            page.keyboard.press("Escape")
            expect(menu).to_have_attribute("aria-expanded", "false")
            expect(side_list).to_be_hidden()
            expect(menu).to_be_focused()
            menu.click()
            side_list.get_by_role("link", name=re.compile("^Issue Tracker")).click()  # choosing closes it
            expect(menu).to_have_attribute("aria-expanded", "false")
            expect(page.locator("#main h1")).to_have_text(re.compile("^Issue Tracker"), timeout=TIMEOUT_MS)
        else:
            expect(menu).to_be_hidden()
            expect(side_list).to_be_visible()

        page.get_by_role("button", name="Settings").click()
        settings = page.get_by_role("dialog", name="Settings")
        expect(settings.get_by_role("switch", name="Desktop notifications")).to_be_visible()
        expect(settings.get_by_role("switch", name="Sound for new customer issues")).to_be_visible()
        if size == "phone":
            box = settings.bounding_box()
            assert box and box["width"] == viewport["width"] and box["height"] == viewport["height"], box
        check_screen(page, "settings")
        page.keyboard.press("Escape")
        expect(settings).to_have_count(0)

        page.locator("#main").click(position={"x": 5, "y": 5})
        page.keyboard.press("?")
        help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
        expect(help_dialog).to_contain_text("Search")
        expect(help_dialog).to_contain_text("Alt")
        check_screen(page, "help")
        page.keyboard.press("Escape")
        expect(help_dialog).to_have_count(0)
    finally:
        page.context.close()


def test_alt_arrows_walk_the_side_list_and_ctrl_k_opens_search(
    browser, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    page = new_page(browser)
    try:
        page.goto(relay.gateway_url + "/#feed")
        _sign_in_as_carol(page, relay, demo_tenant.tenant_id)
        expect(page.locator("#main h1")).to_have_text("Customer Messages", timeout=TIMEOUT_MS)
        page.keyboard.press("Alt+ArrowDown")
        expect(page).to_have_url(re.compile("#tracker$"))
        page.keyboard.press("Alt+ArrowDown")
        expect(page).to_have_url(re.compile("#c/"))
        expect(page.locator("#conversation-header h1")).to_be_visible(timeout=TIMEOUT_MS)
        page.keyboard.press("Alt+ArrowUp")
        expect(page).to_have_url(re.compile("#tracker$"))
        page.keyboard.press("Control+k")
        search = page.get_by_role("dialog", name="Search")
        expect(search).to_be_visible(timeout=TIMEOUT_MS)
        page.keyboard.press("Escape")
        expect(search).to_have_count(0)
        expect(page.get_by_role("button", name="Search")).to_be_visible()
    finally:
        page.context.close()


def test_dark_mode_follows_the_system_and_keeps_its_contrast(
    browser, relay: Stack, demo_tenant: demo.DemoTenant, bob_api: httpx.Client
) -> None:
    channel_id, _ = _conversations_for_carol(bob_api)
    page = new_page(browser, viewport=SIZES["desktop"], bypass_csp=True, color_scheme="dark")
    try:
        page.goto(f"{relay.gateway_url}/#c/{channel_id}")
        _sign_in_as_carol(page, relay, demo_tenant.tenant_id)
        expect(page.locator("#new-messages-line")).to_be_visible(timeout=TIMEOUT_MS)
        background = page.evaluate("getComputedStyle(document.querySelector('.main')).backgroundColor")
        assert background == "rgb(27, 30, 35)", background  # the theme's dark surface
        check_screen(page, "channel-dark")
        page.goto(f"{relay.gateway_url}/#feed")
        expect(page.locator("article.issue").first).to_be_visible(timeout=TIMEOUT_MS)
        check_screen(page, "customer-messages-dark")
    finally:
        page.context.close()
