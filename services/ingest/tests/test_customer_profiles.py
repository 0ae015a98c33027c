"""How staff see a customer: labels in the shop's national format, SMS consent, naming and linking unknown contacts."""

from datetime import datetime

import httpx

from relay_contracts.customer_messages import Channel

UNKNOWN = "+12025550143"


async def _first_message(tenant, topics, *, phone: str, text: str = "Is my coat ready?") -> dict:
    assert tenant.sms(from_number=phone, body=text).status_code == 200
    [event] = await topics.wait_for_count(tenant.tenant_id, "inbound.message.received", lambda p: p["text"] == text)
    return event["payload"]


async def test_an_unknown_number_is_labelled_in_the_shops_national_format_never_by_id(tenant, topics) -> None:
    payload = await _first_message(tenant, topics, phone=UNKNOWN)
    assert payload["customer_label"] == "(202) 555-0143" and payload["customer_name"] is None
    viewed = tenant.customer(payload["customer_id"]).json()
    assert viewed["label"] == "(202) 555-0143" and viewed["unknown_contact"] is True
    assert viewed["sms_opted_out_at"] is None
    [found] = tenant.search("202 555 0143")
    assert found["label"] == "(202) 555-0143"

    tenant.provision(country="gb")  # a shop in the UK: a US number is foreign there
    payload = await _first_message(tenant, topics, phone=UNKNOWN, text="still waiting")
    assert payload["customer_label"] == "+1 202-555-0143"
    uk = await _first_message(tenant, topics, phone="+442079460958", text="hello from London")
    assert uk["customer_label"] == "020 7946 0958"


async def test_a_named_customer_and_an_email_sender_are_labelled_by_name_then_address(tenant, topics) -> None:
    assert tenant.upsert("pos-1", {"name": "Jane  Doe", "phones": [UNKNOWN]}).status_code == 200
    known = await _first_message(tenant, topics, phone=UNKNOWN)
    assert known["customer_label"] == "Jane Doe"
    assert tenant.customer("pos-1").json()["label"] == "Jane Doe"
    email = tenant.post_mailgun({"sender": "sam@example.com", "recipient": tenant.email_from, "subject": "Shirts",
                                 "body-plain": "Open Sunday?", "Message-Id": "<shirts-1@example.com>"})
    assert email.status_code == 200, email.text
    [mail] = await topics.wait_for_count(tenant.tenant_id, "inbound.message.received",
                                         lambda p: p["channel"] == "email")
    assert mail["payload"]["customer_label"] == "sam@example.com"


def test_the_shops_country_must_be_a_country_code(tenant) -> None:
    url = f"{tenant.ingest.url}/api/tenants/{tenant.tenant_id}"
    shown = httpx.get(url, headers=tenant.admin).json()
    assert shown["country"] == "US"
    for junk in ("USA", "ZZ", "1", "", 44):
        refused = httpx.put(url, json={"name": "Shop", "country": junk}, headers=tenant.admin)
        assert refused.status_code == 422, (junk, refused.text)
        assert refused.json()["error"]["problems"][0]["field"] == "country"
    assert httpx.put(url, json={"name": "Shop", "country": "ca"}, headers=tenant.admin).json()["country"] == "CA"


async def test_stop_and_start_announce_the_consent_change_with_the_customer_key(tenant, topics) -> None:
    customer_id = (await _first_message(tenant, topics, phone=UNKNOWN))["customer_id"]
    assert tenant.sms(from_number=UNKNOWN, body="STOP").status_code == 200
    [out] = await topics.wait_for_count(tenant.tenant_id, "customer.consent_changed")
    assert out["_key"] == f"{tenant.tenant_id}:{customer_id}"
    payload = out["payload"]
    assert (payload["customer_id"], payload["phone"], payload["opted_out"], payload["source"]) == (
        customer_id, UNKNOWN, True, "keyword")
    stopped_at = datetime.fromisoformat(payload["at"])
    assert stopped_at.tzinfo is not None
    viewed = tenant.customer(customer_id).json()
    assert viewed["opted_out_sms"] is True
    assert datetime.fromisoformat(viewed["sms_opted_out_at"]) == stopped_at

    assert tenant.sms(from_number=UNKNOWN, body="stop").status_code == 200  # already out: nothing new to say
    assert tenant.sms(from_number=UNKNOWN, body="Start").status_code == 200
    changes = await topics.wait_for_count(tenant.tenant_id, "customer.consent_changed", count=2)
    assert [c["payload"]["opted_out"] for c in changes] == [True, False]
    assert tenant.customer(customer_id).json()["sms_opted_out_at"] is None
    assert topics.of(tenant.tenant_id, "inbound.message.received")[-1]["payload"]["text"] == "Is my coat ready?"


