"""Ingest as a real process on the session's broker, fake providers on loopback, and a watch on its topics."""

import base64
import itertools
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from relay_contracts.customer_messages import Channel, EmailThreading, OutboundMessageRequested
from relay_contracts.topics import DELIVERY_STATUS, INBOUND_MESSAGES
from relay_contracts.staff import StaffRole
from relay_kit.auth import StaffPrincipal, issue_token
from relay_stack.ports import free_port
from relay_stack.processes import ServiceProcess
from relay_stack.signing import mailgun_signature, twilio_signature
from relay_stack.testing import EventPublisher, LoopbackJsonApi, TopicWatch

HERE = Path(__file__).parent
ADMIN_TOKEN = "ingest-test-admin"
JWT_SECRET = "ingest-test-jwt-secret-0123456789abcdef"
MAX_BODY_BYTES = 300_000
_stoppers: list[Callable[[], None]] = []


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop this folder's ingest process once its last test ran, so it never joins other suites' work."""
    if nextitem is None or HERE not in Path(nextitem.path).parents:
        while _stoppers:
            _stoppers.pop()()


# --- the service and its topics -------------------------------------------------------------------


@pytest.fixture(scope="session")
def ingest(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One ingest process for this folder's tests, its public URL being its own address."""
    process = ServiceProcess("ingest", env={
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "RELAY_ADMIN_TOKEN": ADMIN_TOKEN, "RELAY_JWT_SECRET": JWT_SECRET,
        "RELAY_MAX_BODY_BYTES": str(MAX_BODY_BYTES), "RELAY_SEND_ATTEMPTS": "4",
        "RELAY_SEND_BACKOFF_SECONDS": "0.05", "RELAY_SEND_TIMEOUT_SECONDS": "3", "RELAY_OUTBOX_SWEEP_SECONDS": "0.5",
        "RELAY_LOG_JSON": "false",
    }, log_dir=tmp_path_factory.mktemp("ingest-logs"))
    process.env["RELAY_PUBLIC_URL"] = process.url
    process.start()
    _stoppers.append(process.stop)
    process.wait_ready(timeout=60)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def topics(kafka_bootstrap: str) -> Iterator[TopicWatch]:
    """What ingest published on inbound.messages and delivery.status."""
    watch = TopicWatch(kafka_bootstrap, INBOUND_MESSAGES, DELIVERY_STATUS).start()
    _stoppers.append(watch.stop)
    yield watch
    watch.stop()


# --- fake providers -------------------------------------------------------------------------------


