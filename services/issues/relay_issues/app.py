"""Issues wiring: store, unit of work, consumers, declared publishers, gauges and the staff API."""

from fastapi import FastAPI
from relay_contracts.customer_messages import OutboundMessageRequested
from relay_contracts.issues import IssueEvent
from relay_kit.service import Runtime, service_app
from relay_kit.store import Database

from relay_issues import api, consumers, flows, store
from relay_issues.settings import IssuesSettings


def create_runtime(settings: IssuesSettings, *, database: Database | None = None) -> Runtime:
    """The service's connections with its consumers subscribed; `database` lets two consumers share one store."""
    runtime = Runtime(settings)
    if database is not None:
        runtime.database = database
    uow = runtime.use_unit_of_work([store.ISSUES])
    runtime.declare_publishing(IssueEvent, OutboundMessageRequested)
    consumers.register(runtime, uow=uow, group_id=settings.consumer_group)
    runtime.background.append(
        lambda: flows.keep_open_issue_gauges_fresh(database=runtime.database, every=settings.metrics_refresh_seconds)
    )
    return runtime


def create_app(settings: IssuesSettings | None = None, *, database: Database | None = None) -> FastAPI:
    """The issues app: consumes inbound.messages, delivery.status and staff.events; publishes issue events."""
    settings = settings or IssuesSettings()
    runtime = create_runtime(settings, database=database)
    return service_app(runtime, title="Relay issues", routers=[api.router], prepare=flows.prepare)
