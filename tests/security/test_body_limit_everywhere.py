"""Every service refuses a body over `RELAY_MAX_BODY_BYTES` while it streams in (chunked, no Content-Length)."""

from collections.abc import Iterator

import httpx
import pytest

from relay_ingest.settings import IngestSettings
from relay_kit.settings import ServiceSettings
from relay_stack.stack import Stack

LIMITS = {"gateway": ServiceSettings().max_body_bytes, "ingest": IngestSettings().max_body_bytes,
          "issues": ServiceSettings().max_body_bytes, "chat": ServiceSettings().max_body_bytes,
          "notify": ServiceSettings().max_body_bytes}


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


@pytest.mark.parametrize("service", list(LIMITS))
def test_a_chunked_body_over_the_limit_is_refused_by_every_service(relay: Stack, service: str) -> None:
    path = "/webhooks/demo/twilio/sms" if service in ("gateway", "ingest") else "/api/anything"
    answer = httpx.post(f"{relay.url(service) if service != 'gateway' else relay.gateway_url}{path}",
                        content=_chunks(2 * LIMITS[service]), headers={"content-type": "application/x-www-form-urlencoded"},
                        timeout=30)
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "payload_too_large"
