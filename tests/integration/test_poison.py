"""Messages that can never be processed end in the DLQ with a reason; the service goes on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import pytest
import pytest_asyncio
from azl_testing import builders, flows
from azl_testing.bus import Bus
from azl_testing.infra import Infra

from azl_contracts import fees as f
from azl_contracts import versions
from azl_kit import service
from azl_kit.handlers import Handlers
from azl_kit.service import ServiceDefinition, ServiceRuntime
from fees.app import MIGRATIONS
from fees.catalog import load_catalogs
from fees.handlers import build_handlers
from fees.settings import FeesSettings
from fees.storage import FeesUnitOfWork

DLQ = "orders.commands.dlq"


async def test_schema_invalid_command_is_dead_lettered_and_rejected(bus: Bus) -> None:
    command = json.loads(builders.place_order(builders.customer()).model_dump_json())
    command["items"][0]["quantity"] = 0
    reply = await bus.request_raw(
        json.dumps(command).encode(),
        routing_key="orders.place-order",
        message_type="orders.place-order.v1",
    )
    outcome = reply.json
    assert outcome["status"] == "rejected"
    assert outcome["reason_code"] == "validation_error"
    assert any(e["loc"] == "items.0.quantity" for e in outcome["details"]["errors"])
    rejected = await bus.wait_for(
        "orders.command.rejected", lambda e: e.json["command_id"] == outcome["command_id"]
    )
    assert rejected[0].json["reason_code"] == "validation_error"

    dead = await _dead_letter(bus, outcome["command_id"])
    assert dead.headers["x-azl-dead-letter-code"] == "schema_invalid"
    assert "quantity" in dead.headers["x-azl-dead-letter-reason"]
    assert dead.headers["x-azl-original-queue"].endswith(".orders.commands")
    assert json.loads(dead.body) == command  # the message itself, unchanged

    await flows.place(bus)  # the service keeps consuming


async def test_non_json_body_is_dead_lettered(bus: Bus) -> None:
    message_id = await bus.publish_raw(
        b"\x00 not json {", routing_key="orders.cancel-order", message_type="orders.cancel-order.v1"
    )
    dead = await _dead_letter(bus, message_id)
    assert dead.headers["x-azl-dead-letter-code"] == "not_json"
    assert dead.body == b"\x00 not json {"
    rejected = await bus.wait_for(
        "orders.command.rejected", lambda e: e.json["command_id"] == message_id
    )
    assert rejected[0].json["reason_code"] == "validation_error"
    await flows.place(bus)


async def test_unknown_command_type_is_rejected_and_dead_lettered(bus: Bus) -> None:
    message_id = await bus.publish_raw(
        b"{}", routing_key="orders.teleport", message_type="orders.teleport.v1"
    )
    rejected = await bus.wait_for(
        "orders.command.rejected", lambda e: e.json["command_id"] == message_id
    )
    assert rejected[0].json["reason_code"] == "unknown_command"
    dead = await _dead_letter(bus, message_id)
    assert dead.headers["x-azl-dead-letter-code"] == "unknown_type"


async def test_a_command_without_a_readable_id_is_only_dead_lettered(bus: Bus) -> None:
    marker = str(uuid4())
    await bus.publish_raw(
        json.dumps({"marker": marker}).encode(),
        routing_key="orders.cancel-order",
        message_type="orders.cancel-order.v1",
        message_id="not-a-uuid",
    )
    dead = await _find_dead_letter(bus, lambda m: marker.encode() in m.body)
    assert dead.headers["x-azl-dead-letter-code"] == "missing_message_id"
    await bus.settle(quiet=0.3)
    assert not bus.seen("orders.command.rejected", lambda e: e.correlation_id == "not-a-uuid")


_collected: list = []  # type: ignore[type-arg]


async def _find_dead_letter(bus: Bus, match):  # type: ignore[no-untyped-def]
    for _ in range(50):
        _collected.extend(await bus.drain_queue(DLQ, wait=0.2, expect=0))
        found = [m for m in _collected if match(m)]
        if found:
            return found[0]
    raise AssertionError("no such dead letter")


async def _dead_letter(bus: Bus, message_id: str):  # type: ignore[no-untyped-def]
    return await _find_dead_letter(bus, lambda m: m.message_id == message_id)


# --- a query that fails unexpectedly ---------------------------------------------------


@dataclass
class FailingQuotes:
    """The fees service's own quote handler, made to fail first as a bug or an outage would."""

    real: Callable[[f.QuoteRequest], Awaitable[Any]]
    failures: list[Exception] = field(default_factory=list)
    calls: int = 0

    async def __call__(self, request: f.QuoteRequest) -> Any:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return await self.real(request)


