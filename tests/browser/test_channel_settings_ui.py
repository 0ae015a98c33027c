"""Channel settings in real browsers: rename, topic, archive, members; who may do what, seen live by the others."""

import re

from playwright.sync_api import Locator, Page, expect

from relay_stack import demo
from relay_stack.stack import Stack
from tests.browser.pages import TIMEOUT_MS, create_channel, sidebar_entry, unique_name


def _settings(page: Page) -> Locator:
    """Open the channel settings from the conversation header."""
    page.locator("#conversation-header").get_by_role("button", name="Channel settings").click()
    panel = page.get_by_role("dialog", name="Channel settings")
    expect(panel.locator("#channel-members li").first).to_be_visible(timeout=TIMEOUT_MS)
    return panel


def _member(panel: Locator, name: str) -> Locator:
    return panel.locator("#channel-members li").filter(has_text=name)


def _reply_buttons(page: Page) -> Locator:
    """The Reply buttons on the messages (shown on hover; none while the channel is read only)."""
    return page.locator("#message-list > .message .tools").get_by_role("button", name="Reply", include_hidden=True)


def test_manager_adds_and_removes_members_sets_topic_renames_and_archives_seen_live(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    alice = sign_in("alice")
    bob = sign_in("bob")
    carol = sign_in("carol")
    name = unique_name("alterations")
    channel_id = create_channel(bob, name, members=["Carol Diaz"])
    sidebar_entry(carol, channel_id).click()
    expect(carol.locator("#conversation-header h1")).to_have_text(f"# {name}", timeout=TIMEOUT_MS)

    # Alice manages the store: she opens the public channel she is not in and adds herself.
    alice.goto(f"{relay.gateway_url}/#c/{channel_id}")
    expect(alice.locator("#composer")).to_contain_text(f"Join # {name}", timeout=TIMEOUT_MS)
    panel = _settings(alice)
    expect(panel.locator("#channel-members li")).to_have_count(2)
    panel.get_by_label("Colleague to add").select_option(label="Alice Martin")
    panel.get_by_role("button", name="Add", exact=True).click()
    expect(_member(panel, "Alice Martin")).to_contain_text("(you)", timeout=TIMEOUT_MS)
    expect(alice.get_by_label("Message", exact=True)).to_be_visible()
    expect(sidebar_entry(alice, channel_id)).to_be_visible()

    # Removing Carol takes the channel out of her sidebar at once; adding her back brings it back.
    _member(panel, "Carol Diaz").get_by_role("button", name="Remove Carol Diaz").click()
    expect(_member(panel, "Carol Diaz")).to_have_count(0, timeout=TIMEOUT_MS)
    expect(sidebar_entry(carol, channel_id)).to_have_count(0, timeout=TIMEOUT_MS)
    expect(carol.locator("#composer")).to_contain_text(f"Join # {name}", timeout=TIMEOUT_MS)
    panel.get_by_label("Colleague to add").select_option(label="Carol Diaz")
    panel.get_by_role("button", name="Add", exact=True).click()
    expect(_member(panel, "Carol Diaz")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(sidebar_entry(carol, channel_id)).to_be_visible(timeout=TIMEOUT_MS)

    panel.get_by_label("Topic").fill("Hems and zips: due dates on the board")
    panel.get_by_role("button", name="Save topic").click()
    expect(bob.locator("#conversation-topic")).to_have_text("Hems and zips: due dates on the board", timeout=TIMEOUT_MS)
    expect(alice.locator("#conversation-topic")).to_have_text("Hems and zips: due dates on the board")

    renamed = f"{name}-team"
    panel.get_by_label("Channel name").fill(renamed)
    panel.get_by_role("button", name="Rename").click()
    expect(bob.locator("#conversation-header h1")).to_have_text(f"# {renamed}", timeout=TIMEOUT_MS)
    expect(sidebar_entry(carol, channel_id)).to_have_text(f"# {renamed}", timeout=TIMEOUT_MS)
    expect(panel.get_by_role("heading", name=f"# {renamed}", exact=True)).to_be_visible()
    alice.screenshot(path="/tmp/relay-channel-settings.png")

    # Archived: read only for everyone in it, still on screen; unarchiving opens it again.
    composer = bob.get_by_label("Message", exact=True)
    composer.fill("Zip order goes out Monday")
    composer.press("Enter")
    expect(_reply_buttons(bob)).to_have_count(1, timeout=TIMEOUT_MS)
    composer.fill("Draft about the zips")
    panel.get_by_role("button", name="Archive channel").click()
    expect(panel.get_by_role("button", name="Unarchive channel")).to_be_visible(timeout=TIMEOUT_MS)
    for page in (alice, bob):
        expect(page.locator("#composer")).to_have_text("This channel is archived: read only.", timeout=TIMEOUT_MS)
        expect(page.locator("#conversation-header .tag.archived")).to_have_text("Archived")
    expect(panel.get_by_label("Topic")).to_have_attribute("readonly", "")
    expect(panel.get_by_role("form", name="Add member")).to_have_count(0)
    alice.keyboard.press("Escape")
    expect(_reply_buttons(bob)).to_have_count(0)
    alice.screenshot(path="/tmp/relay-channel-archived.png")

    # Once she looks elsewhere it leaves her sidebar; the "+" dialog lists it among the archived channels.
    alice.locator("#nav-feed").click()
    expect(sidebar_entry(alice, channel_id)).to_have_count(0, timeout=TIMEOUT_MS)
    alice.locator("#new-channel").click()
    archived = alice.locator("#archived-channels").get_by_role("link", name=f"# {renamed}")
    expect(archived).to_be_visible(timeout=TIMEOUT_MS)
    alice.screenshot(path="/tmp/relay-archived-channels.png")
    archived.click()
    expect(alice.locator("#conversation-header .tag.archived")).to_have_text("Archived", timeout=TIMEOUT_MS)
    panel = _settings(alice)
    panel.get_by_role("button", name="Unarchive channel").click()
    expect(bob.get_by_label("Message", exact=True)).to_have_value("Draft about the zips", timeout=TIMEOUT_MS)
    expect(bob.locator("#conversation-header .tag.archived")).to_have_count(0)
    expect(_reply_buttons(bob)).to_have_count(1)


def test_staff_member_gets_no_member_controls_and_sees_the_reason_if_refused_anyway(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    bob = sign_in("bob")
    carol = sign_in("carol")
    channel_id = create_channel(bob, unique_name("front"), members=["Carol Diaz"])
    sidebar_entry(carol, channel_id).click()

    # The creator renames and archives; only managers and admins manage members.
    panel = _settings(bob)
    expect(panel.get_by_role("button", name="Rename")).to_be_visible()
    expect(panel.get_by_role("button", name="Archive channel")).to_be_visible()
    expect(panel.get_by_role("button", name=re.compile("^Remove"))).to_have_count(0)
    expect(panel.get_by_role("form", name="Add member")).to_have_count(0)
    bob.keyboard.press("Escape")

    # A member who did not create it only sets the topic.
    panel = _settings(carol)
    expect(_member(panel, "Bob Chen")).to_have_count(1)
    expect(panel.get_by_role("button", name=re.compile("^Remove"))).to_have_count(0)
    expect(panel.get_by_role("form", name="Add member")).to_have_count(0)
    expect(panel.get_by_role("button", name="Rename")).to_have_count(0)
    expect(panel.get_by_role("button", name="Archive channel")).to_have_count(0)
    expect(panel.get_by_label("Channel name")).to_have_attribute("readonly", "")
    panel.get_by_label("Topic").fill("Opening at 7 this week")
    panel.get_by_role("button", name="Save topic").click()
    expect(bob.locator("#conversation-topic")).to_have_text("Opening at 7 this week", timeout=TIMEOUT_MS)
    carol.screenshot(path="/tmp/relay-channel-settings-staff.png")
    carol.keyboard.press("Escape")

    # Her page believes she is a manager (a role changed since it loaded): chat refuses, and says why.
    carol.evaluate("window.relayState.me.role = 'manager'")
    panel = _settings(carol)
    _member(panel, "Bob Chen").get_by_role("button", name="Remove Bob Chen").click()
    expect(panel.get_by_role("alert")).to_have_text("Only managers and admins remove members from a channel.",
                                                    timeout=TIMEOUT_MS)
    expect(_member(panel, "Bob Chen")).to_have_count(1)
