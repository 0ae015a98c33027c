"""The fault suite's own Relay: every process supervised, data in a folder of its own, its own broker."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from relay_stack import demo
from relay_stack.sandbox import ProviderSandbox
from relay_stack.stack import Stack
from relay_stack.supervisor import Supervisor


@dataclass
class FaultStack:
    """A supervised stack, its demo tenant and what its supervisor reported."""

    stack: Stack
    tenant: demo.DemoTenant
    reports: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    """Not the session's stack: this one is killed, process by process, many times."""
    root = Path(tmp_path_factory.mktemp("faults"))
    reports: list[str] = []

    def report(line: str) -> None:
        reports.append(line)
        print(line, flush=True)

    sandbox = ProviderSandbox(echo=False).start()
    # quick restarts: the suite kills on purpose, many times; a real crash loop still backs off to 2 s
    stack = Stack(log_dir=root / "logs", data_dir=root / "data",
                  supervisor=Supervisor(backoff=0.2, backoff_max=2.0, report=report)).start()
    try:
        secrets = demo.ProviderSecrets(twilio_api_base_url=sandbox.twilio_url, smtp_port=sandbox.smtp_port)
        tenant = demo.seed(gateway_url=stack.gateway_url, admin_token=stack.admin_token, secrets=secrets)
        yield FaultStack(stack=stack, tenant=tenant, reports=reports)
    finally:
        stack.stop()
        sandbox.stop()
