"""Reading email: the new text without quoted history or signature, addresses, threading, bounces."""

import pytest

from relay_contracts.customer_messages import EmailThreading, reply_subject, reply_threading
from relay_ingest.providers import mail


@pytest.mark.parametrize(("raw", "new"), [
    ("Sure, Friday works.\n\nSent from my iPhone\n\nOn Nov 24, 2026, at 10:00, Sunrise <help@x.example> wrote:\n"
     "> Your suit is ready\n", "Sure, Friday works."),
    ("Please hold it until Monday.\n\nThanks,\nOmar\n\n-----Original Message-----\nFrom: Sunrise <help@x.example>\n"
     "Sent: Monday, November 24, 2026 10:00 AM\nSubject: Your order\n\nYour suit is ready\n",
     "Please hold it until Monday."),
    ("Is the stain gone?\n-- \nMei Tanaka\nTanaka Design\n", "Is the stain gone?"),
    ("Yes please deliver.\n\nOn Mon, Nov 24, 2026 at 10:00 AM Sunrise Dry Cleaners <\nhelp@x.example> wrote:\n\n"
     "> Shall we deliver?\n", "Yes please deliver."),
    ("Hello, is my coat ready?\r\nThanks", "Hello, is my coat ready?\nThanks"),
    ("Danke, ich komme morgen.\n\nAm Mo., 24. Nov. 2026 um 10:00 Uhr schrieb Sunrise <help@x.example>:\n> Fertig",
     "Danke, ich komme morgen."),
    ("", ""),
])
def test_new_text_drops_quoted_history_and_signature(raw: str, new: str) -> None:
    assert mail.new_text(raw) == new


def test_addresses_are_parsed_with_encoded_names_and_normalised() -> None:
    assert mail.parse_mailboxes('"Doe, Jane" <Jane.Doe@Example.COM>, bob@example.com') == [
        ("Doe, Jane", "jane.doe@example.com"), (None, "bob@example.com")]
    assert mail.first_mailbox("=?utf-8?q?Ren=C3=A9e?= <renee@example.com>") == ("Renée", "renee@example.com")
    assert mail.first_mailbox("not an address") is None
    assert mail.first_mailbox("") is None


def test_threading_headers_are_kept_and_a_reply_threads_under_them() -> None:
    threading = mail.threading_of(message_id=" <m2@example.com> ", in_reply_to="<m1@shop.example>",
                                  references="<m0@shop.example>\r\n <m1@shop.example>")
    assert threading == EmailThreading(message_id="<m2@example.com>", in_reply_to="<m1@shop.example>",
                                       references=["<m0@shop.example>", "<m1@shop.example>"])
    assert reply_threading(threading) == EmailThreading(
        in_reply_to="<m2@example.com>", references=["<m0@shop.example>", "<m1@shop.example>", "<m2@example.com>"])
    assert reply_threading(None) is None
    assert reply_subject("Re: Coat") == "Re: Coat" and reply_subject("Coat") == "Re: Coat"


def test_headers_from_a_raw_block_are_read() -> None:
    headers = mail.parse_header_block("Message-ID: <a@b>\r\nSubject: =?utf-8?q?Caf=C3=A9?=\r\nIn-Reply-To: <x@y>\r\n")
    assert headers["Message-ID"] == "<a@b>" and headers["Subject"] == "Café" and headers["In-Reply-To"] == "<x@y>"


def test_bounces_are_recognised_and_their_reason_read() -> None:
    assert mail.looks_like_bounce(content_type="multipart/report; report-type=delivery-status; boundary=x",
                                  sender="a@b.example", subject="anything")
    assert not mail.looks_like_bounce(content_type="multipart/report; report-type=disposition-notification",
                                      sender="jane@example.com", subject="Read: Your order")
    assert mail.looks_like_bounce(content_type="text/plain", sender="mailer-daemon@mx.example",
                                  subject="Mail delivery failed: returning message to sender")
    assert not mail.looks_like_bounce(content_type="text/plain", sender="jane@example.com",
                                      subject="Delivery failed? My parcel")
    bounce = mail.bounce_details("Status: 5.1.1\nDiagnostic-Code: smtp; 550 user unknown\n",
                                 "Message-ID: <relay.out_1.t@x.example>")
    assert bounce.referenced_message_ids == ["<relay.out_1.t@x.example>"]
    assert bounce.reason == "smtp; 550 user unknown" and bounce.status_code == "5.1.1"


def test_html_is_turned_into_readable_text() -> None:
    html = "<div>Hi,<br>is it <i>ready</i>?</div><script>alert(1)</script><p>Thanks</p>"
    assert mail.html_to_text(html) == "Hi,\nis it ready?\n\nThanks"
