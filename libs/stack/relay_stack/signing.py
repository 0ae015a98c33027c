"""Signing webhooks the way providers do, for the sandbox, the demo and the tests (the sender's side)."""

import base64
import hashlib
import hmac
from collections.abc import Mapping


def twilio_signature(*, url: str, params: Mapping[str, str], auth_token: str) -> str:
    """Twilio's X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by each sorted param name and value."""
    data = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def mailgun_signature(*, timestamp: str, token: str, signing_key: str) -> str:
    """Mailgun's webhook signature: hex HMAC-SHA256 of timestamp followed by token."""
    return hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
