"""Signing out and back in within one page, and a session ended elsewhere taking the page back to sign-in."""

from playwright.sync_api import expect

from relay_stack import demo
from relay_stack.stack import Stack
from tests.browser.pages import TIMEOUT_MS, open_feed


def test_signing_out_clears_the_module_and_signing_in_again_brings_it_back_live(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    bob = sign_in("bob")
    open_feed(bob)
    bob.get_by_role("button", name="Sign out").click()
    expect(bob.get_by_role("button", name="Sign in")).to_be_visible(timeout=TIMEOUT_MS)
    expect(bob.locator("body")).to_have_attribute("data-live", "off")
    expect(bob.get_by_role("complementary", name="Conversations")).to_have_count(0)
    assert bob.request.get(f"{relay.gateway_url}/api/session").status == 401

    bob.get_by_label("Business").fill(demo_tenant.tenant_id)
    bob.get_by_label("Username").fill("carol")
    bob.get_by_label("Password").fill(demo.PASSWORD)
    bob.get_by_role("button", name="Sign in").click()
    expect(bob.locator("#me-name")).to_have_text("Carol Diaz", timeout=TIMEOUT_MS)
    expect(bob.locator("body")).to_have_attribute("data-live", "on", timeout=TIMEOUT_MS)


def test_a_session_ended_elsewhere_shows_sign_in(sign_in, relay: Stack, demo_tenant: demo.DemoTenant) -> None:
    carol = sign_in("carol")
    ended = carol.request.delete(f"{relay.gateway_url}/api/sessions")  # "sign out everywhere", from another tab
    assert ended.ok, ended.text()
    expect(carol.get_by_role("button", name="Sign in")).to_be_visible(timeout=TIMEOUT_MS)
    expect(carol.locator("body")).to_have_attribute("data-live", "off")
