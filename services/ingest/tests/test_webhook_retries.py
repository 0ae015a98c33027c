"""Provider retries: one message recorded and announced once; a retry publishes what an earlier try could not."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from relay_contracts import new_event, parse_event
from relay_contracts.customer_messages import Channel, DeliveryState, OutboundMessageRequested
from relay_ingest import flows, store
from relay_ingest.models import TenantSettings
from relay_ingest.providers.base import ProviderMessage
from relay_ingest.settings import IngestSettings
from relay_kit.errors import Unavailable
from relay_kit.outbox import Outbox, StoredEvent
from relay_kit.standin import StandInClient
from relay_kit.store import apply_indexes
from relay_kit.unit_of_work import UnitOfWork


async def test_twilio_retry_of_the_same_message_sid_is_recorded_once(tenant, topics) -> None:
    form = tenant.sms_form(from_number="+14155550150", body="Do you do alterations?")
    first, second = tenant.post_sms(form), tenant.post_sms(form)
    assert first.status_code == second.status_code == 200
    assert second.text == first.text

    barrier = tenant.sms(from_number="+14155550150", body="barrier")
    assert barrier.status_code == 200
    await topics.wait_for_count(tenant.tenant_id, "inbound.message.received", lambda p: p["text"] == "barrier")
    texts = [e["payload"]["text"] for e in topics.of(tenant.tenant_id, "inbound.message.received")]
    assert texts == ["Do you do alterations?", "barrier"]


async def test_concurrent_retries_are_recorded_once(tenant, topics) -> None:
    form = tenant.sms_form(from_number="+14155550151", body="racing retries")
    responses = await asyncio.gather(*(asyncio.to_thread(tenant.post_sms, form) for _ in range(6)))
    assert {r.status_code for r in responses} == {200}
    assert tenant.sms(from_number="+14155550151", body="barrier").status_code == 200
    await topics.wait_for_count(tenant.tenant_id, "inbound.message.received", lambda p: p["text"] == "barrier")
    assert [e["payload"]["text"] for e in topics.of(tenant.tenant_id)] == ["racing retries", "barrier"]


async def test_mailgun_retry_of_the_same_message_id_is_recorded_once(tenant, topics) -> None:
    fields = {"sender": "retry@example.com", "recipient": "help@sunrise-cleaners.example", "subject": "Hi",
              "body-plain": "first and only", "Message-Id": f"<{uuid.uuid4().hex}@example.com>"}
    first, second = tenant.post_mailgun(fields), tenant.post_mailgun(fields)  # each retry has a new token
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"status": "duplicate", "message_id": first.json()["message_id"]}
    barrier = {**fields, "body-plain": "barrier", "Message-Id": f"<{uuid.uuid4().hex}@example.com>"}
    assert tenant.post_mailgun(barrier).status_code == 200
    await topics.wait_for_count(tenant.tenant_id, "inbound.message.received", lambda p: p["text"] == "barrier")
    assert [e["payload"]["text"] for e in topics.of(tenant.tenant_id)] == ["first and only", "barrier"]


@pytest.fixture
async def desk_with_flaky_broker():
    """The real flows and store code on the in-process database, with a broker that fails its first publish."""
    database = StandInClient()["relay_ingest_test"]
    await apply_indexes(database, store.INDEXES)
    published, failures = [], [1]

    async def publish(stored: StoredEvent) -> None:
        if failures[0]:
            failures[0] -= 1
            raise ConnectionError("broker unavailable")
        published.append(parse_event(stored.body))

    outbox = Outbox(service="ingest", publish=publish, collections=[database[c] for c in store.OUTBOX_COLLECTIONS])
    desk = flows.Desk(database=database, uow=UnitOfWork(outbox), settings=IngestSettings())
    await store.save_tenant(database, tenant_id="acme", settings=TenantSettings(name="Acme"))
    return desk, published


async def test_a_retry_publishes_what_an_earlier_try_could_not(desk_with_flaky_broker) -> None:
    desk, published = desk_with_flaky_broker
    tenant = await store.get_tenant(desk.database, tenant_id="acme")
    message = ProviderMessage(provider="twilio", channel=Channel.SMS, provider_message_id="SM-flaky",
                              from_address="+14155550152", to_address="+15550100000", text="are you open?")

    with pytest.raises(Unavailable):  # the webhook is answered 503: the provider will retry
        await flows.receive(desk=desk, tenant=tenant, message=message, received_at=datetime.now(UTC))
    assert published == []
    assert await store.count_inbound(desk.database, tenant_id="acme") == 1  # recorded, its event pending

    receipt = await flows.receive(desk=desk, tenant=tenant, message=message, received_at=datetime.now(UTC))
    assert receipt.duplicate
    assert [e.payload.text for e in published] == ["are you open?"]
    assert await store.count_inbound(desk.database, tenant_id="acme") == 1
    again = await flows.receive(desk=desk, tenant=tenant, message=message, received_at=datetime.now(UTC))
    assert again.message_id == receipt.message_id and len(published) == 1


async def test_a_reply_whose_state_is_stored_leaves_its_event_to_the_sweeper(desk_with_flaky_broker) -> None:
    desk, published = desk_with_flaky_broker
    request = OutboundMessageRequested(customer_id="cus_1", outbound_id="out_flaky", issue_id="iss_1",
                                       channel=Channel.SMS, to_address="+14155550153", text="Ready",
                                       requested_by="stf_1")

    await flows.send_outbound(desk=desk, event=new_event(request, tenant_id="acme", producer="issues"))  # no raise
    outbound = await store.get_outbound(desk.database, tenant_id="acme", outbound_id="out_flaky")
    assert outbound.status == DeliveryState.FAILED and "No provider" in outbound.reason  # Acme set up no SMS
    assert outbound.has_pending_events and published == []

    assert await desk.uow.outbox.sweep(older_than=timedelta(0)) == 1
    assert [(e.payload.outbound_id, e.payload.status) for e in published] == [("out_flaky", DeliveryState.FAILED)]
