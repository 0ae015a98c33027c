"""A local stand-in for the providers' sending side, so demo replies really go out offline.

It speaks Twilio's Messages API (and calls the status callback back, signed as Twilio does)
and accepts SMTP; every message it receives is printed and kept for inspection.
"""

import base64
import itertools
import json
import logging
import threading
import urllib.parse
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from relay_stack.ports import free_port
from relay_stack.signing import twilio_signature

log = logging.getLogger(__name__)


@dataclass
class SentMessage:
    """One message a provider was asked to send."""

    channel: str
    to: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)


class ProviderSandbox:
    """Fake Twilio REST API and SMTP server on loopback."""

    def __init__(self, *, echo: bool = True) -> None:
        self.http_port = free_port()
        self.smtp_port = free_port()
        self.sent: list[SentMessage] = []
        self.echo = echo
        self._server: ThreadingHTTPServer | None = None
        self._smtp: Controller | None = None
        self._sids = itertools.count(1)

    @property
    def twilio_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> "ProviderSandbox":
        sandbox = self

        class TwilioApi(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length", 0))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
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
        self.sent.append(message)
        if self.echo:
            print(f"[sandbox] {message.channel} to {message.to}: {message.body.strip()[:200]}", flush=True)

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
