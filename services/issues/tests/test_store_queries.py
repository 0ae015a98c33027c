"""The store's search, consent and start-up queries, on the stand-in and (where one runs) on a real MongoDB."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from relay_contracts import new_event
from relay_contracts.customer_messages import Channel, InboundMessageReceived
from relay_issues import domain, flows, store
from relay_kit.standin import StandInClient

T0 = datetime(2026, 11, 30, 15, 4, tzinfo=UTC)


def _message(customer_id: str, text: str, **fields: Any) -> Any:
    fields = {"from_address": "+14155550123", "channel": Channel.SMS, **fields}
    return new_event(InboundMessageReceived(
        customer_id=customer_id, message_id=f"msg_{uuid.uuid4().hex}", provider="twilio",
        provider_message_id=f"SM{uuid.uuid4().hex}", to_address="+15550100000", text=text,
        received_at=datetime.now(UTC), **fields), tenant_id="t1", producer="test")


async def _open(database: Any, customer_id: str, text: str, *, number: int, **fields: Any) -> str:
    change = domain.open_issue(_message(customer_id, text, **fields), number=number, at=domain.now())
    assert await store.write_change(database, change=change)
    return change.after.issue_id


async def _search(database: Any, text: str, *, tenant_id: str = "t1") -> list[str]:
    found = await store.search_issues(database, tenant_id=tenant_id, terms=domain.search_query(text), limit=20)
    return [issue.customer_id for issue in found]


async def test_search_matches_prefixes_of_every_word_numbers_and_emails_in_the_tenant_only(database) -> None:
    await flows.prepare(database)
    await _open(database, "cus_a", "wedding dress", number=1, customer_name="Mei Chen")
    await _open(database, "cus_b", "wedding suit", number=12, channel=Channel.EMAIL, from_address="omar@example.com")
    assert await _search(database, "wed") == ["cus_b", "cus_a"]
    assert await _search(database, "wedding dre") == ["cus_a"]
    assert await _search(database, "#12") == ["cus_b"] and await _search(database, "#1") == ["cus_a"]
    assert await _search(database, "12") == ["cus_b"]
    assert await _search(database, "omar@example.c") == ["cus_b"]
    assert await _search(database, "415 555") == ["cus_a"]
    assert await _search(database, "wedding", tenant_id="t2") == []
    assert await _search(database, "a.b*c(") == []  # regex characters are matched as text


async def test_a_phone_numbers_consent_keeps_the_latest_change_whatever_order_it_arrives_in(database) -> None:
    await flows.prepare(database)
    consent = dict(tenant_id="t1", phone="+14155550123", source="keyword")
    saved = await store.save_sms_consent(database, customer_id="cus_a", opted_out=True, at=T0, **consent)
    assert (saved.applied, saved.previous_customer_id) == (True, None)
    assert await store.sms_opted_out_at(database, tenant_id="t1", customer_id="cus_a") == T0
    again = await store.save_sms_consent(database, customer_id="cus_a", opted_out=True, at=T0, **consent)
    assert (again.applied, again.previous_customer_id) == (True, "cus_a")  # a redelivery: the same state
    later = T0 + timedelta(days=1)
    started = await store.save_sms_consent(database, customer_id="cus_b", opted_out=False, at=later, **consent)
    assert (started.applied, started.previous_customer_id) == (True, "cus_a")
    stale = await store.save_sms_consent(database, customer_id="cus_a", opted_out=True, at=T0, **consent)
    assert stale.applied is False
    assert await store.sms_opted_out_at(database, tenant_id="t1", customer_id="cus_a") is None
    await store.save_sms_consent(database, customer_id="cus_b", opted_out=True, at=later + timedelta(hours=1),
                                 **consent)
    await store.move_sms_consent(database, tenant_id="t1", from_customer_id="cus_b", to_customer_id="cus_c")
    assert await store.sms_opted_out_at(database, tenant_id="t1", customer_id="cus_c") == later + timedelta(hours=1)
    assert await store.sms_opted_out_at(database, tenant_id="t1", customer_id="cus_b") is None


async def test_issues_stored_before_search_existed_get_their_terms_at_start(database) -> None:
    await flows.prepare(database)
    issue_id = await _open(database, "cus_a", "pleated skirt", number=3)
    await database[store.ISSUES].update_one({"_id": issue_id}, {"$unset": {"search_terms": ""}})
    assert await _search(database, "pleated") == []
    await flows.prepare(database)
    assert await _search(database, "pleated") == ["cus_a"]
    assert await store.issue_ids_without_search_terms(database) == []


async def test_consent_and_search_terms_outlive_a_restart_of_the_embedded_store(tmp_path) -> None:
    client = StandInClient(data_dir=tmp_path)
    database = client["relay_issues"]
    await flows.prepare(database)
    await _open(database, "cus_a", "pleated skirt", number=3)
    consent = dict(tenant_id="t1", customer_id="cus_a", phone="+14155550123", source="keyword")
    await store.save_sms_consent(database, opted_out=True, at=T0, **consent)
    assert (await store.save_sms_consent(database, opted_out=False, at=T0 - timedelta(days=1), **consent)).applied \
        is False
    await client.close()

    again = StandInClient(data_dir=tmp_path)["relay_issues"]
    assert await store.sms_opted_out_at(again, tenant_id="t1", customer_id="cus_a") == T0
    assert await _search(again, "pleat") == ["cus_a"]
