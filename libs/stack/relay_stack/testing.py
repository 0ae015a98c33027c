"""What every test suite shares: the real embedded broker, real servers, an event publisher, a topic watch, a staff team."""

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient

from relay_contracts import Envelope, EventPayload, new_event
from relay_contracts.staff import StaffAccountSaved, StaffRole
from relay_contracts.topics import Topic
from relay_kit.auth import StaffPrincipal, issue_token
from relay_kit.standin import StandInClient
from relay_stack import containers
from relay_stack.broker import EmbeddedBroker
from relay_stack.polling import eventually
from relay_stack.ports import free_port


@pytest.fixture(scope="session")
def embedded_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One real Tansu broker for the whole test session, with Relay's topics created."""
    log_path = Path(tmp_path_factory.mktemp("broker")) / "tansu.log"
    broker = EmbeddedBroker(log_path=log_path).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(embedded_broker: EmbeddedBroker) -> str:
    """Bootstrap address of the session's broker."""
    return embedded_broker.bootstrap_servers


@pytest.fixture(scope="session")
def real_mongodb_uri() -> Iterator[str]:
    """A real MongoDB (MONGODB_URI, or a container where Docker runs); skipped, saying why, where neither is."""
    try:
        with containers.real_mongodb() as uri:
            yield uri
    except LookupError as reason:
        pytest.skip(str(reason))


@pytest.fixture(params=["stand-in", pytest.param("mongodb", marks=pytest.mark.docker)])
async def database(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A fresh, empty database: the in-process stand-in, then a real MongoDB 7 (skipped, saying why, without one).
    A suite whose tests need its service's indexes applies them itself."""
    name = f"relay_test_{uuid.uuid4().hex[:10]}"
    if request.param == "stand-in":
        yield StandInClient()[name]
        return
    client = AsyncMongoClient(request.getfixturevalue("real_mongodb_uri"), tz_aware=True)
    try:
        yield client[name]
        await client.drop_database(name)
    finally:
        await client.close()


@pytest.fixture(scope="session")
def real_kafka_bootstrap() -> Iterator[str]:
    """A real Apache Kafka (RELAY_TEST_KAFKA, or a KRaft container where Docker runs); skipped, saying why, where neither is."""
    try:
        with containers.real_kafka() as bootstrap:
            yield bootstrap
    except LookupError as reason:
        pytest.skip(str(reason))


# --- publishing events as another service would ------------------------------------------------


class EventPublisher:
    """Publishes events on their topics under their keys, as their producing service would (acks=all)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None

    async def publish(self, event: Envelope[Any]) -> Envelope[Any]:
        """Publish one event and wait for the broker's ack; returns it."""
        await self.publish_raw(event.topic, event.to_bytes(), key=event.key)
        return event

    async def publish_payload(self, payload: EventPayload, *, tenant_id: str, producer: str = "test") -> Envelope[Any]:
        """Wrap a payload in a fresh envelope and publish it."""
        return await self.publish(new_event(payload, tenant_id=tenant_id, producer=producer))

    async def publish_raw(self, topic: Topic | str, value: bytes, *, key: bytes = b"test") -> None:
        """Publish bytes that need not be an event (an invalid one, for dead-letter tests)."""
        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=False)
            await self._producer.start()
        await self._producer.send_and_wait(topic if isinstance(topic, str) else topic.name, value, key=key)

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


# --- watching topics ---------------------------------------------------------------------------


