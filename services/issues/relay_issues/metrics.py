"""The issues service's own metrics: open issues and their age, time to first response and to close."""

from datetime import datetime

from prometheus_client import Gauge, Histogram
from relay_contracts.issues import IssueStatus

_RESPONSE_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)

OPEN_ISSUES = Gauge("relay_open_issues", "Open customer issues by status (all tenants)", ["status"])
OLDEST_OPEN_AGE = Gauge("relay_open_issue_oldest_age_seconds", "Age of the oldest open customer issue (all tenants)")
FIRST_RESPONSE = Histogram("relay_issue_first_response_seconds",
                           "Time from an issue's first customer message to the first reply", buckets=_RESPONSE_BUCKETS)
TIME_TO_CLOSE = Histogram("relay_issue_time_to_close_seconds",
                          "Time from an issue's first customer message to its closing", buckets=_RESPONSE_BUCKETS)


def show_open_issues(*, counts: dict[str, int], oldest_opened_at: datetime | None, now: datetime) -> None:
    """Set the open-issue gauges from a reading of the store."""
    for status in (IssueStatus.UNASSIGNED, IssueStatus.ASSIGNED):
        OPEN_ISSUES.labels(status.value).set(counts.get(status.value, 0))
    OLDEST_OPEN_AGE.set(max(0.0, (now - oldest_opened_at).total_seconds()) if oldest_opened_at else 0.0)
