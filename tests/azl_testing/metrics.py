"""A service process's Prometheus metrics (``/metrics``), as a scraper reads them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families


async def metric(base_url: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``; 0 when there is
    none yet (a labelled counter appears on its first increment)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.get("/metrics")
    response.raise_for_status()
    return sum(
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


async def metric_reaches(
    base_url: str,
    name: str,
    at_least: float,
    labels: Mapping[str, str] | None = None,
    *,
    timeout: float = 20.0,
) -> float:
    """Wait until the metric is at least ``at_least``; its value then (or the last one seen,
    which the caller's assertion shows, when the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await metric(base_url, name, **(labels or {}))
        if value >= at_least or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)
