"""Headless Debian Chromium driven by Playwright (the browser is Debian's, never downloaded)."""

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from relay_stack import demo
from relay_stack.sandbox import ProviderSandbox
from relay_stack.stack import Stack
from tests.browser import pages

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium per module (sync Playwright holds the main thread's event loop until it stops); skipped, saying why, where Chromium is missing."""
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (make test installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def demo_tenant(relay: Stack, provider_sandbox: ProviderSandbox) -> demo.DemoTenant:
    """The demo data in a tenant of the browser tests' own: what they leave behind (open issues, channels,
    reading positions) never meets the end-to-end tests' expectations of the `demo` tenant."""
    secrets = demo.ProviderSecrets(twilio_api_base_url=provider_sandbox.twilio_url,
                                   smtp_port=provider_sandbox.smtp_port)
    return demo.seed(gateway_url=relay.gateway_url, admin_token=relay.admin_token, tenant_id="demo-browser",
                     secrets=secrets)


@pytest.fixture
def sign_in(browser, relay: Stack, demo_tenant: demo.DemoTenant) -> Iterator[Callable[..., Page]]:
    """Sign demo staff members in, each in their own browser context (options: those of `pages.sign_in`); the
    contexts close after the test."""
    opened = []

    def open_as(username: str, **options: Any) -> Page:
        page = pages.sign_in(browser, relay, username, tenant_id=demo_tenant.tenant_id, **options)
        opened.append(page.context)
        return page

    yield open_as
    for context in opened:
        context.close()
