"""Webhook → WebSocket push latency and sustained inbound webhooks per second, on the embedded stack."""

import asyncio
import re
import time
from dataclasses import dataclass

import httpx
import websockets

from relay_bench.stats import LatencySummary
from relay_stack import demo
from relay_stack.signing import twilio_signature
from relay_stack.stack import Stack

_MARK = re.compile(r"bench-(\d+)-(\d+)")


@dataclass(frozen=True)
class InboundResult:
    latency: LatencySummary
    sustained_per_second: float
    sustained_count: int
    sustained_concurrency: int
    all_pushed_seconds: float
    first_hundred_per_second: float
    last_hundred_per_second: float


class _PushWatcher:
    """Notes when each benchmark message first shows up on a staff member's WebSocket."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self.arrivals: dict[str, float] = {}
        self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        async for frame in self.connection:
            now = time.perf_counter()
            for run, index in _MARK.findall(frame if isinstance(frame, str) else frame.decode()):
                self.arrivals.setdefault(f"{run}-{index}", now)

    async def wait_for(self, keys: list[str], *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while any(k not in self.arrivals for k in keys):
            if time.monotonic() > deadline:
                missing = [k for k in keys if k not in self.arrivals]
                raise TimeoutError(f"{len(missing)} pushes did not arrive, e.g. {missing[:3]}")
            await asyncio.sleep(0.005)

    def close(self) -> None:
        self._task.cancel()


def _sms(stack: Stack, tenant: demo.DemoTenant, *, phone: str, body: str, sid: str) -> tuple[str, dict, dict]:
    url = f"{stack.gateway_url}/webhooks/{tenant.tenant_id}/twilio/sms"
    form = {"From": phone, "To": tenant.secrets.twilio_phone_number, "Body": body, "MessageSid": sid,
            "AccountSid": tenant.secrets.twilio_account_sid, "NumMedia": "0"}
    headers = {"X-Twilio-Signature": twilio_signature(url=url, params=form, auth_token=tenant.secrets.twilio_auth_token)}
    return url, form, headers


async def measure_inbound(stack: Stack, tenant: demo.DemoTenant, *, latency_samples: int = 200,
                          sustained_count: int = 1000, concurrency: int = 16) -> InboundResult:
    """Sequential webhooks for latency, then a concurrent burst for throughput."""
    async with httpx.AsyncClient(timeout=30) as client:
        signed = await client.post(f"{stack.gateway_url}/api/session",
                                   json={"tenant": tenant.tenant_id, "username": "alice", "password": demo.PASSWORD})
        token = signed.json()["token"]
        async with websockets.connect(stack.gateway_url.replace("http", "ws") + f"/ws?token={token}",
                                      max_size=None) as connection:
            watcher = _PushWatcher(connection)
            try:
                latencies = await _latency_run(client, stack, tenant, watcher, samples=latency_samples)
                burst = await _sustained_run(client, stack, tenant, watcher, count=sustained_count,
                                             concurrency=concurrency)
            finally:
                watcher.close()
    return InboundResult(LatencySummary.of(latencies), burst.rate, sustained_count, concurrency, burst.pushed,
                         burst.rate_of_first(100), burst.rate_of_last(100))


async def _latency_run(client: httpx.AsyncClient, stack: Stack, tenant: demo.DemoTenant, watcher: _PushWatcher,
                       *, samples: int) -> list[float]:
    latencies = []
    for index in range(samples):
        key = f"1-{index}"
        url, form, headers = _sms(stack, tenant, phone=f"+1202555{index % 10000:04d}", body=f"bench-{key} hello",
                                  sid=f"SMbenchlat{index:024d}")
        started = time.perf_counter()
        response = await client.post(url, data=form, headers=headers)
        response.raise_for_status()
        await watcher.wait_for([key], timeout=30)
        latencies.append(watcher.arrivals[key] - started)
    return latencies


@dataclass(frozen=True)
class _Burst:
    started: float
    accepted_at: list[float]  # when each webhook was answered, in order
    pushed: float

    @property
    def rate(self) -> float:
        return len(self.accepted_at) / (self.accepted_at[-1] - self.started)

    def rate_of_first(self, count: int) -> float:
        """Webhooks per second over the first `count` answers of the burst (the store still nearly empty)."""
        count = min(count, len(self.accepted_at))
        return count / (self.accepted_at[count - 1] - self.started)

    def rate_of_last(self, count: int) -> float:
        """Webhooks per second over the last `count` answers of the burst (the store at its fullest)."""
        count = min(count, len(self.accepted_at) - 1)
        return count / (self.accepted_at[-1] - self.accepted_at[-count - 1])


async def _sustained_run(client: httpx.AsyncClient, stack: Stack, tenant: demo.DemoTenant, watcher: _PushWatcher,
                         *, count: int, concurrency: int) -> _Burst:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)

    async def worker() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            url, form, headers = _sms(stack, tenant, phone=f"+1303555{index % 10000:04d}",
                                      body=f"bench-2-{index} burst", sid=f"SMbenchrun{index:024d}")
            response = await client.post(url, data=form, headers=headers)
            response.raise_for_status()
            accepted_at.append(time.perf_counter())

    accepted_at: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await watcher.wait_for([f"2-{i}" for i in range(count)], timeout=120)
    pushed = max(watcher.arrivals[f"2-{i}"] for i in range(count)) - started
    return _Burst(started=started, accepted_at=accepted_at, pushed=pushed)
