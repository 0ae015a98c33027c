"""Search in real browsers (Ctrl/Cmd-K or the Search button): a chat message opens in its conversation, an issue in
its dialog, a customer in View Customer; results grouped and chosen by keyboard."""

import re
import uuid

import httpx
from playwright.sync_api import Page, expect

from relay_stack import demo
from relay_stack.stack import Stack
from tests.browser.issue_pages import (
    JANE, check_every_size, customer_dialog, entry, issue_dialog, open_customer_messages, texts,
)
from tests.browser.pages import TIMEOUT_MS


def _word() -> str:
    """A word no other test wrote, so that searching it finds this test's message or issue only."""
    return "zq" + uuid.uuid4().hex[:8]


def _api(relay: Stack, tenant: demo.DemoTenant, username: str) -> httpx.Client:
    signed_in = httpx.post(f"{relay.gateway_url}/api/session", timeout=15,
                           json={"tenant": tenant.tenant_id, "username": username, "password": demo.PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    return httpx.Client(base_url=relay.gateway_url, timeout=15,
                        headers={"authorization": f"Bearer {signed_in.json()['token']}"})


def _search(page: Page, text: str):
    page.keyboard.press("Control+k")
    dialog = page.get_by_role("dialog", name="Search")
    box = dialog.get_by_role("searchbox", name="Search")
    expect(box).to_be_focused(timeout=TIMEOUT_MS)
    box.fill(text)
    return dialog, box


def test_search_finds_a_chat_message_and_opens_it_in_its_conversation(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    word = _word()
    with _api(relay, demo_tenant, "carol") as carol:
        bob_id = next(s["staff_id"] for s in carol.get("/api/staff").json()["staff"] if s["username"] == "bob")
        channel = carol.post("/api/chat/channels", json={"name": f"search-{word}", "member_ids": [bob_id]})
        assert channel.status_code == 201, channel.text
        conversation_id = channel.json()["conversation_id"]
        said = f"The velvet curtains for the Lees are on rack 4 {word}"
        posted = carol.post(f"/api/chat/conversations/{conversation_id}/messages", json={"text": said})
        assert posted.status_code == 201, posted.text

    bob = sign_in("bob", bypass_csp=True)   # for axe-core
    open_customer_messages(bob)
    dialog, box = _search(bob, word)
    results = dialog.get_by_role("listbox", name="Search results")
    messages = results.get_by_role("group", name="Messages")
    hit = messages.get_by_role("option").filter(has_text=said)
    expect(hit).to_have_count(1, timeout=TIMEOUT_MS)
    expect(hit).to_contain_text(f"search-{word}")
    expect(hit).to_contain_text("Carol Diaz")
    expect(hit).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", hit.get_attribute("id") or "")
    check_every_size(bob, "search-results")

    box.press("Enter")
    expect(dialog).to_be_hidden()
    expect(bob).to_have_url(re.compile(f"#c/{re.escape(conversation_id)}$"), timeout=TIMEOUT_MS)
    expect(bob.get_by_role("main").get_by_text(said)).to_be_visible(timeout=TIMEOUT_MS)


def test_search_finds_an_issue_by_its_words_and_a_customer_by_name(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    word = _word()
    text = f"Could you also steam the {word} curtains?"
    bob = sign_in("bob")
    open_customer_messages(bob)
    texts(relay, demo_tenant, from_number=JANE, body=text)

    # the search button opens the same dialog as Ctrl-K
    bob.get_by_role("button", name=re.compile("^Search")).click()
    dialog = bob.get_by_role("dialog", name="Search")
    box = dialog.get_by_role("searchbox", name="Search")
    box.fill(word)
    issues = dialog.get_by_role("group", name="Customer issues")
    hit = issues.get_by_role("option").filter(has_text="Jane Doe")
    expect(hit).to_have_count(1, timeout=TIMEOUT_MS)
    expect(hit).not_to_contain_text("cus_")
    hit.click()
    expect(dialog).to_be_hidden()
    view = issue_dialog(bob, "Jane Doe")
    expect(entry(view, "customer_message", text)).to_have_count(1, timeout=TIMEOUT_MS)
    bob.keyboard.press("Escape")
    expect(view).to_be_hidden()

    # a customer, chosen with the arrow keys
    dialog, box = _search(bob, "Haddad")
    customers = dialog.get_by_role("group", name="Customers")
    omar = customers.get_by_role("option").filter(has_text="Omar Haddad")
    expect(omar).to_have_count(1, timeout=TIMEOUT_MS)
    for _ in range(20):   # at most every result once: down to Omar
        if omar.get_attribute("aria-selected") == "true":
            break
        box.press("ArrowDown")
    expect(omar).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(customer_dialog(bob, "Omar Haddad").get_by_role("region", name="Customer account")).to_contain_text(
        "omar@example.com", timeout=TIMEOUT_MS)
