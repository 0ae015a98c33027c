"""A local stand-in for the providers' sending side, so demo replies really go out offline.

It speaks Twilio's Messages API (and calls the status callback back, signed as Twilio does)
and accepts SMTP; every message it receives is printed and kept for inspection. Connected to a shop
(`connect`), it also plays that shop's customers: a small JSON API beside the Twilio one
(`/sandbox/...`, loopback only, embedded mode only) sends signed webhooks as a customer and shows each
customer's conversation both ways. `python -m relay_stack simulate` and the gateway's `/sandbox` page use it:

    GET  /sandbox/messages?to=&after=&limit=   the shop's replies (to that number or address), after message
                                              number `after`, oldest first: {"messages": [{id, channel, to, body,
                                              subject, at}], "last_id"}
    GET  /sandbox/conversation?address=&channel=sms|email
                                              {"address", "channel", "messages": [{id, direction ("to_shop" |
                                              "to_customer"), channel, text, subject, at, accepted}]}
    GET  /sandbox/addresses                   who to play: {"tenant_id", "shop_phone", "shop_email",
                                              "addresses": [{address, channel, label}]}
    POST /sandbox/customer-messages           {channel, from, text, subject?}: signed and posted to the shop's
                                              gateway; 201 {id, channel, address, text, subject, at}; 400 bad
                                              input, 502 the gateway refused or did not answer, 503 no shop
"""

import base64
import itertools
import json
import logging
import threading
import urllib.parse
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from relay_stack import simulate
from relay_stack.ports import free_port
from relay_stack.signing import twilio_signature

# What the sandbox serves for any MMS picture: a 32x32 PNG.
SAMPLE_PICTURE = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAACAAAAAgCAIAAAD8GO2jAAAAKklEQVR42mPQiFpAU8QwasGoBaMWjFowasGoBaMWjFowasGoBaMWDBULAEgoiD3xiSqXAAAAAElFTkSuQmCC")

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class SentMessage:
    """One message a provider was asked to send (a reply of the shop)."""

    channel: str
    to: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    id: int = 0
    at: str = field(default_factory=_now)

    @property
    def subject(self) -> str | None:
        return self.headers.get("Subject")

    def goes_to(self, address: str) -> bool:
        """Whether the message was sent to this number or email address."""
        return address.casefold() in {to.strip().casefold() for to in self.to.split(",")}

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "channel": self.channel, "to": self.to, "body": self.body, "subject": self.subject,
                "at": self.at}


@dataclass
class CustomerMessage:
    """One message sent to the shop as a customer, through this sandbox."""

    channel: str
    address: str
    text: str
    subject: str | None
    status_code: int
    id: int = 0
    at: str = field(default_factory=_now)


@dataclass(frozen=True)
class Suggestion:
    """An address to play the customer from (a customer of the demo, or a number nobody knows)."""

    address: str
    channel: str
    label: str