async def test_staff_name_an_unknown_contact_and_its_label_follows(tenant, topics) -> None:
    customer_id = (await _first_message(tenant, topics, phone=UNKNOWN))["customer_id"]
    named = tenant.api("PATCH", f"/api/customers/{customer_id}", json={"name": "  Maria   Lopez "})
    assert named.status_code == 200, named.text
    assert (named.json()["name"], named.json()["label"], named.json()["unknown_contact"]) == (
        "Maria Lopez", "Maria Lopez", True)
    [changed] = await topics.wait_for_count(tenant.tenant_id, "customer.profile_changed")
    assert changed["_key"] == f"{tenant.tenant_id}:{customer_id}"
    assert changed["payload"] == {"customer_id": customer_id, "customer_name": "Maria Lopez",
                                  "customer_label": "Maria Lopez", "merged_into_customer_id": None}
    assert tenant.api("PATCH", f"/api/customers/{customer_id}", json={"name": "Maria Lopez"}).status_code == 200
    later = await _first_message(tenant, topics, phone=UNKNOWN, text="It's Maria")
    assert (later["customer_name"], later["customer_label"]) == ("Maria Lopez", "Maria Lopez")
    assert len(topics.of(tenant.tenant_id, "customer.profile_changed")) == 1  # the same name again is no change


