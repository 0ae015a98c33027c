"""Email as the email providers share it (the standard `email` package): addresses, threading, new text, bounces."""

import hashlib
import re
from email import policy
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.utils import formataddr, formatdate
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

from relay_contracts.customer_messages import Channel, EmailThreading
from relay_ingest.domain import normalise_email
from relay_ingest.providers.base import Bounce, ProviderMessage, UploadedFile
from relay_kit.errors import BadRequest

_MESSAGE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_header_registry = HeaderRegistry()
_reply_parser = EmailReplyParser(languages=["en", "de", "fr", "es", "it", "nl"])


def parse_mailboxes(value: str | None) -> list[tuple[str | None, str]]:
    """Every (display name, normalised address) in an address header, encoded words decoded."""
    if not value:
        return []
    try:
        header = _header_registry("to", value.replace("\r", " ").replace("\n", " "))
    except Exception:  # the registry raises assorted errors on garbage; it is just not an address then
        return []
    found = []
    for address in getattr(header, "addresses", ()):
        if not address.addr_spec or "@" not in address.addr_spec:
            continue
        try:
            found.append((address.display_name or None, normalise_email(address.addr_spec)))
        except ValueError:
            continue
    return found


def first_mailbox(value: str | None) -> tuple[str | None, str] | None:
    """The first address of an address header, or None."""
    found = parse_mailboxes(value)
    return found[0] if found else None


def parse_header_block(raw: str) -> Message:
    """A raw header block (as SendGrid posts it) parsed into a message with those headers."""
    return HeaderParser(policy=policy.default).parsestr(raw.strip() + "\n\n", headersonly=True)


def parse_mime(raw: bytes) -> Message:
    """A whole MIME message (SendGrid's raw mode)."""
    return BytesParser(policy=policy.default).parsebytes(raw)


def message_ids(value: str | None) -> list[str]:
    """The `<id@host>` tokens in a Message-ID, In-Reply-To or References value, in order."""
    return _MESSAGE_ID.findall(value or "")


def threading_of(*, message_id: str | None, in_reply_to: str | None, references: str | None) -> EmailThreading:
    """Threading headers as the contracts keep them."""
    own = message_ids(message_id)
    parent = message_ids(in_reply_to)
    return EmailThreading(
        message_id=own[0] if own else None,
        in_reply_to=parent[0] if parent else None,
        references=message_ids(references),
    )


def new_text(text: str) -> str:
    """The customer's new words: without the quoted history (`On … wrote:`, `>`), and without the signature."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        return ""
    try:
        replies = _reply_parser.read(text).replies
    except Exception:  # a pathological text must not lose the message: keep it whole
        return text
    body = replies[0].body.strip() if replies else ""
    return body or text


_BLOCK_TAGS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "blockquote"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML-only email."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = [" ".join(line.split()) for line in "".join(extractor.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def plain_text_of(message: Message) -> str:
    """The text/plain body of a MIME message (or its HTML, as text)."""
    if isinstance(message, EmailMessage):
        part = message.get_body(preferencelist=("plain", "html"))
        if part is not None:
            content = _part_text(part)
            return html_to_text(content) if part.get_content_type() == "text/html" else content
    return ""


def _part_text(part: EmailMessage) -> str:
    """A text part's content in its declared charset; as UTF-8 (bad bytes replaced) when that charset is unknown
    or malformed (`x-bogus`, a NUL in its name), so a sender's mistake never makes the email unreadable."""
    try:
        content = part.get_content()
    except (LookupError, ValueError, UnicodeError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload or "")
    return content if isinstance(content, str) else str(content)


_BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|bounces?)@", re.IGNORECASE)
_BOUNCE_SUBJECTS = re.compile(
    r"(undeliver|delivery status notification|delivery (has )?failed|mail delivery failed|returned mail|"
    r"failure notice|could not be delivered)", re.IGNORECASE)
_DSN_FIELD = re.compile(r"^(Status|Diagnostic-Code|Action|Final-Recipient):\s*(.+)$", re.IGNORECASE | re.MULTILINE)


def looks_like_bounce(*, content_type: str | None, sender: str | None, subject: str | None) -> bool:
    """A delivery-status notification: multipart/report, or mail from the mailer daemon about a failure."""
    ctype = (content_type or "").lower()
    if "multipart/report" in ctype:
        return "disposition-notification" not in ctype  # a read receipt is not a bounce
    return bool(sender and _BOUNCE_SENDERS.match(sender) and subject and _BOUNCE_SUBJECTS.search(subject))


def bounce_details(*texts: str | None) -> Bounce:
    """Which Message-IDs a bounce mentions, and the reason it gives (Diagnostic-Code / Status)."""
    ids: list[str] = []
    fields: dict[str, str] = {}
    for text in texts:
        if not text:
            continue
        ids.extend(_MESSAGE_ID.findall(text))
        for name, value in _DSN_FIELD.findall(text):
            fields.setdefault(name.lower(), value.strip())
    reason = fields.get("diagnostic-code") or (f"delivery status {fields['status']}" if "status" in fields else None)
    return Bounce(
        referenced_message_ids=list(dict.fromkeys(ids)),
        reason=reason or "The customer's mail server returned the message as undeliverable.",
        status_code=fields.get("status"),
    )


