"""The read APIs' metrics and access log lines (``ObservedHttp``), on an app of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import structlog
from fastapi import FastAPI, HTTPException
from structlog.testing import capture_logs

from azl_kit.http_access import ObservedHttp
from azl_kit.metrics import Metrics


def _app(metrics: Metrics) -> FastAPI:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, Any]:
        if thing_id == 0:
            raise HTTPException(404, "no such thing")
        return {"thing_id": thing_id, "context": structlog.contextvars.get_contextvars()}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(ObservedHttp, metrics=metrics)
    return app


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest_asyncio.fixture
async def http(metrics: Metrics) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(_app(metrics), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def requests(metrics: Metrics, route: str, status: int, method: str = "GET") -> float | None:
    labels = {"method": method, "route": route, "status": str(status)}
    return metrics.registry.get_sample_value("azl_http_requests_total", labels)


def timed(metrics: Metrics, route: str, status: int) -> float | None:
    labels = {"method": "GET", "route": route, "status": str(status)}
    return metrics.registry.get_sample_value("azl_http_request_duration_seconds_count", labels)


async def test_requests_are_counted_and_timed_by_route_template_and_status(
    http: httpx.AsyncClient, metrics: Metrics
) -> None:
    for path in ("/things/1", "/things/2", "/things/0", "/nowhere/7"):
        await http.get(path)

    assert requests(metrics, "/things/{thing_id}", 200) == 2
    assert requests(metrics, "/things/{thing_id}", 404) == 1
    assert requests(metrics, "unmatched", 404) == 1  # never a series per unknown path
    assert timed(metrics, "/things/{thing_id}", 200) == 2
    assert timed(metrics, "/things/{thing_id}", 404) == 1
    assert metrics.registry.get_sample_value(
        "azl_http_request_duration_seconds_sum",
        {"method": "GET", "route": "/things/{thing_id}", "status": "200"},
    ) == pytest.approx(0.0, abs=5.0)  # a duration, in seconds


async def test_a_route_that_fails_is_counted_as_the_500_the_caller_gets(
    http: httpx.AsyncClient, metrics: Metrics
) -> None:
    with capture_logs() as logs:
        response = await http.get("/broken")

    assert response.status_code == 500
    assert requests(metrics, "/broken", 500) == 1
    [line] = [entry for entry in logs if entry["event"] == "http request"]
    assert line["status"] == 500


async def test_each_request_logs_one_line_with_its_ids(http: httpx.AsyncClient) -> None:
    with capture_logs() as logs:
        response = await http.get(
            "/things/5", headers={"X-Correlation-ID": "corr-42", "X-Request-ID": "req-7"}
        )

    [line] = [entry for entry in logs if entry["event"] == "http request"]
    assert line == {
        "event": "http request",
        "logger_name": "azl.http",
        "log_level": "info",
        "method": "GET",
        "route": "/things/{thing_id}",
        "path": "/things/5",
        "status": 200,
        "duration_ms": line["duration_ms"],
        "request_id": "req-7",
        "correlation_id": "corr-42",
    }
    assert isinstance(line["duration_ms"], float)
    assert response.headers["X-Request-ID"] == "req-7"
    # bound for the request: whatever the route logs carries them too
    context = response.json()["context"]
    assert context["request_id"] == "req-7"
    assert context["correlation_id"] == "corr-42"


async def test_a_request_without_ids_gets_a_new_request_id_and_no_correlation_id(
    http: httpx.AsyncClient,
) -> None:
    with capture_logs() as logs:
        first = await http.get("/things/1")
        second = await http.get("/things/1", headers={"X-Request-ID": "bad id\twith spaces"})

    lines = [entry for entry in logs if entry["event"] == "http request"]
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert [line["request_id"] for line in lines] == ids
    assert len(set(ids)) == 2
    assert all(len(i) == 32 for i in ids)  # new ones: the insane one was not taken
    assert [line["correlation_id"] for line in lines] == [None, None]


async def test_probes_are_counted_but_logged_only_at_debug_level(
    http: httpx.AsyncClient, metrics: Metrics
) -> None:
    with capture_logs() as logs:
        await http.get("/healthz")

    assert requests(metrics, "/healthz", 200) == 1
    assert [entry["log_level"] for entry in logs if entry["event"] == "http request"] == ["debug"]
