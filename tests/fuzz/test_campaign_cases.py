"""The requests a black-box fuzz campaign against the running stack found answering 500, replayed on the fuzz suite's stack.

The generated runs reach these classes only by chance; here each is sent every time.
"""

import time
import uuid

import httpx
import pytest

from relay_stack.signing import mailgun_signature
from relay_stack.stack import Stack
from tests.fuzz.conftest import FuzzTenant


@pytest.mark.parametrize("path", ["/api/issues/%01", "/api/chat/conversations/cnv%7F", "/api/customers/%0a"])
def test_a_percent_encoded_control_character_in_a_path_is_a_4xx(fuzz_stack: Stack, api_tenant: FuzzTenant,
                                                                path: str) -> None:
    answer = httpx.get(f"{fuzz_stack.gateway_url}{path}", headers=api_tenant.staff_headers(), timeout=30)
    assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text[:300])


def test_a_nul_in_a_webhook_tenant_is_a_4xx(fuzz_stack: Stack) -> None:
    answer = httpx.post(f"{fuzz_stack.gateway_url}/webhooks/demo%00/twilio/sms", data={"Body": "hi"}, timeout=30)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])


@pytest.mark.parametrize("path", ["/api/issues/%2e%2e/%2e%2e/metrics", "/api/issues/..%2F..%2Fopenapi.json",
                                  "/api/chat/%2e%2e/%2e%2e/docs"])
def test_dot_segments_and_encoded_separators_are_refused_not_forwarded(fuzz_stack: Stack, api_tenant: FuzzTenant,
                                                                        path: str) -> None:
    answer = httpx.get(f"{fuzz_stack.gateway_url}{path}", headers=api_tenant.staff_headers(), timeout=30)
    assert answer.status_code == 400, (path, answer.status_code, answer.text[:300])


def test_deeply_nested_mailgun_message_headers_are_not_a_5xx(hooks_tenant: FuzzTenant) -> None:
    timestamp, token = str(int(time.time())), uuid.uuid4().hex
    form = {"sender": "nested@customers.example", "recipient": hooks_tenant.secrets.email_from,
            "subject": "nested", "body-plain": "hello", "Message-Id": f"<{uuid.uuid4().hex}@mail.example>",
            "message-headers": "[[" * 500, "timestamp": timestamp, "token": token,
            "signature": mailgun_signature(timestamp=timestamp, token=token,
                                           signing_key=hooks_tenant.secrets.mailgun_signing_key)}
    answer = httpx.post(hooks_tenant.webhook_url("mailgun/inbound"), data=form, timeout=30)
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
