"""Helpers for tests that drive Relay from outside: sign-in, signed webhooks, live WebSocket clients."""

import itertools
import time
from typing import Any

import httpx

from relay_stack import demo
from relay_stack.frames import FrameCollector
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


class LiveClient(FrameCollector):
    """A staff browser tab's WebSocket through the gateway, collecting every frame it is pushed."""


def event_type_of(frame: dict[str, Any]) -> str | None:
    """The event type a pushed frame carries, whatever its envelope."""
    return frame.get("type") or (frame.get("event") or {}).get("type")


def payload_of(frame: dict[str, Any]) -> dict[str, Any]:
    """The event payload a pushed frame carries."""
    return frame.get("payload") or (frame.get("event") or {}).get("payload") or {}
