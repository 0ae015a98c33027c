"""What the production files ask of the services: the PromQL of every dashboard panel and alert, and its metrics."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"

# Prometheus writes `up` itself for every target it scrapes; every other name must come from our /metrics.
WRITTEN_BY_PROMETHEUS = frozenset({"up"})
_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
                       "and", "or", "unless", "inf", "nan"})
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_SELECTORS = re.compile(r"\{[^{}]*\}")
_LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (functions, keywords, labels and strings left out)."""
    bare = _LABEL_LISTS.sub(" ", _SELECTORS.sub(" ", _STRINGS.sub(" ", expr)))
    return {name for name, call in _IDENTIFIER.findall(bare) if not call and name.lower() not in _KEYWORDS}


def dashboards() -> dict[str, dict[str, Any]]:
    """Every provisioned dashboard, by file name."""
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard, those inside collapsed rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, expression) of every query on every dashboard."""
    return [(f"{name}: {panel['title']}", target["expr"])
            for name, dashboard in dashboards().items()
            for panel in panels(dashboard)
            for target in panel.get("targets", [])]


def alert_rules() -> list[dict[str, Any]]:
    """Every rule of the Prometheus alert rules file."""
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def alert_expressions() -> list[tuple[str, str]]:
    """(alert name, expression) of every alert."""
    return [(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()]