def mime_texts(message: Message) -> list[str]:
    """Every textual part of a MIME message (for reading a bounce's report and returned headers)."""
    texts = [str(message.get("Subject") or "")]
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            texts.append(payload.decode("utf-8", errors="replace"))
        else:
            raw = part.get_payload()
            texts.append(raw if isinstance(raw, str) else str(raw))
    for part in message.walk():
        if part.get_content_type() in ("message/rfc822", "message/delivery-status", "text/rfc822-headers"):
            texts.append(part.as_string())
    return texts


def outbound_message_id(*, outbound_id: str, tenant_id: str, from_address: str) -> str:
    """Our Message-ID for a reply: stable per outbound message, so a bounce can be matched to it."""
    domain = from_address.rpartition("@")[2] or "relay.invalid"
    local = re.sub(r"[^A-Za-z0-9._-]", "-", f"relay.{outbound_id}.{tenant_id}")
    return f"<{local}@{domain}>"


def reply_message(
    *, from_address: str, from_name: str | None, to_address: str, subject: str, text: str, message_id: str,
    in_reply_to: str | None, references: list[str],
) -> EmailMessage:
    """An email reply that threads under the customer's message in their mail client."""
    message = EmailMessage()
    message["From"] = formataddr((from_name, from_address)) if from_name else from_address
    message["To"] = to_address
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    message.set_content(text)
    return message


def fallback_message_id(*parts: str | None) -> str:
    """A stable id for an email that came without a Message-ID, so its retries are still recognised."""
    digest = hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()
    return f"sha256:{digest[:40]}"


def inbound_email(
    *, provider: str, from_header: str | None, envelope_from: str | None, to_header: str | None,
    envelope_to: str | None, subject: str | None, text: str | None, html: str | None, message_id: str | None,
    in_reply_to: str | None, references: str | None, content_type: str | None, files: list[UploadedFile],
    extra_bounce_texts: list[str] | None = None,
) -> ProviderMessage:
    """An inbound email from the pieces a provider posts: addresses parsed, threading kept, new text only."""
    sender = first_mailbox(from_header) or first_mailbox(envelope_from)
    if sender is None:
        raise BadRequest("The email has no usable sender address (from / sender).")
    recipient = first_mailbox(envelope_to) or first_mailbox(to_header)
    if recipient is None:
        raise BadRequest("The email has no usable recipient address (to / recipient).")
    body = text if text and text.strip() else html_to_text(html or "")
    threading = threading_of(message_id=message_id, in_reply_to=in_reply_to, references=references)
    provider_message_id = threading.message_id or fallback_message_id(from_header, to_header, subject, body)
    bounce = None
    if looks_like_bounce(content_type=content_type, sender=sender[1], subject=subject):
        texts = [text, html, *(extra_bounce_texts or [])]
        texts += [f.content.decode("utf-8", errors="replace") for f in files if f.content_type.startswith(
            ("message/", "text/"))]
        details = bounce_details(*texts)
        own = set(message_ids(message_id))
        bounce = Bounce(referenced_message_ids=[i for i in details.referenced_message_ids if i not in own],
                        reason=details.reason, status_code=details.status_code)
    return ProviderMessage(
        provider=provider, channel=Channel.EMAIL, provider_message_id=provider_message_id,
        from_address=sender[1], from_name=sender[0], to_address=recipient[1],
        subject=(subject or "").strip() or None, text=new_text(body), files=files, threading=threading,
        bounce=bounce,
    )


def inbound_email_from_mime(*, provider: str, raw: bytes, envelope_from: str | None = None,
                            envelope_to: str | None = None) -> ProviderMessage:
    """An inbound email from a whole MIME message (SendGrid's raw mode)."""
    message = parse_mime(raw)
    files = []
    if isinstance(message, EmailMessage):
        for n, part in enumerate(message.iter_attachments(), start=1):
            payload = part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else part.as_bytes()  # message/* parts stay whole
            files.append(UploadedFile(field=f"attachment{n}", filename=part.get_filename(),
                                      content_type=part.get_content_type(), content=content))
    return inbound_email(
        provider=provider, from_header=str(message.get("From") or ""), envelope_from=envelope_from,
        to_header=str(message.get("To") or ""), envelope_to=envelope_to, subject=str(message.get("Subject") or ""),
        text=plain_text_of(message), html=None, message_id=str(message.get("Message-ID") or ""),
        in_reply_to=str(message.get("In-Reply-To") or ""), references=str(message.get("References") or ""),
        content_type=message.get("Content-Type"), files=files,
        extra_bounce_texts=mime_texts(message),
    )
