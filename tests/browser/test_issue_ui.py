"""Customer issues in real browsers: Assign It with the customer's history, replying, Resolve, View Customer."""

import re
from urllib.parse import urlparse

from playwright.sync_api import Page, expect

from relay_stack import demo
from relay_stack.sandbox import ProviderSandbox
from relay_stack.stack import Stack
from tests.browser.issue_pages import (
    JANE, OMAR, card, check_every_size, customer_dialog, entry, issue_dialog, open_customer_messages, open_issue,
    open_issue_tracker, show, texts, unique, unknown_numbers,
)
from tests.browser.pages import TIMEOUT_MS

BLUE = "rgb(29, 95, 209)"   # the theme's --assigned (light)


def _texts(relay: Stack, tenant: demo.DemoTenant, *, from_number: str, body: str) -> None:
    texts(relay, tenant, from_number=from_number, body=body)


def _on_the_feed(sign_in, *usernames: str) -> list[Page]:
    """Those staff signed in, each in a browser of their own, with the Customer Messages feed open."""
    pages = [sign_in(username, bypass_csp=True) for username in usernames]   # axe-core is injected on some
    for page in pages:
        open_customer_messages(page)
    return pages


def test_assign_it_shows_past_communication_and_the_colleague_sees_the_card_turn_blue_live(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    bob, carol = _on_the_feed(sign_in, "bob", "carol")

    # Jane wrote before, and that issue was closed: her new text opens a new issue with the old one as history.
    earlier = unique("Do you clean wedding dresses?")
    _texts(relay, demo_tenant, from_number=JANE, body=earlier)
    card(bob, earlier).get_by_role("button", name="Mark as Closed").click(timeout=TIMEOUT_MS)
    expect(card(bob, earlier)).to_have_count(0, timeout=TIMEOUT_MS)
    question = unique("Can you hem two pairs of trousers by Friday?")
    _texts(relay, demo_tenant, from_number=JANE, body=question)
    janes = card(bob, question)
    expect(janes).to_have_class(re.compile("status-unassigned"), timeout=TIMEOUT_MS)

    view = open_issue(bob, question, "Jane Doe")
    expect(entry(view, "customer_message", earlier)).to_have_count(1, timeout=TIMEOUT_MS)
    expect(entry(view, "customer_message", question)).to_have_count(1)
    expect(entry(view, "customer_message", earlier)).to_have_class(re.compile("earlier"))

    view.get_by_label("Assign to").select_option(label="Carol Diaz")
    view.get_by_label("Private comment").fill("Carol, you did her last alterations.")
    view.get_by_role("button", name="Assign", exact=True).click()
    expect(view.locator(".state .status")).to_have_text("Assigned to Carol Diaz", timeout=TIMEOUT_MS)
    note = entry(view, "private_comment", "Carol, you did her last alterations.")
    expect(note.locator(".tag.private")).to_have_text("Private", timeout=TIMEOUT_MS)
    expect(view.get_by_label("Private comment")).to_have_value("")
    view.get_by_text("Activity on this issue").click()
    activity = view.locator("#issue-activity li")
    expect(activity.first).to_contain_text("The customer's message opened the issue")
    expect(activity.filter(has_text="Bob Chen assigned it to Carol Diaz")).to_have_count(1)
    expect(activity.filter(has_text="Bob Chen added a private comment")).to_have_count(1)
    bob.screenshot(path="/tmp/relay-issue-assign.png")

    # Carol sees it live: the card turns blue with her name; the issue shows Bob's note to her, marked private.
    carol_card = card(carol, question)
    expect(carol_card.locator(".status")).to_have_text("Assigned to Carol Diaz", timeout=TIMEOUT_MS)
    expect(carol_card).to_have_class(re.compile("status-assigned"))
    expect(carol_card.locator(".status")).to_have_css("background-color", BLUE)
    carol_view = open_issue(carol, question, "Jane Doe")
    carol_note = entry(carol_view, "private_comment", "Carol, you did her last alterations.")
    expect(carol_note.locator(".meta")).to_contain_text("Bob Chen", timeout=TIMEOUT_MS)
    expect(carol_note.locator(".tag.private")).to_have_text("Private")
    expect(carol_view.get_by_role("button", name="Mark as Closed")).to_be_visible()
    carol.keyboard.press("Escape")
    expect(carol_view).to_be_hidden()
    open_issue_tracker(carol)
    expect(card(carol, question)).to_have_count(1, timeout=TIMEOUT_MS)
    check_every_size(carol, "issue-tracker")


def test_reply_to_customer_shows_its_delivery_and_a_thanks_is_offered_resolve_first(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant, provider_sandbox: ProviderSandbox
) -> None:
    bob = sign_in("bob")
    open_customer_messages(bob)
    question = unique("Is my grey suit ready?")
    _texts(relay, demo_tenant, from_number=OMAR, body=question)
    omars = card(bob, question)
    expect(omars).to_have_count(1, timeout=TIMEOUT_MS)
    omars.get_by_role("button", name="Take It").click()
    expect(omars.locator(".status")).to_have_text("Assigned to Bob Chen", timeout=TIMEOUT_MS)

    view = open_issue(bob, question, "Omar Haddad")
    expect(entry(view, "customer_message", question)).to_have_count(1, timeout=TIMEOUT_MS)
    answer = unique("Yes, it is ready: pick it up after 4pm")
    expect(view.locator(".hint").filter(has_text="Goes to")).to_contain_text(OMAR)
    view.get_by_label("Reply to the customer").fill(answer)
    view.get_by_role("button", name="Send reply").click()
    reply = entry(view, "reply", answer)
    expect(reply).to_have_count(1, timeout=TIMEOUT_MS)
    expect(view.get_by_label("Reply to the customer")).to_have_value("")
    # The sandbox's Twilio accepts the text, then calls back "sent" and "delivered"; the view follows live.
    expect(reply.locator(".delivery")).to_have_text("Delivery: delivered", timeout=TIMEOUT_MS)
    assert any(m.channel == "sms" and m.to == OMAR and m.body == answer for m in provider_sandbox.sent)
    bob.screenshot(path="/tmp/relay-issue-reply.png")
    bob.keyboard.press("Escape")
    expect(view).to_be_hidden()

    _texts(relay, demo_tenant, from_number=OMAR, body="Thanks!")
    thanks = card(bob, "Thanks!").filter(has_text="Omar Haddad")
    first = thanks.locator(".actions button").first
    expect(first).to_have_text("Resolve", timeout=TIMEOUT_MS)
    expect(first).to_have_class(re.compile("primary"))
    bob.screenshot(path="/tmp/relay-issue-resolve.png")
    first.click()
    expect(thanks).to_have_count(0, timeout=TIMEOUT_MS)  # gone from the open issues
    show(bob, "Closed")
    resolved = card(bob, "Thanks!").filter(has_text="Omar Haddad").first
    expect(resolved.locator(".status")).to_have_text("Closed by Bob Chen — no action needed", timeout=TIMEOUT_MS)
    expect(resolved).to_have_class(re.compile("status-closed"))


def test_view_customer_opens_the_account_in_a_dialog(sign_in, relay: Stack, demo_tenant: demo.DemoTenant) -> None:
    alice = sign_in("alice")
    open_customer_messages(alice)
    text = unique("Do you have my blue coat?")
    _texts(relay, demo_tenant, from_number=JANE, body=text)
    janes = card(alice, text)
    expect(janes).to_have_count(1, timeout=TIMEOUT_MS)

    janes.get_by_role("button", name="View Customer").click()
    dialog = customer_dialog(alice, "Jane Doe")
    account = dialog.get_by_role("region", name="Customer account")
    expect(account).to_contain_text(JANE, timeout=TIMEOUT_MS)
    expect(account).to_contain_text("jane.doe@example.com")
    expect(account.locator("dt", has_text="loyalty tier").locator("+ dd")).to_have_text("Gold")
    expect(account.locator("dt", has_text="balance").locator("+ dd")).to_have_text("$12.50")
    alice.screenshot(path="/tmp/relay-view-customer.png")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    # From the issue itself, and back to it.
    view = open_issue(alice, text, "Jane Doe")
    view.get_by_role("button", name="View Customer").click()
    expect(alice.get_by_role("region", name="Past communication")).to_have_count(0, timeout=TIMEOUT_MS)  # replaced
    expect(dialog.get_by_role("region", name="Customer account")).to_contain_text(JANE, timeout=TIMEOUT_MS)
    dialog.get_by_role("button", name="Back to the issue").click()
    expect(entry(issue_dialog(alice, "Jane Doe"), "customer_message", text)).to_have_count(1, timeout=TIMEOUT_MS)


def test_a_pushed_issue_change_updates_the_feed_in_place_without_loading_it_again(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    bob, carol = _on_the_feed(sign_in, "bob", "carol")
    calls: dict[str, list[str]] = {"bob": [], "carol": []}
    for name, page in (("bob", bob), ("carol", carol)):
        page.on("request", lambda request, seen=calls[name]: seen.append(
            f"{request.method} {urlparse(request.url).path}") if "/api/issues" in request.url else None)

    first, second = unique("Can you take in a waistband?"), unique("Do you sell garment bags?")
    numbers = unknown_numbers(2)
    _texts(relay, demo_tenant, from_number=numbers[0], body=first)
    expect(card(carol, first)).to_have_class(re.compile("status-unassigned"), timeout=TIMEOUT_MS)
    _texts(relay, demo_tenant, from_number=numbers[1], body=second)
    cards = carol.get_by_role("main").get_by_role("article")
    expect(cards.first).to_contain_text(second, timeout=TIMEOUT_MS)  # newest activity first

    card(bob, first).get_by_role("button", name="Take It").click()
    carol_card = card(carol, first)
    expect(carol_card.locator(".status")).to_have_text("Assigned to Bob Chen", timeout=TIMEOUT_MS)
    expect(carol_card).to_have_class(re.compile("status-assigned"))
    expect(carol_card.locator(".status")).to_have_css("background-color", BLUE)
    expect(carol_card.get_by_role("button", name="Take It")).to_have_count(0)
    expect(carol_card.get_by_role("button", name="Mark as Closed")).to_have_count(0)
    expect(cards.first).to_contain_text(first)  # taken just now: its activity is the newest

    card(bob, first).get_by_role("button", name="Mark as Closed").click()
    expect(card(carol, first)).to_have_count(0, timeout=TIMEOUT_MS)  # closed: out of the open issues
    card(carol, second).get_by_role("button", name="Mark as Closed").click()
    expect(card(bob, second)).to_have_count(0, timeout=TIMEOUT_MS)

    for name in ("bob", "carol"):  # each change came with a push (or the answer to one's own action): no listing again
        assert not [call for call in calls[name] if call.startswith("GET")], (name, calls[name])
    assert [call.split()[0] for call in calls["carol"]] == ["POST"]
