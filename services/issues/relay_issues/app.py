"""Issues wiring: store, consumers, outbox, gauges and the staff API."""

from typing import Any

from fastapi import FastAPI
from relay_kit.service import Runtime, service_app

from relay_issues import api, consumers, flows, store
from relay_issues.settings import IssuesSettings


def create_runtime(settings: IssuesSettings, *, database: Any | None = None) -> Runtime:
    """The service's connections with its consumers subscribed; `database` lets two consumers share one store."""
    runtime = Runtime(settings)
    if database is not None:
        runtime.database = database
    runtime.use_outbox([store.ISSUES])
    consumers.register(runtime, group_id=settings.consumer_group)
    runtime.background.append(
        lambda: flows.keep_open_issue_gauges_fresh(database=runtime.database, every=settings.metrics_refresh_seconds)
    )
    return runtime


def create_app(settings: IssuesSettings | None = None, *, database: Any | None = None) -> FastAPI:
    """The issues app: consumes inbound.messages, delivery.status and staff.events; publishes issue events."""
    settings = settings or IssuesSettings()
    runtime = create_runtime(settings, database=database)
    return service_app(runtime, title="Relay issues", routers=[api.router], prepare=store.prepare)
