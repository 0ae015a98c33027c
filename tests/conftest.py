"""The whole of Relay, started once per test session on the real embedded broker, with the demo tenant."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from relay_stack import demo
from relay_stack.sandbox import ProviderSandbox
from relay_stack.stack import Stack

@pytest.fixture(scope="session")
def provider_sandbox() -> Iterator[ProviderSandbox]:
    """Fake Twilio API and SMTP server that replies are sent to."""
    sandbox = ProviderSandbox(echo=False).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="session")
def relay(provider_sandbox: ProviderSandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every service as its own process plus the gateway, on a broker of their own.

    Not the session's shared broker: the services' own suites leave their processes consuming it until the
    session ends, and an issues process of theirs would open a second copy of every demo issue.
    """
    log_dir = Path(tmp_path_factory.mktemp("relay-logs"))
    stack = Stack(log_dir=log_dir).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def demo_tenant(relay: Stack, provider_sandbox: ProviderSandbox) -> demo.DemoTenant:
    """The demo tenant, seeded through the gateway's admin API, replies going to the sandbox."""
    secrets = demo.ProviderSecrets(twilio_api_base_url=provider_sandbox.twilio_url,
                                   smtp_port=provider_sandbox.smtp_port)
    return demo.seed(gateway_url=relay.gateway_url, admin_token=relay.admin_token, secrets=secrets)


