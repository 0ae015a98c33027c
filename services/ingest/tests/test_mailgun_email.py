"""Inbound email through Mailgun routes: signature and freshness, threading headers, the new text only."""

import time
import uuid

QUOTED_REPLY = """Friday afternoon works, thanks!
Can you also press the blue shirt?

Best,
Jane
--
Jane Doe | 415-555-0101

On Mon, Nov 24, 2026 at 10:00 AM Sunrise Dry Cleaners <help@sunrise-cleaners.example> wrote:
> Your suit is ready for pick-up.
> Sunrise Dry Cleaners
"""


def _route_fields(*, message_id: str, sender: str = "jane.doe@example.com", text: str = QUOTED_REPLY,
                  subject: str = "Re: Your suit is ready") -> dict[str, str]:
    return {
        "recipient": "help@sunrise-cleaners.example", "sender": sender,
        "from": f"Jane Doe <{sender.upper()}>", "To": "Sunrise Dry Cleaners <help@sunrise-cleaners.example>",
        "subject": subject, "body-plain": text, "Message-Id": message_id,
        "In-Reply-To": "<relay.out_1.t@sunrise-cleaners.example>",
        "References": "<first@sunrise-cleaners.example> <relay.out_1.t@sunrise-cleaners.example>",
    }


async def test_signed_email_keeps_threading_and_only_the_new_text(tenant, topics) -> None:
    message_id = f"<{uuid.uuid4().hex}@mail.example.com>"
    response = tenant.post_mailgun(_route_fields(message_id=message_id))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "accepted"

    [event] = await topics.wait_for_count(tenant.tenant_id, "inbound.message.received")
    payload = event["payload"]
    assert payload["channel"] == "email" and payload["provider"] == "mailgun"
    assert payload["from_address"] == "jane.doe@example.com"  # lower-cased
    assert payload["to_address"] == "help@sunrise-cleaners.example"
    assert payload["customer_name"] == "Jane Doe"
    assert payload["subject"] == "Re: Your suit is ready"
    assert payload["text"] == "Friday afternoon works, thanks!\nCan you also press the blue shirt?"
    assert payload["provider_message_id"] == message_id
    assert payload["threading"] == {
        "message_id": message_id,
        "in_reply_to": "<relay.out_1.t@sunrise-cleaners.example>",
        "references": ["<first@sunrise-cleaners.example>", "<relay.out_1.t@sunrise-cleaners.example>"],
    }


async def test_stale_future_forged_and_missing_signatures_are_refused(tenant, topics) -> None:
    sender = f"{uuid.uuid4().hex[:8]}@example.com"
    twenty_minutes = 20 * 60

    def attempt(**kwargs) -> int:
        fields = _route_fields(message_id=f"<{uuid.uuid4().hex}@mail.example.com>", sender=sender, text="refuse me")
        return tenant.post_mailgun(fields, **kwargs).status_code

    stale = tenant.post_mailgun(_route_fields(message_id="<stale@x>", sender=sender, text="refuse me"),
                                timestamp=time.time() - twenty_minutes)
    assert stale.status_code == 401
    assert "minutes" in stale.json()["error"]["message"]
    assert attempt(timestamp=time.time() + twenty_minutes) == 401
    assert attempt(signing_key="key-not-the-tenants") == 401
    assert attempt(sign=False) == 401
    assert attempt(timestamp=time.time() - 10 * 60) == 200  # within the 15 minutes allowed

    await topics.wait_for_count(tenant.tenant_id, "inbound.message.received")
    assert len(topics.of(tenant.tenant_id)) == 1


def test_email_without_a_usable_sender_is_rejected(tenant) -> None:
    fields = _route_fields(message_id="<no-sender@x>")
    fields.update({"from": "not an address", "sender": ""})
    response = tenant.post_mailgun(fields)
    assert response.status_code == 400
    assert "sender" in response.json()["error"]["message"]
