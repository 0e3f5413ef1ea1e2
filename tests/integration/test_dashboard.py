"""The Grafana dashboard and the alert rules ask only for series that exist: every metric
their queries name is one the running services export on ``/metrics`` (or, named here,
one Prometheus or RabbitMQ makes: ``up``, the broker's ``rabbitmq_detailed_*``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from .conftest import Platform

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "azl-orders.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"

# Prometheus's own series for each scrape target
PROMETHEUS_SERIES = {"up"}
# RabbitMQ's rabbitmq_prometheus plugin, /metrics/detailed with the families the
# profile's scrape job asks for (deploy/prometheus/prometheus.yml)
RABBITMQ_SERIES = {"rabbitmq_detailed_queue_messages", "rabbitmq_detailed_queue_consumers"}

PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
}  # fmt: skip
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: what is left once strings, label
    matchers, ranges, grouping clauses, function calls and keywords are taken out."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w$.])([A-Za-z_:][\w:]*)\s*(\()?", expr):
        name, called = match.group(1), match.group(2)
        if not called and name.lower() not in PROMQL_WORDS:
            names.add(name)
    return names


def test_metric_names_are_found_in_promql() -> None:
    assert metric_names(
        'histogram_quantile(0.99, sum by (queue, le) (rate(a_seconds_bucket{s=~"$s"}[5m])))'
    ) == {"a_seconds_bucket"}
    assert metric_names(
        'sum(rate(x_total{status=~"5.."}[$__rate_interval])) / on (service) group_left y'
    ) == {"x_total", "y"}
    assert metric_names("min_over_time(b_messages[10m]) > 0 and deriv(b_messages[10m]) > 0") == {
        "b_messages"
    }


def _exported(text: str) -> set[str]:
    """Every series name a scrape of ``text`` can yield (a labelled metric without samples
    yet is announced by its HELP and TYPE lines alone)."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def _dashboard_queries() -> list[str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    queries = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        query = variable["query"]["query"]
        queries.append(re.sub(r"^label_values\(([^,]+),.*\)$", r"\1", query))
    return queries


async def _live_names(platform: Platform) -> set[str]:
    names: set[str] = set()
    for service in platform.services:
        async with platform.http(service) as http:
            response = await http.get("/metrics")
        response.raise_for_status()
        names |= _exported(response.text)
    return names


def _family(name: str) -> str:
    for suffix in ("_bucket", "_count", "_sum", "_total", "_created"):
        name = name.removesuffix(suffix)
    return name


async def test_the_dashboard_asks_only_for_metrics_the_services_export(
    platform: Platform,
) -> None:
    exported = await _live_names(platform)
    queries = _dashboard_queries()
    asked = set().union(*(metric_names(q) for q in queries))

    assert len(queries) >= 15
    assert asked - exported - PROMETHEUS_SERIES == set()
    # and it shows every one of the platform's own metrics
    platform_families = {_family(n) for n in exported if n.startswith("azl_")}
    assert platform_families - {_family(n) for n in asked} == set()


async def test_the_alert_rules_name_only_metrics_that_exist(platform: Platform) -> None:
    """Every ``azl_*`` and ``rabbitmq_*`` name in the rules, wherever it stands (the
    comments aside)."""
    exported = await _live_names(platform)
    rules = "\n".join(line.split("#")[0] for line in ALERTS.read_text().splitlines())
    named = set(re.findall(r"\b(?:azl|rabbitmq)_[a-z_]+", rules))

    assert {"azl_outbox_backlog_messages", "azl_consumer_paused"} <= named
    assert named - exported - RABBITMQ_SERIES == set()
