"""Away and back in real browsers: a tab left idle or hidden shows its person as away to colleagues."""

import re

from playwright.sync_api import Locator, Page, expect

from relay_stack import demo
from relay_stack.stack import Stack
from tests.browser.pages import TIMEOUT_MS, sidebar_entry, start_private

IDLE_SECONDS = 3  # the page's idle time, lowered from its five minutes through ?idle=

HIDE = """() => {
  Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
  document.dispatchEvent(new Event("visibilitychange"));
}"""
SHOW = """() => {
  delete document.hidden;
  delete document.visibilityState;
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def _status(dot: Locator, status: str) -> None:
    expect(dot).to_have_class(re.compile(rf"\b{status}\b"), timeout=TIMEOUT_MS)


def _sent_kinds(page: Page) -> list[str]:
    """The kinds of the frames this page sent on its live connection (recorded by the test)."""
    return [kind for kind in page.evaluate("window.sentKinds || []") if kind in ("away", "active")]


def test_idle_tab_goes_away_and_comes_back_on_input(sign_in, relay: Stack, demo_tenant: demo.DemoTenant) -> None:
    alice = sign_in("alice")
    bob = sign_in("bob")
    private_id = start_private(bob, with_whom="Alice Martin")
    alice_dot = sidebar_entry(bob, private_id).locator(".dot")
    _status(alice_dot, "online")

    # The page records what it tells notify, then reopens with a short idle time.
    alice.context.add_init_script("""
      window.sentKinds = [];
      const send = WebSocket.prototype.send;
      WebSocket.prototype.send = function (data) {
        try { window.sentKinds.push(JSON.parse(data).kind); } catch {}
        return send.call(this, data);
      };""")
    alice.goto(f"{relay.gateway_url}/?idle={IDLE_SECONDS}#feed")
    expect(alice.locator("body")).to_have_attribute("data-live", "on", timeout=TIMEOUT_MS)
    _status(alice_dot, "away")
    _status(alice.locator("#presence-dot"), "away")
    assert _sent_kinds(alice) == ["away"]
    bob.screenshot(path="/tmp/relay-away.png")

    alice.mouse.move(400, 300)
    alice.mouse.move(420, 320)
    _status(alice_dot, "online")
    assert _sent_kinds(alice)[:2] == ["away", "active"]


def test_hidden_tab_goes_away_and_is_back_when_shown(sign_in, relay: Stack, demo_tenant: demo.DemoTenant) -> None:
    alice = sign_in("alice")
    bob = sign_in("bob")
    private_id = start_private(bob, with_whom="Alice Martin")
    alice_dot = sidebar_entry(bob, private_id).locator(".dot")
    _status(alice_dot, "online")

    alice.evaluate(HIDE)
    _status(alice_dot, "away")
    alice.evaluate(SHOW)
    _status(alice_dot, "online")
