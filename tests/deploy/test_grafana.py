"""The Grafana dashboards load, query the provisioned Prometheus, and show what SREs watch."""

import yaml

from tests.deploy.queries import DEPLOY, alert_rules, dashboard_queries, dashboards, metric_names, panels

DATASOURCE_UID = yaml.safe_load(
    (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"][0]["uid"]


def test_every_panel_has_a_query_on_the_provisioned_prometheus() -> None:
    assert dashboards(), "no dashboard in deploy/grafana/dashboards"
    for name, dashboard in dashboards().items():
        assert dashboard["uid"] and dashboard["title"], name
        ids = [panel["id"] for panel in panels(dashboard)]
        assert len(ids) == len(set(ids)), f"{name}: panel ids repeat"
        for panel in panels(dashboard):
            where = f"{name}: {panel.get('title')}"
            grid = panel["gridPos"]
            assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, where
            if panel["type"] == "row":
                continue
            assert panel["targets"], f"{where} has no query"
            assert panel["datasource"]["uid"] == DATASOURCE_UID, where
            for target in panel["targets"]:
                assert target["expr"].strip(), f"{where}: empty query"
                assert target["datasource"]["uid"] == DATASOURCE_UID, where
    assert len({dashboard["uid"] for dashboard in dashboards().values()}) == len(dashboards())


def test_panels_do_not_overlap() -> None:
    for name, dashboard in dashboards().items():
        taken: dict[tuple[int, int], str] = {}
        for panel in panels(dashboard):
            grid = panel["gridPos"]
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    assert (x, y) not in taken, f"{name}: {panel['title']} overlaps {taken[(x, y)]}"
                    taken[(x, y)] = panel["title"]


def test_dashboards_show_what_sres_watch() -> None:
    shown = set().union(*(metric_names(expr) for _, expr in dashboard_queries()))
    assert {
        "relay_inbound_messages_total",  # inbound rate by provider
        "relay_webhook_to_push_seconds_bucket",  # webhook received -> pushed to staff
        "relay_consumer_lag",  # lag per consumer group
        "relay_open_issues", "relay_open_issue_oldest_age_seconds",  # open issues and their age
        "relay_issue_first_response_seconds_bucket", "relay_issue_time_to_close_seconds_bucket",
        "relay_events_failed_total", "relay_events_dead_lettered_total", "relay_http_requests_total",  # errors
        "relay_http_request_duration_seconds_bucket", "relay_ws_connections", "relay_outbox_pending_events",
    } <= shown


def test_alerts_cover_outages_dead_letters_lag_outbox_latency_and_old_issues() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    watched = {name: metric_names(rule["expr"]) for name, rule in rules.items()}
    for metric in ("up", "relay_events_dead_lettered_total", "relay_consumer_lag", "relay_outbox_pending_events",
                   "relay_webhook_to_push_seconds_bucket", "relay_open_issue_oldest_age_seconds"):
        assert any(metric in names for names in watched.values()), f"no alert on {metric}"
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["annotations"]["summary"], name
