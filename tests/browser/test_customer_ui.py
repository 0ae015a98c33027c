"""Customers by name or number in real browsers: an unknown number in national format everywhere, naming and linking
an unknown contact, two staff seeing who took it, and an MMS picture as a thumbnail that enlarges."""

import re
import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import expect

from relay_stack import demo
from relay_stack.stack import Stack
from tests.browser.issue_pages import (
    MEI, badge_count, card, check_every_size, customer_dialog, entry, history, national, open_customer_messages,
    open_issue, texts, unique, unknown_numbers,
)
from tests.browser.pages import TIMEOUT_MS
from tests.browser.screens import check_screen

BLUE = "rgb(29, 95, 209)"   # the theme's --assigned (light)


def _png(width: int, height: int) -> bytes:
    """A small real PNG (orange), as a phone's camera would send a bigger one."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + b"\xff\x88\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def media_host() -> Iterator[str]:
    """Where the MMS provider keeps a picture the customer sent (ingest fetches it from the webhook's MediaUrl0)."""
    picture = _png(64, 48)

    class Media(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if not self.path.startswith("/media/"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.send_header("content-length", str(len(picture)))
            self.end_headers()
            self.wfile.write(picture)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Media)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_unknown_number_is_shown_in_national_format_in_the_toast_the_feed_and_the_issue(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    bob = sign_in("bob", bypass_csp=True)   # for axe-core
    open_customer_messages(bob)
    number = unknown_numbers(1, area="202")[0]
    shown = national(number)   # e.g. (202) 555-0143
    text = unique("Hi, do you do leather jackets?")
    texts(relay, demo_tenant, from_number=number, body=text)

    expect(bob.get_by_role("region", name="Notifications")).to_contain_text(shown, timeout=TIMEOUT_MS)
    unknown = card(bob, text)
    expect(unknown.get_by_role("heading", name=shown)).to_be_visible(timeout=TIMEOUT_MS)
    expect(unknown).not_to_contain_text("cus_")
    view = open_issue(bob, text, shown)
    expect(entry(view, "customer_message", text)).to_have_count(1, timeout=TIMEOUT_MS)
    expect(view).not_to_contain_text("cus_")
    check_every_size(bob, "issue-dialog")
    bob.emulate_media(color_scheme="dark")   # the colours of the dark theme pass axe's contrast check too
    check_screen(bob, "issue-dialog-dark")


def test_an_unknown_contact_is_named_from_view_customer_and_the_feed_follows(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    bob = sign_in("bob", bypass_csp=True)   # for axe-core
    open_customer_messages(bob)
    number = unknown_numbers(1, area="202")[0]
    text = unique("Is the alteration on my dress done?")
    texts(relay, demo_tenant, from_number=number, body=text)
    unknown = card(bob, text)
    unknown.get_by_role("button", name="View Customer").click()

    dialog = customer_dialog(bob, national(number))
    expect(dialog).to_contain_text("Unknown contact", timeout=TIMEOUT_MS)
    expect(dialog).to_contain_text(number)
    check_every_size(bob, "customer-dialog")
    dialog.get_by_role("button", name="Name this customer").click()
    name = unique("Ruth Okafor")
    form = dialog.get_by_role("form", name="Name this customer")
    form.get_by_label("Name").fill(name)
    form.get_by_role("button", name="Save name").click()

    expect(bob.get_by_role("dialog", name=name)).to_be_visible(timeout=TIMEOUT_MS)
    bob.keyboard.press("Escape")
    # the issues service takes the new name and pushes the issue's snapshot: the card shows it, unloaded
    expect(card(bob, text).get_by_role("heading", name=name)).to_be_visible(timeout=TIMEOUT_MS)


def test_an_unknown_contact_is_linked_to_the_directory_customer_it_is(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant
) -> None:
    alice = sign_in("alice")
    open_customer_messages(alice)
    number = unknown_numbers(1, area="202")[0]
    text = unique("This is Mei on my work phone: are the dresses ready?")
    texts(relay, demo_tenant, from_number=number, body=text)
    card(alice, text).get_by_role("button", name="View Customer").click()

    dialog = customer_dialog(alice, national(number))
    dialog.get_by_role("button", name="Link to a customer").click()
    linking = dialog.get_by_role("group", name="Link to a customer")
    linking.get_by_label("Find a customer").fill("Tanaka")
    linking.get_by_role("button", name=re.compile("^Mei Tanaka")).click()
    expect(linking).to_contain_text("will belong to Mei Tanaka")
    linking.get_by_role("button", name="Link to Mei Tanaka").click()

    mei = customer_dialog(alice, "Mei Tanaka")
    account = mei.get_by_role("region", name="Customer account")
    expect(account).to_contain_text(MEI, timeout=TIMEOUT_MS)
    expect(account).to_contain_text(number)   # the work phone is Mei's now


def _waiting(page, relay: Stack) -> int:
    """How many customer issues wait for someone now, as the issues service counts them."""
    answer = page.request.get(f"{relay.gateway_url}/api/issues/counts")
    assert answer.ok, answer.text()
    return int(answer.json()["unassigned"])


def test_two_staff_see_the_unknown_number_and_who_took_it(sign_in, relay: Stack, demo_tenant: demo.DemoTenant) -> None:
    bob, carol = sign_in("bob"), sign_in("carol")
    for page in (bob, carol):
        open_customer_messages(page)
    waiting_before = _waiting(bob, relay)
    if waiting_before:
        expect(badge_count(bob, "Customer Messages")).to_have_text(str(waiting_before), timeout=TIMEOUT_MS)
    number = unknown_numbers(1, area="202")[0]
    text = unique("Can I drop off a duvet tonight?")
    texts(relay, demo_tenant, from_number=number, body=text)

    for page in (bob, carol):
        expect(page.get_by_role("region", name="Notifications")).to_contain_text(national(number), timeout=TIMEOUT_MS)
        expect(card(page, text)).to_have_class(re.compile("status-unassigned"), timeout=TIMEOUT_MS)
    expect(badge_count(bob, "Customer Messages")).to_have_text(str(waiting_before + 1), timeout=TIMEOUT_MS)

    card(carol, text).get_by_role("button", name="Take It").click()
    taken = card(bob, text)
    expect(taken.locator(".status")).to_have_text("Assigned to Carol Diaz", timeout=TIMEOUT_MS)
    expect(taken.locator(".status")).to_have_css("background-color", BLUE)
    expect(taken).to_have_class(re.compile("colour-blue"))
    if waiting_before:
        expect(badge_count(bob, "Customer Messages")).to_have_text(str(waiting_before), timeout=TIMEOUT_MS)
    else:
        expect(badge_count(bob, "Customer Messages")).to_have_count(0, timeout=TIMEOUT_MS)


def test_an_mms_picture_shows_as_a_thumbnail_that_enlarges(
    sign_in, relay: Stack, demo_tenant: demo.DemoTenant, media_host: str
) -> None:
    bob = sign_in("bob")
    open_customer_messages(bob)
    number = unknown_numbers(1, area="202")[0]
    text = unique("Here is the stain on the blouse")
    texts(relay, demo_tenant, from_number=number, body=text, media=[(f"{media_host}/media/stain.png", "image/png")])

    view = open_issue(bob, text, national(number))
    thumbnail = history(view).get_by_role("img", name=re.compile(f"^Picture from {re.escape(national(number))}"))
    expect(thumbnail).to_be_visible(timeout=TIMEOUT_MS)
    # loaded through the gateway's authenticated attachment route: a real picture, 64 × 48
    src = thumbnail.get_attribute("src") or ""
    assert re.match(r"^(https?://[^/]+)?/api/customers/[^/]+/attachments/[^/]+$", src), src
    bob.wait_for_function("img => img.complete && img.naturalWidth === 64", arg=thumbnail.element_handle(),
                          timeout=TIMEOUT_MS)

    history(view).get_by_role("button", name=re.compile("^Enlarge Picture from")).click()
    large = bob.get_by_role("dialog", name=re.compile("Picture|stain"))
    expect(large.get_by_role("img")).to_be_visible(timeout=TIMEOUT_MS)
    bob.keyboard.press("Escape")
    expect(large).to_be_hidden()
    expect(view).to_be_visible()   # Esc closed the picture only
