"""The demo tenant starts with a day of life: channels and private messages with unread ones, customers with their
orders, issues in all three states with comments and replies; seeding it again changes nothing."""

import time

import httpx

from relay_stack import demo
from relay_stack.sandbox import ProviderSandbox
from relay_stack.stack import Stack
from tests.support import sign_in


def _client(relay: Stack, tenant_id: str, username: str) -> httpx.Client:
    token = sign_in(relay, tenant=tenant_id, username=username)
    return httpx.Client(base_url=relay.gateway_url, headers={"authorization": f"Bearer {token}"}, timeout=15)


def _issues(client: httpx.Client) -> list[dict]:
    return client.get("/api/issues", params={"limit": 200}).json()["issues"]


def _state(relay: Stack, tenant_id: str) -> dict:
    """What the day consists of, as staff see it (message ids, issue states, message counts, templates)."""
    with _client(relay, tenant_id, "alice") as alice:
        conversations = alice.get("/api/chat/conversations").json()["conversations"]
        messages = {c["name"]: [m["message_id"] for m in alice.get(
            f"/api/chat/conversations/{c['conversation_id']}/messages").json()["messages"]] for c in conversations}
        issues = sorted((i["issue_id"], i["status"], i["message_count"]) for i in _issues(alice))
        comments = sorted(str(alice.get(f"/api/issues/{i[0]}").json()["communication"]).count("'kind': ")
                          for i in issues)
    return {"messages": messages, "issues": issues, "entries": comments}


def test_the_demo_day_has_chat_unread_messages_customers_and_issues_in_every_state(
    relay: Stack, provider_sandbox: ProviderSandbox
) -> None:
    tenant_id = "demo-day"
    secrets = demo.ProviderSecrets(twilio_api_base_url=provider_sandbox.twilio_url,
                                   smtp_port=provider_sandbox.smtp_port)
    started = time.monotonic()
    demo.seed(gateway_url=relay.gateway_url, admin_token=relay.admin_token, tenant_id=tenant_id, secrets=secrets)
    first_seed = time.monotonic() - started
    assert first_seed < 45, f"seeding the demo took {first_seed:.1f}s (about 4 s on an idle machine)"

    unread_of: dict[str, int] = {}
    for member in demo.STAFF:
        with _client(relay, tenant_id, member.username) as client:
            mine = client.get("/api/chat/conversations").json()
            names = {c["name"] for c in mine["conversations"]}
            assert {"general", "front-counter", "pressing", "deliveries"} <= names, names
            assert any(c["kind"] == "private" and c["last_seq"] >= 2 for c in mine["conversations"])
            unread_of[member.username] = mine["total_unread"]
    assert all(count > 0 for count in unread_of.values()), unread_of
    with _client(relay, tenant_id, "carol") as carol:  # chat search, through the gateway as the UI calls it
        found = carol.get("/api/chat/search", params={"q": "steam pre"}).json()["results"]
        assert [(hit["conversation_name"], hit["author"]["display_name"]) for hit in found] == [
            ("pressing", "Bob Chen")]
        assert [hit["conversation_kind"] for hit in carol.get(
            "/api/chat/search", params={"q": "hendersons"}).json()["results"]] == ["private"]
    with _client(relay, tenant_id, "bob") as bob:
        assert bob.get("/api/chat/search", params={"q": "hendersons"}).json()["results"] == []

    with _client(relay, tenant_id, "bob") as bob:
        issues = _issues(bob)
        by_status = {status: [i for i in issues if i["status"] == status] for status in ("unassigned", "assigned",
                                                                                          "closed")}
        assert all(by_status.values()), {s: len(found) for s, found in by_status.items()}
        assert {i["status_colour"] for i in issues} == {"red", "blue", "green"}
        unknown = [i for i in by_status["unassigned"] if i["unknown_contact"]]
        assert len(unknown) == 1 and unknown[0]["message_count"] == 2
        assigned = {i["customer_id"]: i["assignee"]["name"] for i in by_status["assigned"]}
        assert assigned == {"cus_priya": "Carol Diaz", "cus_grace": "Bob Chen"}
        assert {i["channel"] for i in by_status["assigned"]} == {"sms", "email"}
        priya_id = next(i["issue_id"] for i in by_status["assigned"] if i["customer_id"] == "cus_priya")
        priya = bob.get(f"/api/issues/{priya_id}").json()
        kinds = [entry["kind"] for entry in priya["communication"]]
        assert kinds.count("private_comment") == 1 and kinds.count("reply") == 1 and kinds[-1] == "customer_message"
        # the customers the tests text stay without an open issue: a new text opens a new one
        open_customers = {i["customer_id"] for i in issues if i["status"] != "closed"}
        assert not open_customers & {"cus_jane", "cus_omar", "cus_mei"}, open_customers

        templates = bob.get("/api/reply-templates")  # where the deployment keeps quick replies, two are there
        if templates.status_code != 404:
            assert templates.status_code == 200, templates.text
            assert {"ready-for-pickup", "running-late"} <= {t["template_id"] for t in templates.json()["templates"]}

        jane = bob.get("/api/customers/cus_jane").json()
        assert jane["account"]["balance"] == "$12.50" and jane["account"]["loyalty_tier"] == "Gold"
        assert "A-1042" in str(jane), jane
    assert any(m.to == "grace.kim@example.com" for m in provider_sandbox.sent)
    assert any(m.to == "+14155550105" and "R-4" in m.body for m in provider_sandbox.sent)

    before = _state(relay, tenant_id)
    started = time.monotonic()
    demo.seed(gateway_url=relay.gateway_url, admin_token=relay.admin_token, tenant_id=tenant_id, secrets=secrets)
    assert time.monotonic() - started < 30, "seeding the demo again took longer than the first time should"
    assert _state(relay, tenant_id) == before