class TopicWatch:
    """Every event published on some topics from the moment the watch started, read in a thread of its own.

    No consumer group is involved (partitions are assigned and positioned at their end before `start`
    returns), so a watch never takes work from a service's consumers and works from sync and async tests.
    Each event is kept as its decoded JSON, plus `_topic` and `_key`; bytes that are not JSON are kept as
    `{"raw": ..., "headers": ...}`.
    """

    def __init__(self, bootstrap: str, *topics: Topic | str, from_beginning: bool = False) -> None:
        self.bootstrap = bootstrap
        self.topics = [t if isinstance(t, str) else t.name for t in topics]
        self.from_beginning = from_beginning
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._positioned = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._consume()), daemon=True)

    def start(self, *, timeout: float = 30.0) -> "TopicWatch":
        """Start reading; returns once every partition is positioned (so nothing published after is missed)."""
        self._thread.start()
        if not self._positioned.wait(timeout):
            raise TimeoutError(f"watch on {self.topics} not positioned within {timeout}s: {self._failure!r}")
        return self

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
        try:
            await consumer.start()
            partitions: list[TopicPartition] = []
            for name in self.topics:
                found = consumer.partitions_for_topic(name)
                if not found:
                    await consumer.topics()
                    found = consumer.partitions_for_topic(name) or set()
                partitions.extend(TopicPartition(name, p) for p in found)
            consumer.assign(partitions)
            if self.from_beginning:
                await consumer.seek_to_beginning(*partitions)
            else:
                await consumer.seek_to_end(*partitions)
            for partition in partitions:
                await consumer.position(partition)
            self._positioned.set()
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=100)
                with self._lock:
                    for records in batch.values():
                        for record in records:
                            self.events.append(_decoded(record))
        except BaseException as error:  # surfaced by start() and the waits
            self._failure = error
            raise
        finally:
            await consumer.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def seen(self) -> list[dict[str, Any]]:
        """Everything seen so far, in arrival order."""
        with self._lock:
            return list(self.events)

    def of(self, tenant_id: str, event_type: str | None = None) -> list[dict[str, Any]]:
        """Events of one tenant (of one type), in arrival order."""
        return [e for e in self.seen() if e.get("tenant_id") == tenant_id and (
            event_type is None or e.get("type") == event_type)]

    def all_matching(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Every event seen so far that matches."""
        return [e for e in self.seen() if predicate(e)]

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float = 20.0,
                       what: str = "event") -> dict[str, Any]:
        """The first event matching the predicate, waiting for it up to the deadline."""

        async def probe() -> dict[str, Any] | None:
            return next(iter(self.all_matching(predicate)), None)

        return await eventually(probe, timeout=timeout, what=what)

    async def wait_for_count(self, tenant_id: str, event_type: str,
                             predicate: Callable[[dict[str, Any]], bool] = bool, *, count: int = 1,
                             timeout: float = 15.0) -> list[dict[str, Any]]:
        """At least `count` events of the tenant and type whose payload matches, within the deadline."""

        async def arrived() -> list[dict[str, Any]] | None:
            found = [e for e in self.of(tenant_id, event_type) if predicate(e["payload"])]
            return found if len(found) >= count else None

        return await eventually(arrived, timeout=timeout, what=f"{count} {event_type} for {tenant_id}")


def _decoded(record: Any) -> dict[str, Any]:
    try:
        event = json.loads(record.value)
        if not isinstance(event, dict):
            raise ValueError("not an object")
    except ValueError:
        event = {"raw": record.value, "headers": dict(record.headers or [])}
    event["_topic"] = record.topic
    event["_key"] = record.key.decode() if record.key else None
    return event


# --- a team of staff -------------------------------------------------------------------------------


class StaffTeam:
    """Staff of one fresh tenant: announced on staff.events as the gateway does, signed in with tokens.

    `hire` announces accounts (username = the lower-cased first name) and, when a chat service is given,
    waits until chat has each of them in the tenant's general channel.
    """

    def __init__(self, *, bootstrap: str, secret: str, chat_url: str | None = None, tenant_id: str | None = None) -> None:
        self.tenant_id = tenant_id or f"t-{uuid.uuid4().hex[:10]}"
        self.secret = secret
        self.chat_url = chat_url
        self.publisher = EventPublisher(bootstrap)
        self.people: dict[str, StaffPrincipal] = {}
        self.usernames: dict[str, str] = {}
        self._clients: list[httpx.AsyncClient] = []

    async def hire(self, *names: str, role: str = "staff", active: bool = True) -> None:
        """Announce staff accounts as the gateway does; with chat, wait until it has them settled in general."""
        for name in names:
            username = name.split()[0].lower()
            principal = self.people.get(username) or StaffPrincipal(
                staff_id=f"stf_{uuid.uuid4().hex[:12]}", tenant_id=self.tenant_id, name=name, role=StaffRole(role))
            self.people[username] = principal
            self.usernames[principal.staff_id] = username
            await self.publisher.publish_payload(
                StaffAccountSaved(staff_id=principal.staff_id, username=username, display_name=name,
                                  role=StaffRole(role), active=active),
                tenant_id=self.tenant_id, producer="gateway")
        if self.chat_url:
            for name in names:
                await self.wait_in_general(name.split()[0].lower(), present=active)

    async def wait_in_general(self, username: str, *, present: bool = True) -> None:
        """Until the person is (or, seen by a colleague, is no longer) a member of the tenant's general channel."""
        observer = username if present else next(u for u in self.people if u != username)
        client = self.client(observer)
        staff_id = self.people[username].staff_id

        async def settled() -> bool:
            if present:
                body = (await client.get("/api/chat/conversations")).json()
                return any(c["default"] == "general" for c in body.get("conversations", []))
            general = await self.general(client)
            members = (await client.get(f"/api/chat/conversations/{general}/members")).json()["members"]
            return staff_id not in {m["staff_id"] for m in members}

        await eventually(settled, timeout=20, what=f"{username} settled in general")

    async def general(self, client: httpx.AsyncClient | None = None) -> str:
        """The id of the tenant's general channel."""
        client = client or self.client(next(iter(self.people)))
        channels = (await client.get("/api/chat/channels")).json()["channels"]
        return next(c["conversation_id"] for c in channels if c["default"] == "general")

    def id(self, username: str) -> str:
        """The person's staff id."""
        return self.people[username].staff_id

    def token(self, username: str) -> str:
        """A session token for one of the team, as the gateway would sign it."""
        return issue_token(self.people[username], secret=self.secret)

    def headers(self, username: str) -> dict[str, str]:
        """Authorization headers of that person."""
        return {"authorization": f"Bearer {self.token(username)}"}

    def client(self, username: str, *, base_url: str | None = None) -> httpx.AsyncClient:
        """An HTTP client acting as that person (on chat unless another base URL is given)."""
        client = httpx.AsyncClient(base_url=base_url or self.chat_url or "", timeout=15, headers=self.headers(username))
        self._clients.append(client)
        return client

    @staticmethod
    def ok(response: httpx.Response, status: int = 200) -> Any:
        """The JSON body, after checking the status (the body is in the failure message)."""
        assert response.status_code == status, f"{response.status_code}: {response.text}"
        return response.json() if response.content else None

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()
        await self.publisher.close()


# --- another service's or a provider's HTTP API, faked on loopback ----------------------------------


class LoopbackJsonApi:
    """An HTTP API on loopback that answers JSON: every request goes to `handle`, which answers (status, body).

    Subclasses fake a provider's API (Twilio's, Telnyx's) or another service's; each request is also kept in
    `received` as (method, path, headers, body bytes).
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[tuple[str, str, dict[str, str], bytes]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        """The answer to one request; subclasses decide."""
        raise NotImplementedError

    def start(self) -> "LoopbackJsonApi":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.received.append((self.command, self.path, headers, body))
                status, answer = fake.handle(self.command, self.path, body, headers)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 (http.server's naming)

            def log_message(self, *_: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