class FakeTwilio(LoopbackJsonApi):
    """Twilio's Messages API; it can fail the first requests with a 5xx, or refuse every message."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        self.failures = 0
        self.failure_status = 503
        self.refuse_with: tuple[int, int, str] | None = None  # (http status, Twilio error code, message)
        self.report_before_answer: str | None = None  # a status to call back with before even answering the send
        self.accepted: list[dict[str, Any]] = []
        self.early_answers: list[int] = []
        self._sids = itertools.count(1)

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        form = dict(urllib.parse.parse_qsl(body.decode()))
        auth = base64.b64decode(headers.get("authorization", "Basic ")[6:]).decode()
        self.requests.append({"path": path, "form": form, "auth": auth})
        if len(self.requests) <= self.failures:
            return self.failure_status, {"code": 20500, "message": "Internal Server Error"}
        if self.refuse_with:
            status, code, message = self.refuse_with
            return status, {"code": code, "message": message, "status": status}
        sid = f"SM{uuid.uuid4().hex[:24]}{next(self._sids):08d}"
        self.accepted.append({"sid": sid, "path": path, "form": form, "auth": auth})
        if self.report_before_answer:
            early = self.report(self.accepted[-1], status=self.report_before_answer, auth_token=auth.split(":", 1)[1])
            self.early_answers.append(early.status_code)
        return 201, {"sid": sid, "status": "queued", "to": form.get("To"), "body": form.get("Body")}

    def report(self, sent: dict[str, Any], *, status: str, auth_token: str, error_code: str | None = None,
               signature: str | None = None) -> httpx.Response:
        """Call the StatusCallback of an accepted message, signed as Twilio signs it."""
        url = sent["form"]["StatusCallback"]
        form = {"MessageSid": sent["sid"], "MessageStatus": status, "SmsStatus": status,
                "AccountSid": sent["auth"].split(":")[0], "To": sent["form"]["To"]}
        if error_code:
            form["ErrorCode"] = error_code
        signed = signature or twilio_signature(url=url, params=form, auth_token=auth_token)
        return httpx.post(url, data=form, headers={"X-Twilio-Signature": signed}, timeout=10)


class FakeTelnyx(LoopbackJsonApi):
    """Telnyx's `POST /v2/messages`, answering as its API reference shows; it can fail first or refuse."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        self.failures = 0
        self.refuse_with: tuple[int, str, str, str] | None = None  # (http status, code, title, detail)
        self.accepted: list[dict[str, Any]] = []

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        sent = json.loads(body)
        self.requests.append({"path": path, "json": sent, "authorization": headers.get("authorization")})
        if len(self.requests) <= self.failures:
            return 503, {"errors": [{"code": "10007", "title": "Unexpected error", "detail": "Try again."}]}
        if self.refuse_with:
            status, code, title, detail = self.refuse_with
            return status, {"errors": [{"code": code, "title": title, "detail": detail}]}
        message_id = str(uuid.uuid4())
        self.accepted.append({"id": message_id, "json": sent})
        return 200, {"data": {
            "record_type": "message", "direction": "outbound", "id": message_id, "type": "SMS",
            "from": {"phone_number": sent["from"], "carrier": "TELNYX LLC", "line_type": "VoIP"},
            "to": [{"phone_number": sent["to"], "status": "queued", "carrier": "T-MOBILE USA, INC.",
                    "line_type": "Wireless"}],
            "text": sent["text"], "webhook_url": sent.get("webhook_url"), "encoding": "GSM-7", "parts": 1,
            "errors": [],
        }}


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """A fresh fake Twilio Messages API for one test."""
    fake = FakeTwilio()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_telnyx() -> Iterator[FakeTelnyx]:
    """A fresh fake Telnyx Messages API for one test."""
    fake = FakeTelnyx()
    fake.start()
    yield fake
    fake.stop()


