"""Tracing: one order placed and paid is one trace across the four service processes.

The services run with tracing on (``OTEL_*``), exporting to an OTLP receiver in the test;
the test's own system starts the trace, as an integrating system that traces does: its
place-order command and its deposit are published inside one span, whose context
``azl_client`` passes on in the AMQP headers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from azl_testing import builders, flows, notifications
from azl_testing.bus import Bus
from azl_testing.infra import Infra
from azl_testing.mail import MailServer
from azl_testing.notifications import subscribe
from azl_testing.otlp import OtlpReceiver, ReceivedSpan
from azl_testing.processes import ServiceProcess
from azl_testing.tokens import bearer
from azl_testing.webhooks import WebhookReceiver
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider

from .conftest import SERVICES, Platform


@pytest.fixture
def collector() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def traced_platform(
    fresh_infra: Infra, tmp_path: Path, mail_server: MailServer, collector: OtlpReceiver
) -> Iterator[Platform]:
    """The four services in a namespace of this test's own, tracing on."""
    tracing = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # milliseconds: spans reach the receiver quickly
    }
    extra = {"notifications": notifications.service_env(mail_server.port)}
    processes = {
        name: ServiceProcess(
            name, fresh_infra, tmp_path, extra_env={**tracing, **extra.get(name, {})}
        ).start()
        for name in SERVICES
    }
    try:
        for process in processes.values():
            process.wait_ready()
        yield Platform(processes)
    finally:
        codes = {name: process.stop() for name, process in processes.items()}
        assert all(code in (0, None) for code in codes.values()), codes


@pytest_asyncio.fixture
async def traced_bus(fresh_infra: Infra, traced_platform: Platform) -> AsyncIterator[Bus]:
    async with Bus(fresh_infra) as client:
        yield client


def _chain(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[ReceivedSpan]:
    """The span and its ancestors up to the first one whose parent was not received."""
    chain = [span]
    while chain[-1].parent_id in by_id:
        chain.append(by_id[chain[-1].parent_id])
    return chain


def _caused_by(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> ReceivedSpan | None:
    """The handling whose work published the message ``span`` handles."""
    return next((s for s in _chain(span, by_id)[1:] if s.kind == "consumer"), None)


def _handling(service: str, message_type: str) -> str:
    return f"{service}: process {message_type}"


def _shown(span: ReceivedSpan) -> str:
    if span.kind == "consumer":
        return _handling(span.service, str(span.attributes["azl.message.type"]))
    return f"{span.service}: {span.name.split(' ')[0]}"


async def test_an_order_placed_and_paid_is_one_trace_across_the_four_services(
    traced_bus: Bus,
    traced_platform: Platform,
    collector: OtlpReceiver,
    webhook_receiver: WebhookReceiver,
) -> None:
    bus = traced_bus
    hook = webhook_receiver.hook()
    await subscribe(bus, hook.url, hook.secret, "fees.fee.charged")

    # not the global provider: the test only needs its span's context passed on
    root = TracerProvider().get_tracer("tests").start_span("customer places and pays")
    with trace.use_span(root, end_on_exit=True):
        customer = builders.customer()
        order = await flows.place(bus, customer)
        await bus.emit(builders.deposit(order.order_id, order.required_deposit))
        # and the customer looks at the ledger, from the same trace, once fees opened it
        # (from the placement, on a queue of its own)
        await bus.wait_for_order("fees.ledger.updated", order.order_id)
        headers = bearer(customer.id)
        propagate.inject(headers)
        async with traced_platform.http("fees") as fees:
            assert (await fees.get(f"/ledgers/{order.order_id}", headers=headers)).is_success
    trace_id = format(root.get_span_context().trace_id, "032x")
    root_id = format(root.get_span_context().span_id, "016x")
    await hook.wait_for(lambda r: r.json["data"]["order_id"] == str(order.order_id), timeout=60)

    def complete(spans: list[ReceivedSpan]) -> bool:
        """The webhook's delivery span is in, and every span of the trace hangs from the
        test's span through spans received (none is waiting for its parent)."""
        ours = [s for s in spans if s.trace_id == trace_id]
        ids = {s.span_id for s in ours} | {root_id}
        names = {s.name for s in ours}
        seen = {"deliver webhook", "GET /ledgers/{order_id}"} <= names
        return seen and all(s.parent_id in ids for s in ours)

    spans = [s for s in await collector.wait_for(complete, timeout=60) if s.trace_id == trace_id]
    by_id = {s.span_id: s for s in spans}

    assert {s.service for s in spans} == set(SERVICES)
    assert not [s for s in spans if s.parent_id == ""], "a second root in the trace"

    # the notification delivered, back to the command that started it all
    [delivery] = [s for s in spans if s.name == "deliver webhook"]
    assert delivery.attributes["azl.delivery_outcome"] == "sent"
    chain = _chain(delivery, by_id)
    assert _shown(chain[1]) == "notifications: transaction", "queued in the handling's"
    # a publish hangs from its handling, or from the transaction that wrote its outbox row
    # when the relay's sweep published it
    path = [_shown(s) for s in chain if s.kind in ("consumer", "producer")]
    assert path == [
        _handling("notifications", "fees.fee.charged.v1"),
        "fees: publish",
        _handling("fees", "orders.order.deposited.v1"),
        "orders: publish",
        _handling("orders", "payments.deposit.received.v1"),
    ]
    assert chain[-1].parent_id == root_id

    # the placement: a child of the test's span, and the parent of what it caused elsewhere
    [placing] = [s for s in spans if _shown(s) == _handling("orders", "orders.place-order.v1")]
    assert placing.parent_id == root_id
    assert placing.attributes["azl.outcome"] == "accepted"
    assert placing.attributes["azl.queue"].endswith(".orders.commands")
    assert "azl.retries" in placing.attributes
    placed_by = {
        s.service
        for s in spans
        if s.kind == "consumer"
        and str(s.attributes["azl.message.type"]).startswith("orders.order.placed")
        and _caused_by(s, by_id) == placing
    }
    assert placed_by == {"fees", "notifications", "complaints"}
    assert any(s.name == "transaction" and s.parent_id == placing.span_id for s in spans), (
        "the placement's database transaction"
    )
