"""Ingest's own Prometheus metrics (registered once, at import), beside relay_kit's shared ones."""

from prometheus_client import Counter

INBOUND_MESSAGES = Counter(
    "relay_inbound_messages_total", "Customer messages recorded from provider webhooks", ["provider", "channel"]
)
WEBHOOKS_REJECTED = Counter(
    "relay_webhooks_rejected_total", "Provider webhooks refused (signature, credentials, tenant, body)",
    ["provider", "reason"],
)
OUTBOUND_MESSAGES = Counter(
    "relay_outbound_messages_total", "Outbound messages by the delivery state they reached", ["channel", "status"]
)
