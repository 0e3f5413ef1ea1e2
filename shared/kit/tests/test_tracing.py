"""Tracing: on only when an OTLP endpoint is configured; off, nothing is built and no
header is touched; on, the trace context travels from publish to handling to the outbox
row and on to the relay's publish of it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from azl_kit import outbox, tracing
from azl_kit.envelope import Envelope
from azl_kit.outgoing import OutgoingMessage
from azl_kit.publisher import Publisher

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        (ENDPOINT, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "true"}, False),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_SERVICE_NAME": "orders"}, False),
    ],
)
def test_tracing_is_on_only_when_an_otlp_endpoint_is_configured(
    env: dict[str, str], on: bool
) -> None:
    assert tracing.wanted(env) is on


def test_off_every_span_is_the_one_shared_no_op_and_no_context_is_made() -> None:
    assert not tracing.enabled()
    headers: dict[str, Any] = {"x-causation-id": "c"}
    spans = [
        tracing.handling(_envelope({})),
        tracing.transaction(),
        tracing.delivering(None, channel="email", attempt=1),
        tracing.publishing(
            exchange="ns.events",
            routing_key="k",
            message_type="t",
            message_id="m",
            headers=headers,
        ),
    ]
    assert all(span is spans[0] for span in spans)
    with spans[0] as span:
        assert span is None
    assert headers == {"x-causation-id": "c"}
    assert tracing.context_headers() is None
    [*_, stored_headers, _] = outbox.row_arrays([_message()])
    assert stored_headers == ["{}"]


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Tracing on, with a provider of the test's own (the global one is left alone)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_on", True)
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("tests"))
    yield exporter
    provider.shutdown()


class _Exchange:
    def __init__(self) -> None:
        self.headers: list[dict[str, Any]] = []

    async def publish(self, message: Any, **_: Any) -> None:
        self.headers.append(dict(message.headers))


def _publisher() -> tuple[Publisher, _Exchange]:
    exchange = _Exchange()
    publisher = Publisher("orders")
    publisher.bind({"ns.events": exchange})  # type: ignore[dict-item]
    return publisher, exchange


def _message(headers: dict[str, Any] | None = None) -> OutgoingMessage:
    return OutgoingMessage(
        exchange="ns.events",
        routing_key="orders.order.placed",
        message_type="orders.order.placed.v2",
        body=b"{}",
        correlation_id="flow",
        headers=headers or {},
    )


def _envelope(headers: dict[str, Any]) -> Envelope:
    return Envelope(
        queue="ns.fees.order-events",
        body=b"{}",
        raw_message_id="m1",
        message_id=None,
        correlation_id="flow",
        message_type="orders.order.placed.v2",
        reply_to=None,
        content_type="application/json",
        app_id="orders",
        exchange="ns.events",
        routing_key="orders.order.placed",
        headers=headers,
        delivery_count=0,
        properties={},
    )


def _span_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.span_id, "016x")


def _parent_id(span: ReadableSpan) -> str | None:
    return None if span.parent is None else format(span.parent.span_id, "016x")


def _named(exporter: InMemorySpanExporter, prefix: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith(prefix)]


async def test_a_published_message_carries_its_publish_span_to_the_handling_span(
    exported: InMemorySpanExporter,
) -> None:
    publisher, exchange = _publisher()
    await publisher.publish(_message())
    [published] = exchange.headers
    with tracing.handling(_envelope(published)) as span:
        tracing.retried("conflict", 1, 0.1)
        tracing.handled(span, "applied")

    [publish] = _named(exported, "publish ns.events")
    [handling] = _named(exported, "process ns.fees.order-events")
    assert publish.kind is trace.SpanKind.PRODUCER
    assert published["traceparent"].split("-")[2] == _span_id(publish)
    assert _parent_id(handling) == _span_id(publish)
    assert handling.attributes is not None
    assert handling.attributes["azl.outcome"] == "applied"
    assert handling.attributes["azl.retries"] == 1
    assert handling.attributes["azl.message.type"] == "orders.order.placed.v2"


async def test_a_message_without_trace_context_starts_a_trace(
    exported: InMemorySpanExporter,
) -> None:
    with tracing.handling(_envelope({})):
        pass
    [handling] = exported.get_finished_spans()
    assert handling.parent is None


async def test_an_outbox_row_keeps_its_writer_and_its_late_publish_is_the_writers_child(
    exported: InMemorySpanExporter,
) -> None:
    """As the sweeper publishes a row left behind: from the row's headers."""
    with tracing.transaction():
        [*_, stored_headers, _] = outbox.row_arrays([_message({"kept": "yes"})])
    row_headers = json.loads(stored_headers[0])
    publisher, exchange = _publisher()
    await publisher.publish(_message(row_headers))

    [writer] = _named(exported, "transaction")
    [publish] = _named(exported, "publish")
    assert row_headers["kept"] == "yes"
    assert _parent_id(publish) == _span_id(writer)
    assert exchange.headers[0]["traceparent"].split("-")[2] == _span_id(publish)


async def test_a_dead_letter_keeps_the_context_it_came_with(
    exported: InMemorySpanExporter,
) -> None:
    publisher, exchange = _publisher()
    came_with = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    with tracing.handling(_envelope(came_with)):
        await publisher.publish_raw(
            b"{}", exchange="ns.events", routing_key="k", properties={}, headers=dict(came_with)
        )
    [letter] = _named(exported, "publish")
    [handling] = _named(exported, "process")
    assert exchange.headers == [came_with]
    assert _parent_id(letter) == _span_id(handling)


async def test_a_read_api_request_is_a_server_span_named_by_its_route(
    exported: InMemorySpanExporter,
) -> None:
    app = FastAPI()

    @app.get("/ledgers/{order_id}")
    async def ledger(order_id: str) -> dict[str, str]:
        return {"order_id": order_id}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(tracing.HttpSpans)
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        assert (await client.get("/ledgers/o-1", headers={"traceparent": caller})).is_success
        assert (await client.get("/healthz")).is_success

    [request] = exported.get_finished_spans()
    assert request.name == "GET /ledgers/{order_id}"
    assert request.kind is trace.SpanKind.SERVER
    assert _parent_id(request) == "b7ad6b7169203331"
    assert request.attributes is not None
    assert request.attributes["http.response.status_code"] == 200