async def test_naming_refuses_bad_bodies_unknown_customers_and_point_of_sale_ones(tenant, topics) -> None:
    customer_id = (await _first_message(tenant, topics, phone=UNKNOWN))["customer_id"]
    for body in ({}, {"name": ""}, {"name": "   "}, {"name": "x" * 121}, {"name": 5}, {"name": "A", "extra": 1}):
        assert tenant.api("PATCH", f"/api/customers/{customer_id}", json=body).status_code == 422, body
    assert tenant.api("PATCH", "/api/customers/cus_nobody", json={"name": "A"}).status_code == 404
    other_tenant = tenant.staff("someone-else")
    assert tenant.api("PATCH", f"/api/customers/{customer_id}", json={"name": "A"},
                      headers=other_tenant).status_code == 404
    assert tenant.upsert("pos-2", {"name": "Point Of Sale"}).status_code == 200
    refused = tenant.api("PATCH", "/api/customers/pos-2", json={"name": "Renamed"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "customer_from_point_of_sale"
    assert httpx.patch(f"{tenant.ingest.url}/api/customers/{customer_id}", json={"name": "A"}).status_code == 401
    assert topics.of(tenant.tenant_id, "customer.profile_changed") == []


async def test_linking_moves_the_contact_and_its_opt_out_into_the_directory_customer(tenant, topics) -> None:
    unknown_id = (await _first_message(tenant, topics, phone=UNKNOWN))["customer_id"]
    assert tenant.sms(from_number=UNKNOWN, body="STOP").status_code == 200
    assert tenant.upsert("pos-9", {"name": "Ravi Patel", "emails": ["ravi@example.com"]}).status_code == 200

    linked = tenant.api("POST", f"/api/customers/{unknown_id}/link", json={"into_customer_id": "pos-9"})
    assert linked.status_code == 200, linked.text
    into = linked.json()
    assert into["customer_id"] == "pos-9" and into["phones"] == [UNKNOWN] and into["opted_out_sms"] is True
    assert into["sms_opted_out_at"] is not None
    merged = tenant.customer(unknown_id).json()
    assert merged["merged_into"] == "pos-9" and merged["phones"] == [] and merged["opted_out_sms"] is False

    [changed] = await topics.wait_for_count(tenant.tenant_id, "customer.profile_changed")
    assert changed["_key"] == f"{tenant.tenant_id}:{unknown_id}"
    assert changed["payload"] == {"customer_id": unknown_id, "customer_name": "Ravi Patel",
                                  "customer_label": "Ravi Patel", "merged_into_customer_id": "pos-9"}
    [carried] = await topics.wait_for_count(tenant.tenant_id, "customer.consent_changed",
                                            lambda p: p["customer_id"] == "pos-9")
    assert (carried["payload"]["opted_out"], carried["payload"]["source"]) == (True, "merge")

    assert tenant.sms(from_number=UNKNOWN, body="START").status_code == 200  # texts now land on the directory customer
    await topics.wait_for_count(tenant.tenant_id, "customer.consent_changed",
                                lambda p: p["customer_id"] == "pos-9" and not p["opted_out"])
    later = await _first_message(tenant, topics, phone=UNKNOWN, text="It's Ravi")
    assert (later["customer_id"], later["customer_label"]) == ("pos-9", "Ravi Patel")

    # the point of sale's next save keeps the linked number
    assert tenant.upsert("pos-9", {"name": "Ravi Patel", "emails": ["ravi@example.com"]}).status_code == 200
    assert tenant.customer("pos-9").json()["phones"] == [UNKNOWN]
    again = await _first_message(tenant, topics, phone=UNKNOWN, text="Me again")
    assert again["customer_id"] == "pos-9"
    # linking again answers the same; linking elsewhere is a conflict
    assert tenant.api("POST", f"/api/customers/{unknown_id}/link",
                      json={"into_customer_id": "pos-9"}).status_code == 200
    assert len(topics.of(tenant.tenant_id, "customer.profile_changed")) == 1


async def test_linking_refuses_itself_merged_customers_unknown_ids_and_bad_bodies(tenant, topics) -> None:
    first = (await _first_message(tenant, topics, phone=UNKNOWN))["customer_id"]
    second = (await _first_message(tenant, topics, phone="+12025550144", text="hi"))["customer_id"]
    assert tenant.upsert("pos-3", {"name": "Ann Lee"}).status_code == 200

    def link(customer_id: str, body: object) -> httpx.Response:
        return tenant.api("POST", f"/api/customers/{customer_id}/link", json=body)

    itself = link(first, {"into_customer_id": first})
    assert itself.status_code == 409 and itself.json()["error"]["code"] == "link_into_itself"
    assert link(first, {"into_customer_id": "pos-nobody"}).status_code == 404
    assert link("cus_nobody", {"into_customer_id": "pos-3"}).status_code == 404
    for body in ({}, {"into_customer_id": ""}, {"into_customer_id": "has space"}, {"into": "pos-3"}, []):
        assert link(first, body).status_code == 422, body
    assert link(first, {"into_customer_id": second}).status_code == 200  # two unknown contacts that are one person
    into_merged = link(second, {"into_customer_id": first})
    assert into_merged.status_code == 409 and into_merged.json()["error"]["code"] == "customer_merged"
    elsewhere = link(first, {"into_customer_id": "pos-3"})
    assert elsewhere.status_code == 409 and elsewhere.json()["error"]["code"] == "customer_merged"
    assert link("pos-3", {"into_customer_id": second}).json()["error"]["code"] == "customer_from_point_of_sale"
    assert tenant.customer(second).json()["phones"] == ["+12025550144", UNKNOWN]


async def test_the_point_of_sale_taking_an_unknown_number_announces_the_merge_and_keeps_its_opt_out(
        tenant, topics, fake_twilio, reply) -> None:
    tenant.provision(twilio_api=fake_twilio.url)
    unknown_id = (await _first_message(tenant, topics, phone=UNKNOWN))["customer_id"]
    assert tenant.sms(from_number=UNKNOWN, body="STOP").status_code == 200
    assert tenant.upsert("pos-5", {"name": "Lee Chan", "phones": [UNKNOWN]}).status_code == 200
    [merged] = await topics.wait_for_count(tenant.tenant_id, "customer.profile_changed")
    assert merged["payload"] == {"customer_id": unknown_id, "customer_name": "Lee Chan", "customer_label": "Lee Chan",
                                 "merged_into_customer_id": "pos-5"}
    assert tenant.customer("pos-5").json()["opted_out_sms"] is True
    refused = await reply(tenant_id=tenant.tenant_id, customer_id="pos-5", channel=Channel.SMS, to_address=UNKNOWN,
                          text="Your order is ready")
    [status] = await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed",
                                           lambda p: p["outbound_id"] == refused.outbound_id)
    assert status["payload"]["status"] == "refused" and fake_twilio.requests == []

    assert tenant.upsert("pos-5", {"name": "Lee Chan-Wong", "phones": [UNKNOWN]}).status_code == 200
    [renamed] = await topics.wait_for_count(tenant.tenant_id, "customer.profile_changed",
                                            lambda p: p["customer_id"] == "pos-5")
    assert (renamed["payload"]["customer_label"], renamed["payload"]["merged_into_customer_id"]) == (
        "Lee Chan-Wong", None)


async def test_a_point_of_sale_save_refused_for_a_conflict_leaves_the_unknown_contact_its_number(tenant,
                                                                                                   topics) -> None:
    unknown_id = (await _first_message(tenant, topics, phone=UNKNOWN))["customer_id"]
    assert tenant.upsert("pos-1", {"name": "Jane Doe", "phones": ["+12025550150"]}).status_code == 200
    clash = tenant.upsert("pos-2", {"name": "Ann Lee", "phones": [UNKNOWN, "+12025550150"]})
    assert clash.status_code == 409
    later = await _first_message(tenant, topics, phone=UNKNOWN, text="still me")
    assert later["customer_id"] == unknown_id and tenant.customer("pos-2").status_code == 404
    assert tenant.customer(unknown_id).json()["phones"] == [UNKNOWN]
    assert topics.of(tenant.tenant_id, "customer.profile_changed") == []