@pytest_asyncio.fixture
async def fees_with_failing_quotes(
    fresh_infra: Infra, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FailingQuotes]:
    """The fees service in this process, in a namespace of its own, wired as its app is
    except for the quote handler."""
    monkeypatch.setattr(service, "_settle_garbage_collector", lambda: None)  # not in pytest
    real = build_handlers(load_catalogs(), deduct_shipping=False)
    quote_route = real.route(f.QuoteRequest.message_type())
    assert quote_route is not None
    quotes = FailingQuotes(quote_route.handler)
    handlers: Handlers[FeesUnitOfWork] = Handlers()
    for message_type in real.message_types():
        route = real.route(message_type)
        assert route is not None
        if versions.is_legacy(route.message):
            continue  # added with its current version's handler
        handlers.add(route.message, quotes if route is quote_route else route.handler)
    settings = FeesSettings(
        env="test",
        namespace=fresh_infra.namespace,
        amqp_url=fresh_infra.amqp_url,
        postgres_url=fresh_infra.postgres_server_url,
        database_prefix=fresh_infra.database_prefix,
        retry_base_delay=0.01,
        retry_max_delay=0.05,
        unexpected_max_attempts=3,
    )
    runtime = ServiceRuntime(
        ServiceDefinition(
            settings=settings,
            handlers=handlers,
            uow_factory=FeesUnitOfWork,
            migrations=MIGRATIONS,
        )
    )
    await runtime.start()
    try:
        yield quotes
    finally:
        await runtime.stop()


QUOTE = f.QuoteRequest.model_validate(
    {"items": [{"quantity": 2, "unit_price_cny": "8.50"}], "exchange_rate": "3500"}
)


async def test_a_query_failing_unexpectedly_gets_an_error_reply_and_is_dead_lettered(
    fresh_infra: Infra, fees_with_failing_quotes: FailingQuotes
) -> None:
    quotes = fees_with_failing_quotes
    bus = await Bus(fresh_infra).connect()
    try:
        quotes.failures = [KeyError("a bug")] * 3  # AZL_UNEXPECTED_MAX_ATTEMPTS
        failed = await bus.request(QUOTE, timeout=15)  # the caller is answered, never times out
        assert failed["status"] == "error"
        assert failed["reason_code"] == "internal_error"
        assert quotes.calls == 3
        [dead] = await bus.drain_queue("fees.commands.dlq", wait=10, expect=1)
        assert dead.message_id == failed["query_id"]
        assert dead.headers["x-azl-dead-letter-code"] == "retries_exhausted"
        assert dead.headers["x-azl-attempts"] == 3
        assert "KeyError" in dead.headers["x-azl-error"]
        assert json.loads(dead.body) == json.loads(QUOTE.model_dump_json())

        # a passing outage is retried by the same policy, then answered
        quotes.failures = [ConnectionRefusedError("database restarting")]
        answered = await bus.request(QUOTE, timeout=15)
        assert answered["status"] == "ok"
        assert answered["goods_total_vnd"] == "59500"  # 2 × 8.50 × 3,500
        assert quotes.calls == 3 + 2
        assert await bus.drain_queue("fees.commands.dlq", wait=1, expect=0) == []
    finally:
        await bus.close()
