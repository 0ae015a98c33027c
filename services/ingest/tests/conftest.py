"""Ingest as a real process on the session's broker, fake providers on loopback, and a reader of its topics."""

import asyncio
import base64
import itertools
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiosmtpd.controller import Controller

from relay_contracts import new_event
from relay_contracts.customer_messages import Channel, EmailThreading, OutboundMessageRequested
from relay_contracts.topics import DELIVERY_STATUS, INBOUND_MESSAGES
from relay_kit.auth import StaffPrincipal, issue_token
from relay_stack.polling import eventually
from relay_stack.ports import free_port
from relay_stack.processes import ServiceProcess
from relay_stack.signing import mailgun_signature, twilio_signature

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


# --- the topics, read from a fresh consumer group ------------------------------------------------


class TopicLog:
    """Every event on inbound.messages and delivery.status, read by a fresh consumer group in a thread."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._assigned = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._consume()), daemon=True)

    def start(self) -> "TopicLog":
        self._thread.start()
        return self

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(INBOUND_MESSAGES.name, DELIVERY_STATUS.name, bootstrap_servers=self.bootstrap,
                                    group_id=f"ingest-tests-{uuid.uuid4().hex[:8]}", auto_offset_reset="earliest")
        await consumer.start()
        try:
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=100)
                if consumer.assignment():
                    self._assigned.set()
                with self._lock:
                    for records in batch.values():
                        for record in records:
                            event = json.loads(record.value)
                            event["_topic"] = record.topic
                            event["_key"] = record.key.decode() if record.key else None
                            self.events.append(event)
        finally:
            await consumer.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def of(self, tenant_id: str, event_type: str | None = None) -> list[dict[str, Any]]:
        """Events of one tenant (of one type), in arrival order."""
        with self._lock:
            return [e for e in self.events if e.get("tenant_id") == tenant_id and (
                event_type is None or e["type"] == event_type)]

    async def wait_for(self, tenant_id: str, event_type: str, predicate: Callable[[dict[str, Any]], bool] = bool,
                       *, count: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
        """At least `count` events of the type whose payload matches, within the deadline."""

        async def arrived() -> list[dict[str, Any]] | None:
            found = [e for e in self.of(tenant_id, event_type) if predicate(e["payload"])]
            return found if len(found) >= count else None

        return await eventually(arrived, timeout=timeout, what=f"{count} {event_type} for {tenant_id}")


# --- the service ----------------------------------------------------------------------------------


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
def topics(kafka_bootstrap: str) -> Iterator[TopicLog]:
    """What ingest published, as a fresh consumer group sees it."""
    log = TopicLog(kafka_bootstrap).start()
    _stoppers.append(log.stop)
    yield log
    log.stop()


# --- fake providers -------------------------------------------------------------------------------


@dataclass
class FakeTwilio:
    """A loopback server speaking Twilio's Messages API; it can fail the first requests with a 5xx."""

    failures: int = 0
    failure_status: int = 503
    refuse_with: tuple[int, int, str] | None = None  # (http status, Twilio error code, message)
    report_before_answer: str | None = None  # a status to call back with before even answering the send
    port: int = field(default_factory=free_port)
    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    early_answers: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FakeTwilio":
        fake = self
        sids = itertools.count(1)

        class Api(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                auth = base64.b64decode(self.headers.get("authorization", "Basic ")[6:]).decode()
                fake.requests.append({"path": self.path, "form": form, "auth": auth})
                if len(fake.requests) <= fake.failures:
                    return self._answer(fake.failure_status, {"code": 20500, "message": "Internal Server Error"})
                if fake.refuse_with:
                    status, code, message = fake.refuse_with
                    return self._answer(status, {"code": code, "message": message, "status": status})
                sid = f"SM{uuid.uuid4().hex[:24]}{next(sids):08d}"
                fake.accepted.append({"sid": sid, "path": self.path, "form": form, "auth": auth})
                if fake.report_before_answer:
                    early = fake.report(fake.accepted[-1], status=fake.report_before_answer,
                                        auth_token=auth.split(":", 1)[1])
                    fake.early_answers.append(early.status_code)
                self._answer(201, {"sid": sid, "status": "queued", "to": form.get("To"), "body": form.get("Body")})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *_: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Api)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

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


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """A fresh fake Twilio Messages API for one test."""
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


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
    mailgun_key: str = field(default_factory=lambda: "key-" + uuid.uuid4().hex)
    sendgrid_user: str = "parse"
    sendgrid_password: str = field(default_factory=lambda: uuid.uuid4().hex)
    email_from: str = "help@sunrise-cleaners.example"
    name: str = "Sunrise Dry Cleaners"

    @property
    def admin(self) -> dict[str, str]:
        return {"authorization": f"Bearer {ADMIN_TOKEN}"}

    def staff(self, tenant_id: str | None = None) -> dict[str, str]:
        """Headers of a signed-in staff member of this tenant (or another)."""
        principal = StaffPrincipal(staff_id="stf_test", tenant_id=tenant_id or self.tenant_id, name="Bob Chen")
        return {"authorization": f"Bearer {issue_token(principal, secret=JWT_SECRET)}"}

    def provision(self, *, twilio_api: str = "http://127.0.0.1:9", smtp_port: int = 9) -> dict[str, Any]:
        body = {
            "name": self.name,
            "twilio": {"account_sid": self.account_sid, "auth_token": self.twilio_token,
                       "phone_number": self.phone_number, "api_base_url": twilio_api},
            "mailgun": {"signing_key": self.mailgun_key},
            "sendgrid": {"basic_auth_user": self.sendgrid_user, "basic_auth_password": self.sendgrid_password},
            "email": {"from_address": self.email_from, "smtp_host": "127.0.0.1", "smtp_port": smtp_port},
        }
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
def reply(kafka_bootstrap: str, ingest: ServiceProcess) -> Callable[..., Any]:
    """Publishes a staff reply on outbound.messages, as the issues service does."""

    async def send(**kwargs: Any) -> OutboundMessageRequested:
        return await request_reply(kafka_bootstrap, **kwargs)

    return send


@pytest.fixture
def publish_event(kafka_bootstrap: str) -> Callable[..., Any]:
    """Publishes any event on its topic, as another service would."""

    async def send(event: Any) -> None:
        await publish(kafka_bootstrap, event)

    return send


async def request_reply(bootstrap: str, *, tenant_id: str, customer_id: str, channel: Channel, to_address: str,
                        text: str, outbound_id: str | None = None, subject: str | None = None,
                        threading: EmailThreading | None = None) -> OutboundMessageRequested:
    """Publish a staff reply as the issues service does, and return it."""
    payload = OutboundMessageRequested(
        customer_id=customer_id, outbound_id=outbound_id or f"out_{uuid.uuid4().hex[:12]}",
        issue_id=f"iss_{uuid.uuid4().hex[:8]}", channel=channel, to_address=to_address, text=text, subject=subject,
        threading=threading, requested_by="stf_test",
    )
    await publish(bootstrap, new_event(payload, tenant_id=tenant_id, producer="issues"))
    return payload


async def publish(bootstrap: str, event: Any) -> None:
    """Publish one event under its topic and key and wait for the ack."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(event.topic.name, event.to_bytes(), key=event.key)
    finally:
        await producer.stop()
