"""/sandbox: play the customer in embedded mode only; the gateway has the provider sandbox sign, never the browser."""

import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from relay_stack.processes import ServiceProcess
from relay_stack.sandbox import ProviderSandbox, Suggestion
from relay_stack.signing import mailgun_signature, twilio_signature
from relay_stack.simulate import Shop
from relay_stack.testing import LoopbackJsonApi

AUTH_TOKEN = "sandbox-page-twilio-token"
SIGNING_KEY = "sandbox-page-mailgun-key"
UNKNOWN = "+12025550143"


class WebhookIngest(LoopbackJsonApi):
    """Ingest's webhook routes as the gateway passes them on: checks each provider signature, keeps what it accepts."""

    def __init__(self) -> None:
        super().__init__()
        self.gateway_url = ""
        self.accepted: list[tuple[str, dict[str, str]]] = []

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        form = dict(urllib.parse.parse_qsl(body.decode()))
        if path.endswith("/twilio/sms"):
            expected = twilio_signature(url=f"{self.gateway_url}{path}", params=form, auth_token=AUTH_TOKEN)
            signed = headers.get("x-twilio-signature") == expected
        elif path.endswith("/mailgun/inbound"):
            signed = form.get("signature") == mailgun_signature(
                timestamp=form.get("timestamp", ""), token=form.get("token", ""), signing_key=SIGNING_KEY)
        else:
            return 404, {"error": {"code": "not_found", "message": "Not Found"}}
        if not signed:
            return 401, {"error": {"code": "bad_signature", "message": "The signature does not match."}}
        self.accepted.append((path, form))
        return 200, {"status": "accepted"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ProviderSandbox]:
    provider_sandbox = ProviderSandbox(echo=False).start()
    yield provider_sandbox
    provider_sandbox.stop()


@pytest.fixture(scope="module")
def webhook_ingest() -> Iterator[WebhookIngest]:
    fake = WebhookIngest().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def embedded_gateway(start_gateway, kafka_bootstrap: str, sandbox: ProviderSandbox,
                     webhook_ingest: WebhookIngest) -> Iterator[ServiceProcess]:
    """A gateway as `relay_stack run` starts it: with the provider sandbox's address, which plays the demo shop."""
    process = start_gateway(kafka_bootstrap=kafka_bootstrap, ingest_url=webhook_ingest.url,
                            env={"RELAY_SANDBOX_URL": sandbox.url})
    webhook_ingest.gateway_url = process.url
    sandbox.connect(Shop(gateway_url=process.url, tenant_id="demo", twilio_account_sid="ACsandboxpage",
                         twilio_auth_token=AUTH_TOKEN, twilio_phone_number="+15550100000",
                         mailgun_signing_key=SIGNING_KEY, email_address="help@shop.example"),
                    suggestions=[Suggestion(UNKNOWN, "sms", "Unknown number"),
                                 Suggestion("jane.doe@example.com", "email", "Jane Doe")])
    yield process
    process.stop()


def test_without_a_sandbox_there_is_no_sandbox_page(gateway: ServiceProcess) -> None:
    for path in ("/sandbox", "/sandbox/sandbox.js", "/sandbox/sandbox.css", "/sandbox/api/addresses",
                 f"/sandbox/api/conversation?address={UNKNOWN}"):
        assert httpx.get(f"{gateway.url}{path}").status_code == 404, path
    sent = httpx.post(f"{gateway.url}/sandbox/api/messages", json={"channel": "sms", "from": UNKNOWN, "text": "hi"})
    assert sent.status_code == 404


def test_the_page_is_one_html_file_a_script_and_a_stylesheet_with_no_secret_and_nothing_inline(
    embedded_gateway: ServiceProcess
) -> None:
    page = httpx.get(f"{embedded_gateway.url}/sandbox")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/sandbox/sandbox.js" defer></script>' in page.text
    assert page.text.count("<script") == 1 and "<style" not in page.text and "style=" not in page.text
    assert not re.search(r"\son[a-z]+\s*=", page.text), "an inline event handler"
    script = httpx.get(f"{embedded_gateway.url}/sandbox/sandbox.js")
    style = httpx.get(f"{embedded_gateway.url}/sandbox/sandbox.css")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    addresses = httpx.get(f"{embedded_gateway.url}/sandbox/api/addresses").json()
    assert [a["address"] for a in addresses["addresses"]] == [UNKNOWN, "jane.doe@example.com"]
    for answer in (page, script, style, httpx.get(f"{embedded_gateway.url}/sandbox/api/addresses")):
        assert AUTH_TOKEN not in answer.text and SIGNING_KEY not in answer.text


