"""The customer directory: point-of-sale upserts and imports, one customer per person, tenants kept apart."""

import asyncio
import json
import uuid

import httpx

JANE = {"name": "Jane Doe", "phones": ["(415) 555-0101"], "emails": [" Jane.Doe@Example.COM "],
        "account": {"balance": "$12.50", "open_orders": 2, "loyalty_tier": "Gold"}}


def test_tenant_provisioning_needs_the_admin_token_and_masks_secrets(tenant) -> None:
    url = f"{tenant.ingest.url}/api/tenants/{tenant.tenant_id}"
    assert httpx.get(url).status_code == 403
    assert httpx.get(url, headers=tenant.staff()).status_code == 403
    shown = httpx.get(url, headers=tenant.admin).json()
    assert shown["name"] == "Sunrise Dry Cleaners"
    assert shown["twilio"]["auth_token"].startswith("****") and tenant.twilio_token not in json.dumps(shown)
    assert shown["twilio"]["phone_number"] == "+15550100000"
    assert httpx.get(f"{tenant.ingest.url}/api/tenants/nobody-here", headers=tenant.admin).status_code == 404
    invalid = httpx.put(url, json={"name": "X", "twilio": {"account_sid": "AC1"}}, headers=tenant.admin)
    assert invalid.status_code == 422


def test_point_of_sale_upserts_a_customer_that_staff_can_view(tenant) -> None:
    assert httpx.put(f"{tenant.ingest.url}/api/customers/cus_jane", params={"tenant_id": tenant.tenant_id},
                     json=JANE).status_code == 403
    saved = tenant.upsert("cus_jane", JANE)
    assert saved.status_code == 200, saved.text
    viewed = tenant.customer("cus_jane").json()
    assert viewed["phones"] == ["+14155550101"] and viewed["emails"] == ["jane.doe@example.com"]
    assert viewed["account"] == JANE["account"]
    assert viewed["unknown_contact"] is False and viewed["opted_out_sms"] is False
    assert httpx.get(f"{tenant.ingest.url}/api/customers/cus_jane").status_code == 401

    assert [c["customer_id"] for c in tenant.search("jane")] == ["cus_jane"]
    assert [c["customer_id"] for c in tenant.search("415-555-0101")] == ["cus_jane"]
    assert [c["customer_id"] for c in tenant.search("doe@example")] == ["cus_jane"]
    assert tenant.search("nobody") == []

    bad = tenant.upsert("cus_bad", {"name": "Bad", "phones": ["12"]})
    assert bad.status_code == 400 and "phone" in bad.json()["error"]["message"]
    assert tenant.upsert("cus_bad", {"name": "Bad", "emails": ["not-an-email"]}).status_code == 400


async def test_texts_and_emails_from_one_person_land_on_one_customer(tenant, topics) -> None:
    assert tenant.upsert("cus_jane", JANE).status_code == 200
    assert tenant.sms(from_number="+1 415 555 0101", body="Is my suit ready?").status_code == 200
    email = tenant.post_mailgun({"sender": "jane.doe@example.com", "recipient": tenant.email_from,
                                 "subject": "Suit", "body-plain": "Also, the tie?",
                                 "Message-Id": f"<{uuid.uuid4().hex}@example.com>"})
    assert email.status_code == 200
    events = await topics.wait_for_count(tenant.tenant_id, "inbound.message.received", count=2)
    assert {(e["payload"]["channel"], e["payload"]["customer_id"]) for e in events} == {
        ("sms", "cus_jane"), ("email", "cus_jane")}
    assert all(e["payload"]["customer_name"] == "Jane Doe" and not e["payload"]["unknown_contact"] for e in events)


async def test_unknown_contact_is_created_and_later_claimed_by_the_point_of_sale(tenant, topics) -> None:
    phone = "+14155550180"
    assert tenant.sms(from_number=phone, body="Hi, new here").status_code == 200
    [first] = await topics.wait_for_count(tenant.tenant_id, "inbound.message.received")
    unknown_id = first["payload"]["customer_id"]
    assert first["payload"]["unknown_contact"] is True
    assert tenant.customer(unknown_id).json()["unknown_contact"] is True

    assert tenant.upsert("cus_pos_7", {"name": "Ravi Patel", "phones": [phone]}).status_code == 200
    assert tenant.sms(from_number=phone, body="It's Ravi").status_code == 200
    [second] = await topics.wait_for_count(tenant.tenant_id, "inbound.message.received",
                                           lambda p: p["text"] == "It's Ravi")
    assert second["payload"]["customer_id"] == "cus_pos_7" and second["payload"]["customer_name"] == "Ravi Patel"
    old = tenant.customer(unknown_id).json()
    assert old["merged_into"] == "cus_pos_7" and old["phones"] == []