class MediaHost:
    """Where a provider keeps MMS media: serves each file put here, keeping every request's path and headers."""

    def __init__(self) -> None:
        self.port = free_port()
        self.files: dict[str, tuple[bytes, str]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def put(self, path: str, content: bytes, content_type: str) -> str:
        """Keep a file; answers its URL."""
        self.files[path] = (content, content_type)
        return self.url + path

    def start(self) -> "MediaHost":
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                host.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                found = host.files.get(self.path)
                content, content_type = found or (b"not found", "text/plain")
                self.send_response(200 if found else 404)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *_: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def media_host() -> Iterator[MediaHost]:
    """A fresh host of MMS media for one test."""
    host = MediaHost().start()
    yield host
    host.stop()


PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
"""A 1×1 picture, as a customer's phone would send a (much larger) one."""


class SmtpSink:
    """A local SMTP server (aiosmtpd) keeping every message it is handed."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                sink.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpSink":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A fresh local SMTP server for one test."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


# --- Telnyx's side of its webhooks ---------------------------------------------------------------


class TelnyxEvents:
    """Telnyx's messaging events as its API reference shows them, signed as Telnyx signs them."""

    @staticmethod
    def public_key(key: Ed25519PrivateKey) -> str:
        """The public half of a signing key as Telnyx shows it: base64 of the raw 32 bytes."""
        return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()

    @staticmethod
    def headers(body: bytes, *, key: Ed25519PrivateKey, timestamp: float | None = None) -> dict[str, str]:
        """`telnyx-timestamp` and `telnyx-signature-ed25519` for a body: Ed25519 over `{timestamp}|{body}`."""
        stamp = str(int(timestamp if timestamp is not None else time.time()))
        signature = base64.b64encode(key.sign(stamp.encode() + b"|" + body)).decode()
        return {"telnyx-timestamp": stamp, "telnyx-signature-ed25519": signature, "content-type": "application/json"}

    @staticmethod
    def event(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A messaging webhook's envelope."""
        return {"data": {"event_type": event_type, "id": str(uuid.uuid4()),
                         "occurred_at": "2026-11-24T10:00:00.000+00:00", "payload": payload, "record_type": "event"},
                "meta": {"attempt": 1, "delivered_to": "https://www.example.com/hooks"}}

    @classmethod
    def received(cls, *, from_number: str, to_number: str, text: str, message_id: str | None = None,
                 media: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        """A `message.received` event shaped as Telnyx's documented example (InboundMessageEvent)."""
        return cls.event("message.received", {
            "cc": [], "completed_at": None, "cost": {"amount": 0.0051, "currency": "USD"}, "direction": "inbound",
            "encoding": "GSM-7", "errors": [],
            "from": {"carrier": "T-MOBILE USA, INC.", "line_type": "Wireless", "phone_number": from_number},
            "id": message_id or str(uuid.uuid4()),
            "media": [{"url": url, "content_type": content_type, "sha256": None, "size": None}
                      for url, content_type in media or []],
            "messaging_profile_id": "0f512bda-ae1e-4597-8e11-e5f5686b97d3", "parts": 1,
            "received_at": "2026-11-24T10:00:00.000Z", "record_type": "message", "sent_at": None, "tags": [],
            "text": text,
            "to": [{"carrier": "TELNYX LLC", "line_type": "VoIP", "phone_number": to_number, "status": "delivered"}],
            "type": "MMS" if media else "SMS", "valid_until": None, "webhook_failover_url": None,
            "webhook_url": "https://www.example.com/hooks",
        })

    @classmethod
    def receipt(cls, sent: dict[str, Any], *, status: str, event_type: str = "message.finalized",
                errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """A delivery receipt (`message.sent` / `message.finalized`) for a message the fake API accepted."""
        return cls.event(event_type, {
            "completed_at": None, "cost": {"amount": "0.0051", "currency": "USD"}, "direction": "outbound",
            "encoding": "GSM-7", "errors": errors or [],
            "from": {"carrier": "TELNYX LLC", "line_type": "VoIP", "phone_number": sent["json"]["from"]},
            "id": sent["id"], "media": [], "messaging_profile_id": "4000eba1-a0c0-4563-9925-b25e842a7cb6",
            "parts": 1, "record_type": "message", "sent_at": "2026-11-24T10:00:01.000+00:00", "tags": [],
            "text": sent["json"]["text"],
            "to": [{"carrier": "T-MOBILE USA, INC.", "line_type": "Wireless", "phone_number": sent["json"]["to"],
                    "status": status}],
            "type": "SMS", "valid_until": None, "webhook_url": sent["json"].get("webhook_url"),
        })


@pytest.fixture
def telnyx_events() -> type[TelnyxEvents]:
    """Builds and signs Telnyx's messaging events."""
    return TelnyxEvents


# --- a tenant and what it can do ------------------------------------------------------------------


_sids = itertools.count(1)


def unique_sid(prefix: str = "SM") -> str:
    """A fresh provider message id."""
    return f"{prefix}{uuid.uuid4().hex[:24]}{next(_sids):08d}"


@dataclass
class Tenant:
    """A freshly provisioned tenant with its provider secrets, and helpers to act as its providers."""

    ingest: ServiceProcess
    tenant_id: str = field(default_factory=lambda: f"t-{uuid.uuid4().hex[:10]}")
    twilio_token: str = field(default_factory=lambda: uuid.uuid4().hex)
    account_sid: str = field(default_factory=lambda: "AC" + uuid.uuid4().hex)
    phone_number: str = "+15550100000"
    telnyx_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    telnyx_api_key: str = field(default_factory=lambda: "KEY" + uuid.uuid4().hex)
    telnyx_number: str = "+15550100099"
    mailgun_key: str = field(default_factory=lambda: "key-" + uuid.uuid4().hex)
    sendgrid_user: str = "parse"
    sendgrid_password: str = field(default_factory=lambda: uuid.uuid4().hex)
    email_from: str = "help@sunrise-cleaners.example"
    name: str = "Sunrise Dry Cleaners"

    @property
    def admin(self) -> dict[str, str]:
        return {"authorization": f"Bearer {ADMIN_TOKEN}"}

    def staff(self, tenant_id: str | None = None, *, role: StaffRole = StaffRole.STAFF) -> dict[str, str]:
        """Headers of a signed-in staff member of this tenant (or another), by default not a manager."""
        principal = StaffPrincipal(staff_id="stf_test", tenant_id=tenant_id or self.tenant_id, name="Bob Chen",
                                   role=role)
        return {"authorization": f"Bearer {issue_token(principal, secret=JWT_SECRET)}"}

    @property
    def manager(self) -> dict[str, str]:
        """Headers of a signed-in manager of this tenant."""
        return self.staff(role=StaffRole.MANAGER)

    def api(self, method: str, path: str, *, headers: dict[str, str] | None = None, **request: Any) -> httpx.Response:
        """Call ingest's API as a staff member of this tenant (or with the given headers)."""
        return httpx.request(method, f"{self.ingest.url}{path}", headers=headers or self.staff(), timeout=15,
                             **request)

    def provision(self, *, twilio_api: str = "http://127.0.0.1:9", smtp_port: int = 9,
                  telnyx_api: str | None = None, country: str | None = None) -> dict[str, Any]:
        """Set the tenant up with every provider; with `telnyx_api`, Telnyx too, and it sends the texts."""
        body: dict[str, Any] = {
            "name": self.name,
            **({"country": country} if country else {}),
            "twilio": {"account_sid": self.account_sid, "auth_token": self.twilio_token,
                       "phone_number": self.phone_number, "api_base_url": twilio_api},
            "mailgun": {"signing_key": self.mailgun_key},
            "sendgrid": {"basic_auth_user": self.sendgrid_user, "basic_auth_password": self.sendgrid_password},
            "email": {"from_address": self.email_from, "smtp_host": "127.0.0.1", "smtp_port": smtp_port},
        }
        if telnyx_api:
            body["telnyx"] = {"api_key": self.telnyx_api_key, "public_key": TelnyxEvents.public_key(self.telnyx_key),
                              "phone_number": self.telnyx_number, "api_base_url": telnyx_api}
            body["sms_provider"] = "telnyx"
        response = httpx.put(f"{self.ingest.url}/api/tenants/{self.tenant_id}", json=body, headers=self.admin)
        assert response.status_code == 200, response.text
        return response.json()

    def webhook_url(self, provider: str, hook: str, *, tenant_id: str | None = None) -> str:
        return f"{self.ingest.url}/webhooks/{tenant_id or self.tenant_id}/{provider}/{hook}"

    def sms_form(self, *, from_number: str, body: str, sid: str | None = None,
                 media: list[tuple[str, str]] | None = None) -> dict[str, str]:
        media = media or []
        form = {"From": from_number, "To": self.phone_number, "Body": body, "MessageSid": sid or unique_sid(),
                "AccountSid": self.account_sid, "NumMedia": str(len(media))}
        for n, (url, content_type) in enumerate(media):
            form[f"MediaUrl{n}"] = url
            form[f"MediaContentType{n}"] = content_type
        return form

    def post_sms(self, form: dict[str, str], *, auth_token: str | None = None, signature: str | None = None,
                 tenant_id: str | None = None) -> httpx.Response:
        """POST an inbound SMS, signed as Twilio signs it (or with the given signature; '' sends none)."""
        url = self.webhook_url("twilio", "sms", tenant_id=tenant_id)
        if signature is None:
            signature = twilio_signature(url=url, params=form, auth_token=auth_token or self.twilio_token)
        headers = {"X-Twilio-Signature": signature} if signature else {}
        return httpx.post(url, data=form, headers=headers, timeout=15)

    def sms(self, *, from_number: str, body: str, **kwargs: Any) -> httpx.Response:
        return self.post_sms(self.sms_form(from_number=from_number, body=body, **kwargs))

    def post_telnyx(self, event: dict[str, Any] | bytes, *, key: Ed25519PrivateKey | None = None,
                    timestamp: float | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        """POST a Telnyx messaging event, signed with the tenant's key (or another), or with the given headers."""
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        signed = headers if headers is not None else TelnyxEvents.headers(body, key=key or self.telnyx_key,
                                                                          timestamp=timestamp)
        return httpx.post(self.webhook_url("telnyx", "sms"), content=body, headers=signed, timeout=15)

    def telnyx_sms(self, *, from_number: str, text: str, **kwargs: Any) -> httpx.Response:
        return self.post_telnyx(TelnyxEvents.received(from_number=from_number, to_number=self.telnyx_number, text=text,
                                                      **kwargs))

    def post_mailgun(self, fields: dict[str, str], *, files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
                     signing_key: str | None = None, timestamp: float | None = None,
                     sign: bool = True) -> httpx.Response:
        """POST a Mailgun route forward, signed with the tenant's signing key."""
        fields = dict(fields)
        if sign:
            stamp = str(int(timestamp if timestamp is not None else time.time()))
            token = uuid.uuid4().hex
            fields.update(timestamp=stamp, token=token, signature=mailgun_signature(
                timestamp=stamp, token=token, signing_key=signing_key or self.mailgun_key))
        return httpx.post(self.webhook_url("mailgun", "inbound"), data=fields, files=files or None, timeout=15)

    def post_sendgrid(self, fields: dict[str, str], *, files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
                      auth: tuple[str, str] | bool | None = True) -> httpx.Response:
        """POST an Inbound Parse form (always multipart), with the tenant's basic credentials."""
        credentials = (self.sendgrid_user, self.sendgrid_password) if auth is True else (auth or None)
        parts: list[tuple[str, Any]] = [(name, (None, value)) for name, value in fields.items()]
        return httpx.post(self.webhook_url("sendgrid", "inbound"), files=parts + list(files or []),
                          auth=credentials, timeout=15)

    def customer(self, customer_id: str) -> httpx.Response:
        return httpx.get(f"{self.ingest.url}/api/customers/{customer_id}", headers=self.staff())

    def search(self, q: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.ingest.url}/api/customers", params={"q": q}, headers=self.staff())
        assert response.status_code == 200, response.text
        return response.json()["customers"]

    def upsert(self, customer_id: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.put(f"{self.ingest.url}/api/customers/{customer_id}", params={"tenant_id": self.tenant_id},
                         json=body, headers=self.admin)


@pytest.fixture
def make_tenant(ingest: ServiceProcess) -> Callable[[], Tenant]:
    """Makes new tenants (unique ids) with every provider set up; sending goes nowhere until re-provisioned."""

    def make() -> Tenant:
        created = Tenant(ingest=ingest)
        created.provision()
        return created

    return make


@pytest.fixture
def tenant(make_tenant: Callable[[], Tenant]) -> Tenant:
    """A new tenant for one test."""
    return make_tenant()


# --- staff replies on outbound.messages -----------------------------------------------------------


@pytest.fixture
async def publisher(kafka_bootstrap: str) -> AsyncIterator[EventPublisher]:
    """Publishes events on their topics, as the service that owns them would."""
    events = EventPublisher(kafka_bootstrap)
    yield events
    await events.close()


@pytest.fixture
def reply(publisher: EventPublisher, ingest: ServiceProcess) -> Callable[..., Any]:
    """Publishes a staff reply on outbound.messages, as the issues service does, and returns it."""

    async def send(*, tenant_id: str, customer_id: str, channel: Channel, to_address: str, text: str,
                   outbound_id: str | None = None, subject: str | None = None,
                   threading: EmailThreading | None = None) -> OutboundMessageRequested:
        payload = OutboundMessageRequested(
            customer_id=customer_id, outbound_id=outbound_id or f"out_{uuid.uuid4().hex[:12]}",
            issue_id=f"iss_{uuid.uuid4().hex[:8]}", channel=channel, to_address=to_address, text=text,
            subject=subject, threading=threading, requested_by="stf_test",
        )
        await publisher.publish_payload(payload, tenant_id=tenant_id, producer="issues")
        return payload

    return send


@pytest.fixture
def publish_event(publisher: EventPublisher) -> Callable[..., Any]:
    """Publishes any event on its topic, as another service would."""
    return publisher.publish