def test_sending_as_the_customer_posts_signed_webhooks_and_the_conversation_shows_both_ways(
    embedded_gateway: ServiceProcess, webhook_ingest: WebhookIngest, sandbox: ProviderSandbox
) -> None:
    base = embedded_gateway.url
    sent = httpx.post(f"{base}/sandbox/api/messages",
                      json={"channel": "sms", "from": "(202) 555-0143", "text": "Is my coat ready?"})
    assert sent.status_code == 201, sent.text
    assert sent.json()["address"] == UNKNOWN
    path, form = webhook_ingest.accepted[-1]
    assert path == "/webhooks/demo/twilio/sms"
    assert form["From"] == UNKNOWN and form["To"] == "+15550100000" and form["Body"] == "Is my coat ready?"

    emailed = httpx.post(f"{base}/sandbox/api/messages", json={
        "channel": "email", "from": "Jane.Doe@example.com", "subject": "My coat", "text": "Any news?"})
    assert emailed.status_code == 201, emailed.text
    path, form = webhook_ingest.accepted[-1]
    assert path == "/webhooks/demo/mailgun/inbound"
    assert form["sender"] == "jane.doe@example.com" and form["subject"] == "My coat"
    assert form["body-plain"] == "Any news?"

    # the shop answers through the sandbox's Twilio API, as ingest sends a reply
    reply = httpx.post(f"{sandbox.twilio_url}/2010-04-01/Accounts/ACsandboxpage/Messages.json",
                       data={"To": UNKNOWN, "From": "+15550100000", "Body": "Yes, ready after 4pm."},
                       auth=("ACsandboxpage", AUTH_TOKEN))
    assert reply.status_code == 201
    talk = httpx.get(f"{base}/sandbox/api/conversation", params={"address": "+1 202 555 0143"}).json()
    assert [(m["direction"], m["text"]) for m in talk["messages"]] == [
        ("to_shop", "Is my coat ready?"), ("to_customer", "Yes, ready after 4pm.")]
    assert httpx.get(f"{base}/sandbox/api/conversation",
                     params={"address": "jane.doe@example.com", "channel": "email"}).json()["messages"][0]["text"] \
        == "Any news?"


def test_bad_customer_messages_are_clear_4xx(embedded_gateway: ServiceProcess, webhook_ingest: WebhookIngest) -> None:
    base = embedded_gateway.url
    accepted = len(webhook_ingest.accepted)
    for body in ({"channel": "fax", "from": UNKNOWN, "text": "hi"}, {"channel": "sms", "from": UNKNOWN, "text": ""},
                 {"channel": "sms", "text": "hi"}, {"channel": "sms", "from": UNKNOWN, "text": "x" * 1601}):
        assert httpx.post(f"{base}/sandbox/api/messages", json=body).status_code == 422, body
    for body in ({"channel": "sms", "from": "not a number", "text": "hi"},
                 {"channel": "email", "from": "nobody-at-all", "text": "hi"}):
        refused = httpx.post(f"{base}/sandbox/api/messages", json=body)
        assert refused.status_code == 400 and refused.json()["error"]["message"], refused.text
    assert httpx.get(f"{base}/sandbox/api/conversation", params={"address": "?!?"}).status_code == 400
    assert len(webhook_ingest.accepted) == accepted


def test_production_settings_never_serve_the_sandbox() -> None:
    deploy = Path(__file__).resolve().parents[3] / "deploy"
    naming = [str(path) for path in deploy.rglob("*") if path.is_file() and "SANDBOX" in path.read_text(errors="replace")]
    assert deploy.is_dir() and not naming, naming
