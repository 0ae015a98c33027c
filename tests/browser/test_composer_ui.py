"""The composer in real browsers: replying to a message with a quote, files attached by address, @mentions."""

import re
from typing import Any

from playwright.sync_api import Page, expect

from relay_stack import demo
from relay_stack.stack import Stack
from tests.browser.pages import TIMEOUT_MS, create_channel, message, post, sidebar_entry, unique_name


def _stored_messages(page: Page, relay: Stack, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's latest messages as chat stores them."""
    response = page.request.get(f"{relay.gateway_url}/api/chat/conversations/{conversation_id}/messages?before=latest")
    assert response.ok, response.text()
    return response.json()["messages"]


def test_reply_shows_a_quote_of_the_message_it_answers_for_everyone(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    bob = sign_in("bob")
    carol = sign_in("carol")
    channel_id = create_channel(bob, unique_name("counter"), members=["Carol Diaz"])
    sidebar_entry(carol, channel_id).click()
    post(bob, "Who has the van keys?")
    post(bob, "And the till float?")
    question = message(carol, "Who has the van keys?")
    expect(question).to_have_count(1, timeout=TIMEOUT_MS)

    question.hover()
    question.get_by_role("button", name="Reply").click()
    expect(carol.locator("#replying-to")).to_contain_text("Replying to Bob Chen: Who has the van keys?")
    carol.screenshot(path="/tmp/relay-replying.png")
    post(carol, "In the drawer under the till")
    expect(carol.locator("#replying-to")).to_have_count(0)

    for page in (carol, bob):
        answer = message(page, "In the drawer under the till")
        expect(answer.locator(".quote")).to_have_text("↪ Bob Chen Who has the van keys?", timeout=TIMEOUT_MS)
    bob.screenshot(path="/tmp/relay-reply.png")
    stored = _stored_messages(bob, relay, channel_id)
    replies = [m for m in stored if m["text"] == "In the drawer under the till"]
    asked = next(m for m in stored if m["text"] == "Who has the van keys?")
    assert replies and replies[0]["reply_to"] == asked["message_id"] and replies[0]["reply_to_seq"] == asked["seq"]

    # Clicking the quote shows the message answered; a reopened page quotes it too.
    message(bob, "In the drawer under the till").locator(".quote").click()
    expect(message(bob, "Who has the van keys?")).to_be_in_viewport()
    bob.reload()
    expect(message(bob, "In the drawer under the till").locator(".quote")).to_have_text(
        "↪ Bob Chen Who has the van keys?", timeout=TIMEOUT_MS)

    # A reply being written can be dropped again.
    other = message(carol, "And the till float?")
    other.hover()
    other.get_by_role("button", name="Reply").click()
    carol.get_by_role("button", name="Cancel reply").click()
    post(carol, "Not a reply")
    expect(message(carol, "Not a reply").locator(".quote")).to_have_count(0)


def test_file_attached_by_address_shows_as_a_link_on_the_message(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    alice = sign_in("alice")
    bob = sign_in("bob")
    channel_id = create_channel(alice, unique_name("rota"), members=["Bob Chen"])
    sidebar_entry(bob, channel_id).click()
    expect(bob.locator("#conversation-header h1")).to_have_text(re.compile("^# rota-"), timeout=TIMEOUT_MS)

    alice.get_by_role("button", name="Attach a file").click()
    form = alice.get_by_role("form", name="Attach a file")
    form.get_by_label("File address").fill("not a link")
    form.get_by_role("button", name="Attach").click()
    expect(form.get_by_role("alert")).to_have_text("Give the file's full address, starting with https://")
    form.get_by_label("File address").fill("https://files.example.com/rota/march.pdf")
    form.get_by_label("File name").fill("Rota March.pdf")
    form.get_by_role("button", name="Attach").click()
    expect(alice.get_by_role("list", name="Attached files")).to_have_text(re.compile("Rota March.pdf"))
    alice.screenshot(path="/tmp/relay-attach.png")
    post(alice, "Here is the rota for March")

    for page in (alice, bob):
        link = message(page, "Here is the rota for March").get_by_role("link", name="Rota March.pdf")
        expect(link).to_have_attribute("href", "https://files.example.com/rota/march.pdf", timeout=TIMEOUT_MS)
    expect(alice.get_by_role("list", name="Attached files")).to_have_count(0)
    bob.screenshot(path="/tmp/relay-attachment-link.png")
    stored = _stored_messages(bob, relay, channel_id)
    [sent] = [m for m in stored if m["text"] == "Here is the rota for March"]
    assert sent["attachments"][0]["content_type"] == "application/pdf", sent


def test_typing_at_suggests_colleagues_and_the_mention_is_highlighted_for_them(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    bob = sign_in("bob")
    carol = sign_in("carol")
    channel_id = create_channel(bob, unique_name("shift"), members=["Carol Diaz"])
    sidebar_entry(carol, channel_id).click()

    composer = bob.get_by_label("Message", exact=True)
    composer.press_sequentially("Can you close tonight @ca")
    suggestions = bob.get_by_role("listbox", name="Mention someone")
    expect(suggestions.get_by_role("option")).to_have_text(["@carol Carol Diaz"])
    bob.screenshot(path="/tmp/relay-mention.png")
    composer.press("Enter")  # picks the suggestion rather than sending
    expect(composer).to_have_value("Can you close tonight @carol ")
    expect(suggestions).to_be_hidden()
    composer.press("Enter")
    mention = message(carol, "Can you close tonight @carol")
    expect(mention).to_have_class(re.compile(r"\bmention\b"), timeout=TIMEOUT_MS)
