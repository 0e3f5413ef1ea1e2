"""Distributed tracing with OpenTelemetry: every span the kit makes, in one place.

W3C trace context (``traceparent``, ``tracestate``) travels in AMQP headers: a message's
handling span is the child of the span that published it (the root of a new trace when it
came without one); the database transaction, each publish and each HTTP request of a read
API get spans of their own. What a transaction writes to the outbox keeps the transaction's
context in the row's ``headers``, so a row the sweeper publishes later still lands in the
trace that wrote it; a delivery (email, webhook) keeps the context of the handling that
queued it, the same way.

Off unless configured by the standard ``OTEL_*`` variables (``configure``, once, at start):
an OTLP/HTTP exporter behind a batch span processor. Off, every function here returns at
its first line, on one boolean: no span objects, no header work.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

# The API is imported anyway (FastStream imports it); the SDK only when tracing is on.
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .envelope import Envelope
from .logging import get_logger

log = get_logger(__name__)

_on = False
_tracer: trace.Tracer = trace.NoOpTracer()
_provider: Any = None

# Probes and scrapes, several a second from every orchestrator: not worth a trace each.
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def wanted(env: Mapping[str, str]) -> bool:
    """Tracing is on when an OTLP endpoint is given and the SDK is not disabled."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def configure(service: str, env: Mapping[str, str] = os.environ) -> bool:
    """Decide, once per process, whether spans are made; True when they are. The SDK reads
    the rest of ``OTEL_*`` itself (endpoint, headers, sampler, batch delays, resource);
    ``service.name`` is the service's unless ``OTEL_SERVICE_NAME`` (or
    ``OTEL_RESOURCE_ATTRIBUTES``) names one."""
    global _on, _tracer, _provider
    if _on or not wanted(env):
        return _on
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider = provider
    _tracer = provider.get_tracer("azl_kit")
    _on = True
    log.info("tracing on", service_name=resource.attributes.get(SERVICE_NAME))
    return True


def enabled() -> bool:
    return _on


def shutdown(timeout_millis: int = 3000) -> None:
    """Export what the batch processor still holds (at the service's stop)."""
    if _provider is not None:
        _provider.force_flush(timeout_millis)


class _Off:
    """The context manager every span function returns when tracing is off: one shared
    object, nothing built."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


_OFF: AbstractContextManager[Any] = _Off()


class _HeaderGetter(Getter[Mapping[str, Any]]):
    """AMQP header values may arrive as bytes."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            return None
        return [value.decode(errors="replace") if isinstance(value, bytes) else str(value)]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return list(carrier)


_GETTER = _HeaderGetter()


def _parent(headers: Mapping[str, Any] | None) -> Context | None:
    """The context a message or a stored row carries; None when it carries none (the
    current context applies then)."""
    if not headers or "traceparent" not in headers:
        return None
    return propagate.extract(headers, getter=_GETTER)


# --- messages -------------------------------------------------------------------------------


def handling(envelope: Envelope) -> AbstractContextManager[Span | None]:
    """The span of one message's handling: the child of its publisher's span, a root when
    the message came without trace context. ``handled`` records its outcome."""
    if not _on:
        return _OFF
    return _tracer.start_as_current_span(
        f"process {envelope.queue}",
        context=propagate.extract(envelope.headers, getter=_GETTER),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "process",
            "messaging.destination.name": envelope.exchange,
            "messaging.rabbitmq.destination.routing_key": envelope.routing_key,
            "messaging.message.id": envelope.raw_message_id or "",
            "messaging.message.conversation_id": envelope.correlation_id or "",
            "azl.message.type": envelope.message_type or "",
            "azl.queue": envelope.queue,
            "azl.delivery_count": envelope.delivery_count,
            "azl.retries": 0,
        },
    )


def handled(span: Span | None, outcome: str) -> None:
    if span is not None:
        span.set_attribute("azl.outcome", outcome)
        if outcome == "dead_lettered":
            span.set_status(Status(StatusCode.ERROR, "dead-lettered"))


def retried(kind: str, attempt: int, delay: float) -> None:
    """A failed attempt of the message being handled, about to be retried."""
    if not _on:
        return
    span = trace.get_current_span()
    span.set_attribute("azl.retries", attempt)
    span.add_event("retry", {"azl.retry.kind": kind, "azl.retry.attempt": attempt, "delay": delay})


def publishing(
    *,
    exchange: str,
    routing_key: str,
    message_type: str | None,
    message_id: str | None,
    headers: MutableMapping[str, Any],
    as_it_came: bool = False,
) -> AbstractContextManager[Span | None]:
    """The span of one publish: the child of the context ``headers`` already carry (an
    outbox row's writer) or else of the current span; its own context is written into
    ``headers`` for the consumer. A message re-published ``as_it_came`` (a dead letter)
    is the current span's child and keeps its headers: replayed, it carries on the trace it
    came from."""
    if not _on:
        return _OFF
    return _publish_span(exchange, routing_key, message_type, message_id, headers, as_it_came)


@contextmanager
def _publish_span(
    exchange: str,
    routing_key: str,
    message_type: str | None,
    message_id: str | None,
    headers: MutableMapping[str, Any],
    as_it_came: bool,
) -> Iterator[Span]:
    with _tracer.start_as_current_span(
        f"publish {exchange}",
        context=None if as_it_came else _parent(headers),
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "send",
            "messaging.destination.name": exchange,
            "messaging.rabbitmq.destination.routing_key": routing_key,
            "messaging.message.id": message_id or "",
            "azl.message.type": message_type or "",
        },
    ) as span:
        if not as_it_came:
            propagate.inject(headers)
        yield span


def context_headers() -> dict[str, str] | None:
    """The current span's context as headers, to store beside work done later (an outbox
    row, a delivery); None when tracing is off."""
    if not _on:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


# --- the database ---------------------------------------------------------------------------


def transaction() -> AbstractContextManager[Span | None]:
    """The span of one unit of work's database transaction."""
    if not _on:
        return _OFF
    return _tracer.start_as_current_span(
        "transaction",
        kind=SpanKind.CLIENT,
        attributes={"db.system.name": "postgresql", "db.operation.name": "transaction"},
    )


# --- deliveries -----------------------------------------------------------------------------


def delivering(
    stored_context: Mapping[str, Any] | None, *, channel: str, attempt: int
) -> AbstractContextManager[Span | None]:
    """The span of one delivery attempt (an email, a webhook), the child of the handling
    that queued the delivery (its stored context)."""
    if not _on:
        return _OFF
    return _tracer.start_as_current_span(
        f"deliver {channel}",
        context=_parent(stored_context),
        kind=SpanKind.CLIENT,
        attributes={"azl.delivery.channel": channel, "azl.delivery.attempt": attempt},
    )


def annotate(**attributes: str | int | float | bool | None) -> None:
    """Attributes on the current span (``azl.`` prefixed), when there is one."""
    if not _on:
        return
    span = trace.get_current_span()
    for name, value in attributes.items():
        if value is not None:
            span.set_attribute(f"azl.{name}", value)


# --- HTTP -----------------------------------------------------------------------------------


class HttpSpans:
    """ASGI middleware: a server span per request of the read APIs, the child of the
    caller's ``traceparent`` when it sends one, named by the route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        request_headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        method = scope.get("method", "GET")
        with _tracer.start_as_current_span(
            method,
            context=_parent(request_headers),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope.get("path", "")},
        ) as span:

            async def send_and_note(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            try:
                await self.app(scope, receive, send_and_note)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.set_attribute("http.route", route)
                    span.update_name(f"{method} {route}")
