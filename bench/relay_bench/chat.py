"""Chat: post → delivered to every member of a 50-member channel, and idle WebSockets one notify holds per GiB."""

import asyncio
import re
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import websockets

from relay_bench.stats import LatencySummary
from relay_stack.stack import Stack

TENANT = "bench-chat"
PASSWORD = "bench-password"
_MARK = re.compile(r"chat-bench-(\d+)")


@dataclass(frozen=True)
class Member:
    staff_id: str
    token: str


def sections(stack: Stack) -> list[tuple[str, Callable[[], str]]]:
    """The chat benchmarks, each producing a section of docs/benchmarks.md."""
    return [
        ("chat post -> 50 members", lambda: asyncio.run(_fan_out_section(stack))),
        ("idle WebSocket connections", lambda: asyncio.run(_idle_section(stack))),
    ]


async def _provision(stack: Stack, client: httpx.AsyncClient, count: int) -> list[Member]:
    admin = {"authorization": f"Bearer {stack.admin_token}"}
    (await client.put(f"{stack.gateway_url}/api/admin/tenants/{TENANT}", json={"name": "Bench"},
                      headers=admin)).raise_for_status()
    members = []
    for index in range(count):
        username = f"m{index:02d}"
        (await client.put(f"{stack.gateway_url}/api/admin/tenants/{TENANT}/staff/{username}", headers=admin,
                          json={"display_name": f"Member {index:02d}", "password": PASSWORD,
                                "role": "manager" if index == 0 else "staff"})).raise_for_status()
        signed = await client.post(f"{stack.gateway_url}/api/session",
                                   json={"tenant": TENANT, "username": username, "password": PASSWORD})
        signed.raise_for_status()
        members.append(Member(signed.json()["staff"]["staff_id"], signed.json()["token"]))
    return members


async def _until(probe: Callable, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


async def measure_fan_out(stack: Stack, *, members: int = 50, posts: int = 100) -> LatencySummary:
    """Post one message at a time; time until the last of the channel's members has it on their WebSocket."""
    async with httpx.AsyncClient(timeout=30) as client:
        people = await _provision(stack, client, members)
        author = {"authorization": f"Bearer {people[0].token}"}

        async def chat_knows_everyone() -> bool:
            staff = await client.get(f"{stack.gateway_url}/api/chat/staff", headers=author)
            return staff.status_code == 200 and len(staff.json()["staff"]) >= members

        await _until(chat_knows_everyone, timeout=60, what="chat learned every member")
        channel = await client.post(f"{stack.gateway_url}/api/chat/channels", headers=author, json={
            "name": f"everyone-{time.time_ns()}", "member_ids": [p.staff_id for p in people]})
        channel.raise_for_status()
        conversation_id = channel.json()["conversation_id"]
        arrivals: dict[int, list[float]] = {}
        sockets = [await websockets.connect(stack.gateway_url.replace("http", "ws") + f"/ws?token={p.token}",
                                            max_size=None) for p in people]

        async def listen(socket: websockets.ClientConnection) -> None:
            async for frame in socket:
                if '"chat.message_posted"' in frame:
                    for index in _MARK.findall(frame):
                        arrivals.setdefault(int(index), []).append(time.perf_counter())

        listeners = [asyncio.create_task(listen(s)) for s in sockets]
        try:
            latencies = []
            for index in range(posts):
                started = time.perf_counter()
                (await client.post(f"{stack.gateway_url}/api/chat/conversations/{conversation_id}/messages",
                                   headers=author, json={"text": f"chat-bench-{index}"})).raise_for_status()

                async def everyone_has_it(i: int = index) -> bool:
                    return len(arrivals.get(i, [])) >= members

                await _until(everyone_has_it, timeout=30, what=f"message {index} reached all {members} members")
                latencies.append(max(arrivals[index]) - started)
            return LatencySummary.of(latencies)
        finally:
            for task in listeners:
                task.cancel()
            await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)


def _rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


async def measure_idle_connections(stack: Stack, *, connections: int = 2000) -> tuple[int, float, float]:
    """Open idle WebSockets straight to one notify process; returns (count, RSS growth MiB, connections per GiB)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, connections * 2 + 1024)), hard))
    notify = stack.services["notify"]
    async with httpx.AsyncClient(timeout=30) as client:
        signed = await client.post(f"{stack.gateway_url}/api/session",
                                   json={"tenant": TENANT, "username": "m01", "password": PASSWORD})
        signed.raise_for_status()
        token = signed.json()["token"]
    before = _rss_bytes(notify.process.pid)
    url = notify.url.replace("http", "ws") + "/ws"
    sockets = []
    try:
        for _ in range(connections):
            sockets.append(await websockets.connect(url, max_size=None, ping_interval=None,
                                                    additional_headers={"authorization": f"Bearer {token}"}))
        async with httpx.AsyncClient(timeout=10) as client:
            async def all_registered() -> bool:
                text = (await client.get(f"{notify.url}/metrics")).text
                gauge = re.search(r"^relay_ws_connections(?:\{[^}]*\})? ([0-9.e+]+)$", text, re.M)
                return bool(gauge) and float(gauge.group(1)) >= connections

            await _until(all_registered, timeout=60, what="notify registered every connection")
        grown = _rss_bytes(notify.process.pid) - before
    finally:
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    per_gib = connections / (grown / 2**30) if grown > 0 else float("inf")
    return connections, grown / 2**20, per_gib


async def _fan_out_section(stack: Stack) -> str:
    summary = await measure_fan_out(stack)
    header = "| measurement | samples | median ms | p99 ms | min ms | max ms |\n|---|---|---|---|---|---|"
    return f"""## Chat: post → delivered to every member of a 50-member channel

50 staff members each hold a WebSocket through the gateway; one of them posts a message at a time
through the gateway's API; a sample is the time from the post until the last of the 50 sockets has
received it (chat → outbox → broker → notify → gateway → socket).

{header}
{summary.row("post → all 50 members (sequential posts)")}
"""


async def _idle_section(stack: Stack) -> str:
    count, grown_mib, per_gib = await measure_idle_connections(stack)
    return f"""## Idle WebSocket connections per notify process

{count} idle WebSockets opened straight to one notify process (signed-in, no traffic); its resident memory
grew by {grown_mib:.1f} MiB: **about {per_gib:,.0f} idle connections per GiB** ({grown_mib * 1024 / count:.1f} KiB
each, the Python process's own baseline excluded).
"""
