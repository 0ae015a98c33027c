"""Staff chat in real browsers, several people signed in at once against the whole running stack."""

import re

from playwright.sync_api import Locator, Page, WebSocketRoute, expect

from relay_stack import demo
from relay_stack.stack import Stack
from tests.browser.pages import (
    TIMEOUT_MS, create_channel, message, post, sidebar_entry, start_private, unique_name,
)

RED = "rgb(217, 48, 37)"


def _badge_count(badge: Locator) -> int:
    return int(badge.text_content() or 0) if badge.is_visible() else 0


def _wait_until_read_on_server(page: Page, conversation_id: str) -> None:
    """Chat itself (not just the page) counts nothing unread there any more."""
    page.wait_for_function(
        """async (id) => {
             const body = await (await fetch("/api/chat/me/unread")).json();
             const row = body.conversations.find((c) => c.conversation_id === id);
             return row && row.unread_count === 0;
           }""", arg=conversation_id, polling=200, timeout=TIMEOUT_MS)


def test_message_arrives_live_with_toast_and_badge_and_opens_under_the_new_messages_line(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    bob = sign_in("bob")
    carol = sign_in("carol")
    channel = unique_name("pressing")
    channel_id = create_channel(bob, channel, members=["Carol Diaz"])
    carol_entry = sidebar_entry(carol, channel_id)
    expect(carol_entry).to_have_text(f"# {channel}", timeout=TIMEOUT_MS)
    total_before = _badge_count(carol.locator("#badge-total"))

    post(bob, "The steam press is down")
    post(bob, "Use the one in the back until the repair")

    toast = carol.locator(".toast").filter(has_text="Use the one in the back until the repair")
    expect(toast.locator(".where")).to_have_text(f"# {channel}", timeout=TIMEOUT_MS)
    expect(toast.locator(".title")).to_have_text("Bob Chen")
    expect(carol_entry.locator(".badge")).to_have_text("2", timeout=TIMEOUT_MS)
    expect(carol_entry.locator(".badge")).to_have_css("background-color", RED)
    expect(carol.locator("#badge-total")).to_have_text(str(total_before + 2), timeout=TIMEOUT_MS)
    box = toast.bounding_box()
    assert box and box["y"] < 100 and box["x"] + box["width"] > 1280 - 40, f"toast not in the top-right: {box}"
    carol.screenshot(path="/tmp/relay-chat-toast.png")

    carol_entry.click()
    line = carol.locator("#message-list > #new-messages-line")
    expect(line).to_have_text("New Messages", timeout=TIMEOUT_MS)
    expect(line).to_have_css("color", RED)
    expect(carol.locator("#new-messages-line + .message .body")).to_have_text("The steam press is down")
    expect(carol_entry.locator(".badge")).to_have_count(0)
    expect(carol.locator("#badge-total")).to_have_text(str(total_before) if total_before else "")
    _wait_until_read_on_server(carol, channel_id)
    carol.screenshot(path="/tmp/relay-chat.png")

    # While Carol reads the channel, Bob's next message, edit and deletion show up for her as they happen.
    post(bob, "Repair man comes at 3")
    expect(message(carol, "Repair man comes at 3")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(carol_entry.locator(".badge")).to_have_count(0)
    mine = message(bob, "Repair man comes at 3")
    mine.hover()
    mine.get_by_role("button", name="Edit").click()
    edit = bob.get_by_label("Edit message")
    edit.fill("Repair man comes at 4")
    edit.press("Enter")
    edited = message(carol, "Repair man comes at 4")
    expect(edited.locator(".edited")).to_have_text("(edited)", timeout=TIMEOUT_MS)
    expect(message(carol, "Repair man comes at 3")).to_have_count(0)
    gone = message(bob, "Repair man comes at 4")
    gone.hover()
    gone.get_by_role("button", name="Delete").click()
    gone.get_by_role("button", name="Yes, delete").click()
    expect(message(carol, "Repair man comes at 4")).to_have_count(0, timeout=TIMEOUT_MS)
    expect(message(carol, "The steam press is down")).to_have_count(1)

    # Typing shows for the others in the conversation, and stops when the message is sent.
    carol.get_by_label("Message", exact=True).press_sequentially("On my way")
    expect(bob.locator("#typing")).to_have_text("Carol Diaz is typing…", timeout=TIMEOUT_MS)
    carol.get_by_label("Message", exact=True).press("Enter")
    expect(message(bob, "On my way")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(bob.locator("#typing")).to_have_text("", timeout=TIMEOUT_MS)


def test_clicking_a_toast_opens_the_conversation_and_the_module_reopens_there(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    alice = sign_in("alice")
    bob = sign_in("bob")
    private_id = start_private(alice, with_whom="Bob Chen")
    text = f"Can you cover Saturday morning? ({unique_name('ask')})"
    post(alice, text)

    toast = bob.locator(".toast").filter(has_text=text)
    expect(toast.locator(".where")).to_have_text("Alice Martin", timeout=TIMEOUT_MS)
    expect(sidebar_entry(bob, private_id).locator(".badge")).to_have_text("1", timeout=TIMEOUT_MS)
    toast.click()
    expect(bob.locator("#conversation-header h1")).to_have_text("Alice Martin", timeout=TIMEOUT_MS)
    expect(bob.locator("#new-messages-line + .message .body")).to_have_text(text)
    expect(sidebar_entry(bob, private_id).locator(".badge")).to_have_count(0)
    expect(toast).to_have_count(0)
    bob.wait_for_function(
        """async (id) => (await (await fetch("/api/chat/me/position")).json()).conversation_id === id""",
        arg=private_id, polling=200, timeout=TIMEOUT_MS)

    bob.goto(relay.gateway_url + "/")  # a fresh visit: no conversation in the address
    expect(bob.locator("#conversation-header h1")).to_have_text("Alice Martin", timeout=TIMEOUT_MS)
    expect(bob).to_have_url(re.compile(f"#c/{private_id}$"))
    expect(message(bob, text)).to_have_count(1)
    expect(bob.locator("#new-messages-line")).to_have_count(0)
    bob.reload()
    expect(message(bob, text)).to_have_count(1, timeout=TIMEOUT_MS)


def test_private_message_between_two_people_is_not_visible_to_a_third(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    alice = sign_in("alice")
    bob = sign_in("bob")
    carol = sign_in("carol")
    private_id = start_private(bob, with_whom="Carol Diaz")
    secret = f"Alice's birthday cake is in the back fridge ({unique_name('shh')})"
    post(bob, secret)
    expect(carol.locator(".toast").filter(has_text=secret).locator(".where")).to_have_text("Bob Chen",
                                                                                           timeout=TIMEOUT_MS)
    expect(sidebar_entry(carol, private_id).locator(".badge")).to_have_text("1", timeout=TIMEOUT_MS)

    # Something everybody sees, posted after the private message: once Alice has it, she would have had the other.
    channel_id = create_channel(bob, unique_name("front-desk"), members=["Alice Martin", "Carol Diaz"])
    post(bob, "Team meeting at 5")
    expect(alice.locator(".toast").filter(has_text="Team meeting at 5")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(sidebar_entry(alice, channel_id)).to_be_visible()
    expect(alice.locator(".toast").filter(has_text=secret)).to_have_count(0)
    expect(sidebar_entry(alice, private_id)).to_have_count(0)
    assert alice.request.get(f"{relay.gateway_url}/api/chat/conversations/{private_id}/messages").status == 404
    alice.goto(f"{relay.gateway_url}/#c/{private_id}")
    expect(alice.locator("#not-available")).to_have_text("This conversation is not available to you.",
                                                         timeout=TIMEOUT_MS)
    expect(alice.get_by_text(secret)).to_have_count(0)

    # Presence: Bob sees Carol online next to their private conversation, and offline once she has gone.
    carol_dot = sidebar_entry(bob, private_id).locator(".dot")
    expect(carol_dot).to_have_class(re.compile(r"\bonline\b"), timeout=TIMEOUT_MS)
    carol.context.close()
    expect(carol_dot).to_have_class(re.compile(r"\boffline\b"), timeout=TIMEOUT_MS)


def test_after_the_connection_drops_the_page_catches_up_with_since_and_refetches_on_reload(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    bob = sign_in("bob")
    carol = sign_in("carol")
    channel_id = create_channel(bob, unique_name("deliveries"), members=["Carol Diaz"])
    sidebar_entry(carol, channel_id).click()
    post(bob, "Van leaves at 2")
    expect(message(carol, "Van leaves at 2")).to_have_count(1, timeout=TIMEOUT_MS)

    # From now on Carol's page connects through the test, which holds each connection back until told.
    held: list[WebSocketRoute] = []
    carol.route_web_socket(re.compile(r"/ws(\?|$)"), lambda route: held.append(route))
    carol.evaluate("window.relayState.socket.close()")
    _wait_for_socket(carol, resumed=True)
    post(bob, "Van leaves at 3 instead")  # while Carol's page is cut off from notify
    held[0].connect_to_server()
    expect(message(carol, "Van leaves at 3 instead")).to_have_count(1, timeout=TIMEOUT_MS)

    # `reload` (her last event is too old for notify): the page reconnects without since and fetches its state.
    held[0].send('{"kind": "reload", "reason": "Too much happened since your last update."}')
    _wait_for_socket(carol, resumed=False)
    post(bob, "Van is back")  # cut off again: no replay can bring this one
    held[1].connect_to_server()
    expect(message(carol, "Van is back")).to_have_count(1, timeout=TIMEOUT_MS)
    assert "since=" in held[0].url and "since=" not in held[1].url, [route.url for route in held]


def _wait_for_socket(page: Page, *, resumed: bool) -> None:
    """Wait until the page's newest live connection is open, asking to catch up (`since`) or not."""
    page.wait_for_function(
        """(resumed) => {
             const socket = window.relayState.socket;
             return socket && socket.readyState === WebSocket.OPEN && socket.url.includes("since=") === resumed;
           }""", arg=resumed, polling=100, timeout=TIMEOUT_MS)
