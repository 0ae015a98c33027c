"""Helpers for tests that drive Relay from outside: sign-in, signed webhooks, live WebSocket clients."""

import asyncio
import itertools
import json
import time
from typing import Any

import httpx
import websockets

from relay_stack import demo
from relay_stack.signing import twilio_signature
from relay_stack.stack import Stack

_sids = itertools.count(1)


def sign_in(relay: Stack, *, tenant: str, username: str, password: str = demo.PASSWORD) -> str:
    """A session token from the gateway's sign-in."""
    response = httpx.post(f"{relay.gateway_url}/api/session",
                          json={"tenant": tenant, "username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def unique_sid() -> str:
    """A fresh Twilio MessageSid."""
    return f"SM{time.time_ns():020d}{next(_sids):012d}"[:34]


def post_twilio_sms(relay: Stack, tenant: demo.DemoTenant, *, from_number: str, body: str,
                    sid: str | None = None, auth_token: str | None = None) -> httpx.Response:
    """POST a Twilio-format inbound SMS to the gateway's public webhook, signed as Twilio signs it."""
    url = f"{relay.gateway_url}/webhooks/{tenant.tenant_id}/twilio/sms"
    form = {"From": from_number, "To": tenant.secrets.twilio_phone_number, "Body": body,
            "MessageSid": sid or unique_sid(), "AccountSid": tenant.secrets.twilio_account_sid, "NumMedia": "0"}
    signature = twilio_signature(url=url, params=form, auth_token=auth_token or tenant.secrets.twilio_auth_token)
    return httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=15)


class LiveClient:
    """A staff browser tab's WebSocket through the gateway, collecting every frame it is pushed."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self.frames: list[dict[str, Any]] = []

    async def next_matching(self, predicate: Any, *, timeout: float = 15.0) -> dict[str, Any]:
        """The first frame (already received or arriving before the deadline) that matches."""
        for frame in self.frames:
            if predicate(frame):
                return frame
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching frame within {timeout}s; got {self.frames[-5:]}")
            try:
                raw = await asyncio.wait_for(self.connection.recv(), timeout=remaining)
            except TimeoutError:
                continue
            frame = json.loads(raw)
            self.frames.append(frame)
            if predicate(frame):
                return frame


def event_type_of(frame: dict[str, Any]) -> str | None:
    """The event type a pushed frame carries, whatever its envelope."""
    return frame.get("type") or (frame.get("event") or {}).get("type")


def payload_of(frame: dict[str, Any]) -> dict[str, Any]:
    """The event payload a pushed frame carries."""
    return frame.get("payload") or (frame.get("event") or {}).get("payload") or {}
