"""Every metric a dashboard or an alert reads is exported by the running services, consumer lag included."""

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from relay_stack.polling import eventually
from relay_stack.stack import DEFAULT_PORTS, Stack
from tests.deploy.queries import WRITTEN_BY_PROMETHEUS, alert_expressions, dashboard_queries, metric_names

# A family's sample names: a histogram is queried through its _bucket, _sum and _count series.
_SERIES_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
                    "summary": ("", "_sum", "_count", "_created"), "gauge": ("",), "info": ("_info",)}


def exported_names(exposition: str) -> set[str]:
    """Every series name an exposition offers, also for metrics without any labelled child yet."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in _SERIES_SUFFIXES.get(family.type, ("",)))
    return names


def scrape(relay: Stack, service: str) -> str:
    """One service's /metrics, as Prometheus reads it."""
    response = httpx.get(f"{relay.url(service)}/metrics", timeout=10)
    assert response.status_code == 200, f"{service}: {response.status_code}"
    return response.text


@pytest.fixture(scope="module")
def exported(relay: Stack) -> set[str]:
    """The union of the series names all five services export."""
    return set().union(*(exported_names(scrape(relay, service)) for service in DEFAULT_PORTS))


def test_promql_metric_names_are_read_without_functions_labels_or_durations() -> None:
    expr = ('histogram_quantile(0.99, sum by (le, service) (rate(relay_a_seconds_bucket{route=~"/api/.*"}[5m])))'
            ' / on (job) group_left up or label_replace(absent(up{job="x"} == 1), "job", "x", "", "")'
            ' or vector(0) and relay_b offset 1h')
    assert metric_names(expr) == {"relay_a_seconds_bucket", "up", "relay_b"}


QUERIES = dashboard_queries() + alert_expressions()


@pytest.mark.parametrize(("where", "expr"), QUERIES, ids=[where for where, _ in QUERIES])
def test_every_dashboard_query_and_alert_reads_metrics_the_services_export(
    where: str, expr: str, exported: set[str],
) -> None:
    names = metric_names(expr)
    assert names, f"{where}: the query names no metric: {expr}"
    missing = names - exported - WRITTEN_BY_PROMETHEUS
    assert not missing, f"{where}: no service exports {sorted(missing)}"


async def test_running_services_report_their_consumer_lag_per_group_topic_and_partition(relay: Stack) -> None:
    expected = {("issues", "issues"): {"inbound.messages": 6, "delivery.status": 6, "staff.events": 3},
                ("chat", "chat"): {"staff.events": 3},
                ("ingest", "ingest"): {"outbound.messages": 6}}

    async def every_partition_reported() -> bool:
        partitions: dict[tuple[str, str], dict[str, set[str]]] = {}
        async with httpx.AsyncClient(timeout=10) as client:
            for process in relay.services.values():  # every replica: a group's partitions are spread over them
                exposition = (await client.get(f"{process.url}/metrics")).text
                for family in text_string_to_metric_families(exposition):
                    for sample in family.samples:
                        if sample.name == "relay_consumer_lag" and sample.value >= 0:
                            labels = sample.labels
                            by_topic = partitions.setdefault((labels["service"], labels["group"]), {})
                            by_topic.setdefault(labels["topic"], set()).add(labels["partition"])
        counts = {group: {topic: len(numbers) for topic, numbers in by_topic.items()}
                  for group, by_topic in partitions.items() if group in expected}
        assert counts == expected, counts
        return True

    await eventually(every_partition_reported, timeout=60, interval=0.5,
                     what="relay_consumer_lag for every partition each service's group owns")
