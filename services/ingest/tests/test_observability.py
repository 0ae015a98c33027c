"""Ingest's health and the metrics the dashboards query."""

import re

import httpx

from relay_contracts.customer_messages import Channel


def _value(metrics: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    match = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", metrics, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_inbound_outbound_and_rejections_are_counted(tenant, topics, reply, fake_twilio) -> None:
    assert httpx.get(f"{tenant.ingest.url}/healthz").json()["status"] == "ok"
    tenant.provision(twilio_api=fake_twilio.url)
    before = httpx.get(f"{tenant.ingest.url}/metrics").text

    assert tenant.sms(from_number="+14155550190", body="count me").status_code == 200
    assert tenant.post_sms(tenant.sms_form(from_number="+14155550190", body="x"), auth_token="bad").status_code == 401
    await reply(tenant_id=tenant.tenant_id, customer_id="cus_m", channel=Channel.SMS, to_address="+14155550190",
                text="counted")
    await topics.wait_for_count(tenant.tenant_id, "delivery.status.changed")

    after = httpx.get(f"{tenant.ingest.url}/metrics").text
    for name, labels in [
        ("relay_inbound_messages_total", {"provider": "twilio", "channel": "sms"}),
        ("relay_webhooks_rejected_total", {"provider": "twilio", "reason": "bad_signature"}),
        ("relay_outbound_messages_total", {"channel": "sms", "status": "sent"}),
    ]:
        assert _value(after, name, **labels) == _value(before, name, **labels) + 1, name
