"""The audit log in a real browser: an admin reaches it by keyboard and reads who did what, when; a manager
never sees it."""

import re
import uuid

import httpx
from playwright.sync_api import expect

from relay_stack import demo
from relay_stack.stack import Stack
from tests.browser.pages import TIMEOUT_MS


def test_an_admin_reads_the_audit_log_by_keyboard(sign_in, relay: Stack, demo_tenant: demo.DemoTenant) -> None:
    admin = {"authorization": f"Bearer {relay.admin_token}"}
    tenant = demo_tenant.tenant_id
    boss, target = f"boss-{uuid.uuid4().hex[:6]}", f"temp-{uuid.uuid4().hex[:6]}"
    for username, name, role in ((boss, "Bo Boss", "admin"), (target, "Tim Temp", "staff"),
                                 (target, "Tim Temp", "manager")):
        answer = httpx.put(f"{relay.gateway_url}/api/admin/tenants/{tenant}/staff/{username}", headers=admin,
                           json={"display_name": name, "role": role, "password": demo.PASSWORD})
        assert answer.status_code == 200, answer.text

    page = sign_in(boss)
    link = page.get_by_role("link", name="Audit log")
    expect(link).to_be_visible(timeout=TIMEOUT_MS)
    link.focus()
    page.keyboard.press("Enter")
    heading = page.get_by_role("heading", name="Audit log")
    expect(heading).to_be_focused(timeout=TIMEOUT_MS)
    row = page.locator("table.audit tbody tr[data-action='staff.role_changed']").filter(has_text="Tim Temp").first
    expect(row).to_contain_text("admin (token)", timeout=TIMEOUT_MS)
    expect(row).to_contain_text("changed a role")
    expect(row).to_contain_text("staff → manager")
    expect(row.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"), timeout=TIMEOUT_MS)

    manager = sign_in(target)  # a manager now: the log is for admins only
    expect(manager.locator("body")).to_have_attribute("data-live", "on", timeout=TIMEOUT_MS)
    expect(manager.get_by_role("link", name="Audit log")).to_be_hidden()
