"""A real issues process with a data folder, killed with SIGKILL and started again, has kept everything."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from relay_contracts.customer_messages import Channel, InboundMessageReceived
from relay_contracts.staff import StaffAccountSaved
from relay_kit.auth import StaffPrincipal, issue_token
from relay_kit.journal import JOURNAL
from relay_stack.polling import eventually
from relay_stack.processes import ServiceProcess
from relay_stack.testing import EventPublisher

SECRET = "durable-store-test-secret-of-32-bytes"


@pytest.fixture
async def publisher(kafka_bootstrap: str) -> AsyncIterator[EventPublisher]:
    publisher = EventPublisher(kafka_bootstrap)
    yield publisher
    await publisher.close()


def staff_headers(staff_id: str, *, tenant_id: str) -> dict[str, str]:
    principal = StaffPrincipal(staff_id=staff_id, tenant_id=tenant_id, name=staff_id.title())
    return {"authorization": f"Bearer {issue_token(principal, secret=SECRET)}"}


async def customer_writes(publisher: EventPublisher, *, tenant_id: str, customer_id: str, text: str) -> None:
    await publisher.publish_payload(InboundMessageReceived(
        customer_id=customer_id, message_id=f"msg_{uuid.uuid4().hex}", channel=Channel.SMS, provider="twilio",
        provider_message_id=f"SM{uuid.uuid4().hex}", from_address="+14155550123", to_address="+15550100000",
        text=text, received_at=datetime.now(UTC)), tenant_id=tenant_id, producer="ingest")


async def open_issue_of(http: httpx.AsyncClient, url: str, customer_id: str, headers: dict[str, str]) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        listing = await http.get(f"{url}/api/issues", headers=headers, params={"limit": 200})
        assert listing.status_code == 200, listing.text
        return next((i for i in listing.json()["issues"] if i["customer_id"] == customer_id), None)

    return await eventually(probe, timeout=30, what=f"issue of {customer_id}")


async def test_issues_killed_and_restarted_on_its_data_folder_keeps_issues_numbers_and_staff(
        kafka_bootstrap: str, publisher: EventPublisher, tmp_path: Path) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    alice = staff_headers("alice", tenant_id=tenant)
    process = ServiceProcess("issues", log_dir=tmp_path, env={
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "RELAY_JWT_SECRET": SECRET,
        "RELAY_CONSUMER_GROUP": f"issues-durable-{uuid.uuid4().hex[:8]}",
        "RELAY_DATA_DIR": str(tmp_path / "data" / "issues"),
    }).start()
    try:
        process.wait_ready()
        for staff_id in ("alice", "carol"):
            await publisher.publish_payload(StaffAccountSaved(staff_id=staff_id, username=staff_id,
                                                              display_name=staff_id.title()),
                                            tenant_id=tenant, producer="gateway")
        await customer_writes(publisher, tenant_id=tenant, customer_id="c-first", text="Is my coat ready?")
        async with httpx.AsyncClient(timeout=15) as http:
            first = await open_issue_of(http, process.url, "c-first", alice)

            async def assigned() -> bool:
                response = await http.post(f"{process.url}/api/issues/{first['issue_id']}/assign", headers=alice,
                                           json={"assignee_id": "carol"})
                return response.status_code == 200

            await eventually(assigned, timeout=30, what="carol known from staff events, issue assigned")
            assert (tmp_path / "data" / "issues" / JOURNAL).stat().st_size > 0

            process.kill()  # SIGKILL: no drain, no close
            process.start().wait_ready()

            kept = await http.get(f"{process.url}/api/issues/{first['issue_id']}", headers=alice)
            assert kept.status_code == 200, kept.text
            issue = kept.json()["issue"]
            assert issue["number"] == first["number"] and issue["assignee"]["id"] == "carol"

            await customer_writes(publisher, tenant_id=tenant, customer_id="c-second", text="And my shirts?")
            second = await open_issue_of(http, process.url, "c-second", alice)
            assert second["number"] == first["number"] + 1  # numbering goes on, it does not restart at 1
            # the staff directory is kept: Assign It works at once, without any staff event since the restart
            taken = await http.post(f"{process.url}/api/issues/{second['issue_id']}/assign", headers=alice,
                                    json={"assignee_id": "carol"})
            assert taken.status_code == 200, taken.text
    finally:
        process.stop()
