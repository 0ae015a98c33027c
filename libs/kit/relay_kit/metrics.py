"""Prometheus metrics every service exports, under names the dashboards query."""

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

HTTP_REQUESTS = Counter(
    "relay_http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "relay_http_request_duration_seconds", "HTTP request handling time", ["service", "method", "route"]
)
EVENTS_CONSUMED = Counter(
    "relay_events_consumed_total", "Events handled successfully", ["service", "topic", "type"]
)
EVENTS_PRODUCED = Counter(
    "relay_events_produced_total", "Events acknowledged by the broker", ["service", "topic", "type"]
)
EVENTS_FAILED = Counter(
    "relay_events_failed_total", "Event handling failures (will be redelivered)", ["service", "topic"]
)
EVENTS_DEAD_LETTERED = Counter(
    "relay_events_dead_lettered_total", "Invalid events sent to a dead-letter topic", ["service", "topic"]
)
HANDLER_LATENCY = Histogram(
    "relay_event_handler_duration_seconds", "Event handler time", ["service", "topic"]
)
EVENT_AGE = Histogram(
    "relay_event_age_seconds",
    "Time from an event's occurrence to its handling here",
    ["service", "topic"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
OUTBOX_PENDING = Gauge(
    "relay_outbox_pending_events", "Stored changes whose event is not yet published", ["service"]
)
CONSUMER_LAG = Gauge(
    "relay_consumer_lag",
    "Events waiting for this consumer: the partition's newest offset minus the consumer's position",
    ["service", "group", "topic", "partition"],
)


def install_http_metrics(app: FastAPI, *, service: str) -> None:
    """Count and time every HTTP request by route template (not raw path: bounded labels)."""

    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(service, request.method, template, str(response.status_code)).inc()
        HTTP_LATENCY.labels(service, request.method, template).observe(time.perf_counter() - started)
        return response


def metrics_response() -> Response:
    """The Prometheus exposition of this process's metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
