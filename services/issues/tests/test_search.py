"""Search finds a business's issues by customer name, label, phone, email, number and the words written on them."""

import pytest
from relay_contracts.customer_messages import Channel
from relay_stack.polling import eventually


async def _search(shop, staff, q: str, **params) -> list[str]:
    response = await shop.get("/api/issues/search", staff, q=q, **params)
    assert response.status_code == 200, response.text
    return [issue["customer_id"] for issue in response.json()["results"]]


async def test_search_finds_issues_by_name_phone_email_number_and_words_newest_first(shop) -> None:
    alice = shop.staff("alice", "Alice Martin")
    await shop.customer_writes("cus_s1", "My wedding dress has a stain", name="Mei Núñez", address="+14155550161")
    first = (await shop.open_issue_of("cus_s1", alice))["issue"]
    await shop.customer_writes("cus_s2", "Are you open on Sunday?", channel=Channel.EMAIL,
                               address="Omar.Haddad@Example.com", name="Omar Haddad", subject="Opening hours")
    second = (await shop.open_issue_of("cus_s2", alice))["issue"]
    await shop.customer_writes("cus_s3", "Is the wedding suit ready?", address="+14155550163",
                               label="(415) 555-0163", unknown_contact=True)
    await shop.open_issue_of("cus_s3", alice)

    expected = {
        "mei": ["cus_s1"], "NUNEZ": ["cus_s1"], "núñez": ["cus_s1"], "wedding": ["cus_s3", "cus_s1"],
        "wed dre": ["cus_s1"], "wedding suit": ["cus_s3"], "415 555 0163": ["cus_s3"],
        "(415) 555-0161": ["cus_s1"], "+14155550161": ["cus_s1"], "5550163": ["cus_s3"],
        "omar.haddad@": ["cus_s2"], "omar.haddad@example.com": ["cus_s2"], "sunday": ["cus_s2"],
        "opening": ["cus_s2"], f"#{second['number']}": ["cus_s2"], "stain cleaning": [], "!!!": [],
    }
    found = {q: await _search(shop, alice, q) for q in expected}
    assert found == expected
    assert "cus_s2" in await _search(shop, alice, str(second["number"]))
    assert await _search(shop, alice, "wedding", limit=1) == ["cus_s3"]

    results = (await shop.get("/api/issues/search", alice, q="415 555 0163")).json()["results"]
    assert results[0]["customer_label"] == "(415) 555-0163"
    assert {"issue_id", "number", "status_label", "status_colour", "actions", "summary"} <= set(results[0])
    assert "search_terms" not in results[0]

    rival = shop.staff("alice", "Alice Martin", tenant_id=f"{shop.tenant_id}-rival")
    assert await _search(shop, rival, "wedding") == []

    path = f"/api/issues/{first['issue_id']}"
    assert (await shop.post(f"{path}/replies", alice, {"text": "Ready Friday, spotless"})).status_code == 201
    assert await _search(shop, alice, "spotless") == ["cus_s1"]  # the terms follow every change
    await shop.customer_renamed("cus_s3", name="Lena Park", label="Lena Park")

    async def renamed_found() -> list[str] | None:
        return await _search(shop, alice, "lena park") or None

    assert await eventually(renamed_found, what="the renamed customer found") == ["cus_s3"]


@pytest.mark.parametrize("params", [{"q": ""}, {"q": "   "}, {"q": "x" * 101}, {"q": "suit", "limit": 0},
                                    {"q": "suit", "limit": 51}, {}])
async def test_an_empty_or_oversize_search_is_422(shop, params) -> None:
    response = await shop.get("/api/issues/search", shop.staff("alice"), **params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] in ("invalid_request", "empty_search")
