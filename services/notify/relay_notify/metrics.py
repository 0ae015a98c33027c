"""Notify's own Prometheus metrics (beside relay_kit's HTTP and event metrics)."""

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

CONNECTIONS = Gauge("relay_ws_connections", "Open WebSocket connections (browser tabs) on this replica")
PUSHES = Counter("relay_pushes_total", "Frames queued to browser tabs", ["kind"])
WEBHOOK_TO_PUSH = Histogram(
    "relay_webhook_to_push_seconds", "Customer message: provider webhook received -> pushed to staff tabs",
    buckets=LATENCY_BUCKETS,
)
CHAT_POST_TO_PUSH = Histogram(
    "relay_chat_post_to_push_seconds", "Chat message: posted -> pushed to members' tabs", buckets=LATENCY_BUCKETS,
)