class SandboxRequestRefused(Exception):
    """A call to the sandbox's own API that cannot be served: the status and the message to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ProviderSandbox:
    """Fake Twilio REST API and SMTP server on loopback."""

    def __init__(self, *, echo: bool = True) -> None:
        self.http_port = free_port()
        self.smtp_port = free_port()
        self.sent: list[SentMessage] = []
        self.customer_messages: list[CustomerMessage] = []
        self.echo = echo
        self.shop: simulate.Shop | None = None
        self.suggestions: list[Suggestion] = []
        self._server: ThreadingHTTPServer | None = None
        self._smtp: Controller | None = None
        self._sids = itertools.count(1)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The sandbox's own API (`/sandbox/...`), on the same port as its Twilio API."""
        return self.twilio_url

    def connect(self, shop: simulate.Shop, *, suggestions: list[Suggestion] | None = None) -> "ProviderSandbox":
        """Play this shop's customers: their messages go to its gateway, signed with its secrets."""
        self.shop = shop
        self.suggestions = list(suggestions or [])
        return self

    @property
    def twilio_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def media_url(self, name: str = "photo.png") -> str:
        """Where an MMS picture of a simulated customer text lies (Twilio's MediaUrl0)."""
        return f"{self.twilio_url}/media/{name}"

    def start(self) -> "ProviderSandbox":
        sandbox = self

        class TwilioApi(BaseHTTPRequestHandler):
            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _own_api(self, method: str, raw: bytes) -> None:
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                try:
                    status, body = sandbox.answer(method, parts.path, query=query, body=raw)
                except SandboxRequestRefused as refused:
                    status, body = refused.status, {"error": {"code": "refused", "message": str(refused)}}
                self._json(status, body)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path.startswith("/sandbox/"):
                    self._own_api("GET", b"")
                    return
                if self.path.split("?")[0].startswith("/media/"):  # an MMS picture, as Twilio's media URLs serve it
                    self.send_response(200)
                    self.send_header("content-type", "image/png")
                    self.send_header("content-length", str(len(SAMPLE_PICTURE)))
                    self.end_headers()
                    self.wfile.write(SAMPLE_PICTURE)
                    return
                self._json(404, {"error": {"code": "not_found", "message": "Not Found"}})

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                if self.path.startswith("/sandbox/"):
                    self._own_api("POST", raw)
                    return
                form = dict(urllib.parse.parse_qsl(raw.decode()))
                auth = self.headers.get("authorization", "")
                if not self.path.endswith("/Messages.json") or not auth.startswith("Basic "):
                    self.send_response(404)
                    self.end_headers()
                    return
                _, token = base64.b64decode(auth[6:]).decode().split(":", 1)
                sid = f"SMsandbox{next(sandbox._sids):024d}"
                sandbox._record(SentMessage("sms", form.get("To", ""), form.get("Body", "")))
                body = json.dumps({"sid": sid, "status": "queued", "to": form.get("To"), "body": form.get("Body")})
                self.send_response(201)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())
                if form.get("StatusCallback"):
                    threading.Thread(target=sandbox._report_delivery, args=(form["StatusCallback"], sid, token),
                                     daemon=True).start()

            def log_message(self, *_: Any) -> None:
                return

        class SmtpSink:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                message = message_from_bytes(envelope.content)
                text = message.get_payload(decode=True) if not message.is_multipart() else b""
                for part in message.walk() if message.is_multipart() else ():
                    if part.get_content_type() == "text/plain":
                        text = part.get_payload(decode=True)
                        break
                sandbox._record(SentMessage(
                    "email", ",".join(envelope.rcpt_tos), (text or b"").decode(errors="replace"),
                    {k: str(v) for k, v in message.items()},
                ))
                return "250 OK"

        self._server = ThreadingHTTPServer(("127.0.0.1", self.http_port), TwilioApi)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self._smtp = Controller(SmtpSink(), hostname="127.0.0.1", port=self.smtp_port)
        self._smtp.start()
        return self

    def _record(self, message: SentMessage) -> None:
        with self._lock:
            message.id = next(self._ids)
            self.sent.append(message)
        if self.echo:
            print(f"[sandbox] {message.channel} to {message.to}: {message.body.strip()[:200]}", flush=True)

    # ---- the sandbox's own API: the shop's replies, and playing its customers ----------------------------

    def replies_to(self, address: str | None, *, after: int = 0, limit: int = 100) -> list[SentMessage]:
        """The replies sent (to `address`, if given) after message number `after`, oldest first."""
        with self._lock:
            found = [m for m in self.sent if m.id > after and (not address or m.goes_to(address))]
        return found[:limit]

    def conversation(self, address: str) -> list[dict[str, Any]]:
        """What a customer sent through the sandbox and what the shop sent them, in order."""
        with self._lock:
            sent = [{"id": m.id, "direction": "to_shop", "channel": m.channel, "text": m.text, "subject": m.subject,
                     "at": m.at, "accepted": 200 <= m.status_code < 300}
                    for m in self.customer_messages if m.address.casefold() == address.casefold()]
            replies = [{"id": m.id, "direction": "to_customer", "channel": m.channel, "text": m.body,
                        "subject": m.subject, "at": m.at, "accepted": True} for m in self.sent if m.goes_to(address)]
        return sorted(sent + replies, key=lambda entry: entry["id"])

    def send_as_customer(self, *, channel: str, address: str, text: str, subject: str | None = None) -> CustomerMessage:
        """Send a signed webhook to the connected shop as the customer, and keep it for the conversation."""
        if self.shop is None:
            raise SandboxRequestRefused(503, "The sandbox plays no shop's customers: it is not connected to a Relay.")
        try:
            sent = simulate.send(self.shop, channel=channel, from_address=address, text=text, subject=subject)
        except simulate.CustomerMessageRefused as refused:
            raise SandboxRequestRefused(400, str(refused)) from None
        except httpx.HTTPError as error:
            raise SandboxRequestRefused(502, f"Relay's gateway did not answer: {error!r}") from None
        message = CustomerMessage(sent.channel, sent.address, sent.text, sent.subject, sent.status_code)
        with self._lock:
            message.id = next(self._ids)
            self.customer_messages.append(message)
        if not sent.accepted:
            raise SandboxRequestRefused(502, f"Relay's gateway refused the message: {sent.status_code} {sent.answer}")
        return message

    def answer(self, method: str, path: str, *, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        """Serve one call of the sandbox's own API: (status, JSON body)."""
        if method == "GET" and path == "/sandbox/messages":
            after, limit = _number(query, "after", 0), _number(query, "limit", 100)
            with self._lock:
                last_id = max((m.id for m in self.sent), default=0)
            return 200, {"messages": [m.as_json() for m in self.replies_to(query.get("to"), after=after,
                                                                           limit=limit)], "last_id": last_id}
        if method == "GET" and path == "/sandbox/conversation":
            channel, typed = query.get("channel", simulate.SMS), query.get("address", "")
            try:
                address = simulate.address_of(channel, typed)
            except simulate.CustomerMessageRefused as refused:
                raise SandboxRequestRefused(400, str(refused)) from None
            return 200, {"address": address, "channel": channel, "messages": self.conversation(address)}
        if method == "GET" and path == "/sandbox/addresses":
            shop = self.shop
            return 200, {"tenant_id": shop.tenant_id if shop else None,
                         "shop_phone": shop.twilio_phone_number if shop else None,
                         "shop_email": shop.email_address if shop else None,
                         "addresses": [asdict(s) for s in self.suggestions]}
        if method == "POST" and path == "/sandbox/customer-messages":
            try:
                fields = json.loads(body or b"{}")
            except ValueError:
                raise SandboxRequestRefused(400, "Send a JSON object: {channel, from, text, subject?}.") from None
            if not isinstance(fields, dict) or not all(fields.get(k) is None or isinstance(fields[k], str)
                                                       for k in ("channel", "from", "text", "subject")):
                raise SandboxRequestRefused(400, "Send a JSON object of strings: {channel, from, text, subject?}.")
            sent = self.send_as_customer(channel=fields.get("channel") or simulate.SMS,
                                         address=fields.get("from") or "", text=fields.get("text") or "",
                                         subject=fields.get("subject"))
            return 201, {"id": sent.id, "channel": sent.channel, "address": sent.address, "text": sent.text,
                         "subject": sent.subject, "at": sent.at}
        raise SandboxRequestRefused(404, f"The sandbox has no {method} {path}.")

    def _report_delivery(self, callback_url: str, sid: str, auth_token: str) -> None:
        for status in ("sent", "delivered"):
            form = {"MessageSid": sid, "MessageStatus": status, "SmsStatus": status}
            signature = twilio_signature(url=callback_url, params=form, auth_token=auth_token)
            try:
                httpx.post(callback_url, data=form, headers={"X-Twilio-Signature": signature}, timeout=5)
            except httpx.HTTPError as error:
                log.warning("status callback to %s failed: %r", callback_url, error)

    def __enter__(self) -> "ProviderSandbox":
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._smtp:
            self._smtp.stop()


def _number(query: dict[str, str], name: str, default: int) -> int:
    value = query.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit():
        raise SandboxRequestRefused(400, f"{name} is a whole number.")
    return int(value)