def test_an_address_of_another_known_customer_is_a_conflict_and_changes_nothing(tenant) -> None:
    assert tenant.upsert("cus_jane", JANE).status_code == 200
    clash = tenant.upsert("cus_other", {"name": "Other", "phones": ["+14155550199", "+14155550101"]})
    assert clash.status_code == 409
    assert "cus_jane" in clash.json()["error"]["message"]
    assert tenant.customer("cus_other").status_code == 404
    assert tenant.upsert("cus_third", {"name": "Third", "phones": ["+14155550199"]}).status_code == 200


async def test_concurrent_first_messages_from_a_new_number_make_one_customer(tenant, topics) -> None:
    phone = "+14155550181"
    responses = await asyncio.gather(*(asyncio.to_thread(tenant.sms, from_number=phone, body=f"message {n}")
                                       for n in range(8)))
    assert {r.status_code for r in responses} == {200}
    events = await topics.wait_for_count(tenant.tenant_id, "inbound.message.received", count=8)
    assert len({e["payload"]["customer_id"] for e in events}) == 1
    assert len(tenant.search(phone)) == 1


def test_csv_import_applies_good_lines_and_reports_bad_ones(tenant) -> None:
    csv_text = (
        "customer_id,name,phones,emails,balance,loyalty_tier\n"
        "cus_a,Ann Lee,+14155550111;(415) 555-0112,ann@example.com,$5.00,Gold\n"
        "cus_b,,+14155550113,,$0.00,\n"
        "cus_c,Cal Ortiz,not-a-phone,,,\n"
        "cus_d,Dee Moss,,DEE@EXAMPLE.COM,$1.00,Silver\n"
    )
    response = httpx.post(f"{tenant.ingest.url}/api/customers/import", params={"tenant_id": tenant.tenant_id},
                          content=csv_text, headers={**tenant.admin, "content-type": "text/csv"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["applied"], report["failed"]) == (2, 2)
    assert [e["line"] for e in report["errors"]] == [3, 4]
    assert "name" in report["errors"][0]["error"] and "not-a-phone" in report["errors"][1]["error"]
    ann = tenant.customer("cus_a").json()
    assert ann["phones"] == ["+14155550111", "+14155550112"]
    assert ann["account"] == {"balance": "$5.00", "loyalty_tier": "Gold"}
    assert tenant.customer("cus_d").json()["emails"] == ["dee@example.com"]
    assert tenant.customer("cus_b").status_code == 404


def test_json_lines_import_applies_good_lines_and_reports_bad_ones(tenant) -> None:
    lines = [
        json.dumps({"customer_id": "cus_e", "name": "Eve Stone", "emails": ["eve@example.com"],
                    "account": {"open_orders": 1}}),
        "{not json",
        "",
        json.dumps({"customer_id": "cus_f", "name": "Fay", "phones": ["+14155550120"], "unexpected": 1}),
        json.dumps({"customer_id": "cus_g", "name": "Gus", "phones": ["+14155550121"]}),
    ]
    response = httpx.post(f"{tenant.ingest.url}/api/customers/import", params={"tenant_id": tenant.tenant_id},
                          content="\n".join(lines), headers={**tenant.admin, "content-type": "application/x-ndjson"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["applied"], report["failed"]) == (2, 2)
    assert [e["line"] for e in report["errors"]] == [2, 4]
    assert tenant.customer("cus_e").json()["account"] == {"open_orders": 1}
    assert tenant.customer("cus_g").json()["phones"] == ["+14155550121"]
    wrong_type = httpx.post(f"{tenant.ingest.url}/api/customers/import", params={"tenant_id": tenant.tenant_id},
                            content="x", headers={**tenant.admin, "content-type": "application/pdf"})
    assert wrong_type.status_code == 415


def test_another_tenants_customer_is_not_found(tenant, make_tenant) -> None:
    assert tenant.upsert("cus_jane", JANE).status_code == 200
    other = make_tenant()
    response = httpx.get(f"{tenant.ingest.url}/api/customers/cus_jane", headers=other.staff())
    assert response.status_code == 404
    assert other.search("Jane") == []
    assert tenant.customer("cus_jane").status_code == 200
    unknown = httpx.put(f"{tenant.ingest.url}/api/customers/cus_x", params={"tenant_id": "no-such-tenant"},
                        json=JANE, headers=tenant.admin)
    assert unknown.status_code == 404
