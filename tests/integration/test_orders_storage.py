"""The orders database on its own, without the service process: an order code that collides
is drawn again by the kit's pipeline, and migration 0004 fills ``deposited_at`` from history.

Each test gets a database of its own (``fresh_infra``), so what it writes never reaches the
running platform's outbox.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from alembic import command
from alembic.config import Config
from azl_testing import builders
from azl_testing.infra import Infra
from sqlalchemy import Connection, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from azl_contracts.topology import queues_of
from azl_kit import inbox
from azl_kit.db import create_engine, driver_of, ensure_database, migrate, transaction
from azl_kit.dead_letters import DeadLetters
from azl_kit.envelope import Envelope
from azl_kit.errors import ConcurrencyConflict
from azl_kit.flow import FlowContext
from azl_kit.metrics import Metrics
from azl_kit.outbox import OutboxRelay, Stored
from azl_kit.pipeline import MessagePipeline
from azl_kit.publisher import Publisher
from azl_kit.retry import RetryPolicy
from azl_kit.uow import DeferredWrite
from orders import handlers
from orders.app import MIGRATIONS
from orders.storage import OrdersUnitOfWork, orders_table


@pytest_asyncio.fixture
async def database(fresh_infra: Infra) -> AsyncIterator[AsyncEngine]:
    url = fresh_infra.database_url("orders")
    await ensure_database(url)
    engine = create_engine(url, pool_size=2, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


class CommittedMessages:
    """Stands in for the outbox relay: keeps what the pipeline committed instead of
    publishing it."""

    def __init__(self) -> None:
        self.stored: list[Stored] = []

    async def publish_committed(self, stored: list[Stored]) -> None:
        self.stored += stored


def orders_command_pipeline(
    engine: AsyncEngine, namespace: str, relay: CommittedMessages, metrics: Metrics
) -> MessagePipeline:
    commands = next(q for q in queues_of("orders") if q.exchange == "commands")
    publisher = Publisher("orders")  # never connected: nothing here replies or dead-letters
    return MessagePipeline(
        service="orders",
        namespace=namespace,
        queue=commands,
        handlers=handlers.build_handlers(deposit_ratio=Decimal("0.70")),
        uow_factory=OrdersUnitOfWork,
        engine=engine,
        publisher=publisher,
        relay=cast(OutboxRelay, relay),
        dead_letters=DeadLetters(publisher, exchange=f"{namespace}.dlx", service="orders"),
        retry=RetryPolicy(),
        metrics=metrics,
        max_message_bytes=1 << 20,
        redelivery_limit=10,
    )


def place_order_envelope(namespace: str) -> Envelope:
    message_id = uuid4()
    return Envelope(
        queue=f"{namespace}.orders.commands",
        body=builders.place_order(builders.customer()).model_dump_json().encode(),
        raw_message_id=str(message_id),
        message_id=message_id,
        correlation_id=str(message_id),
        message_type="orders.place-order.v1",
        reply_to=None,
        content_type="application/json",
        app_id="storefront",
        exchange=f"{namespace}.commands",
        routing_key="orders.place-order",
        headers={},
        delivery_count=0,
        properties={},
    )


def codes_drawn(monkeypatch: pytest.MonkeyPatch, *codes: str) -> list[str]:
    """``new_order_code`` returns ``codes`` in turn; the returned list shows what was drawn."""
    drawn: list[str] = []
    pending = iter(codes)

    def next_code() -> str:
        drawn.append(next(pending))
        return drawn[-1]

    monkeypatch.setattr(handlers, "new_order_code", next_code)
    return drawn


async def test_an_order_code_that_is_taken_is_drawn_again(
    database: AsyncEngine, fresh_infra: Infra, monkeypatch: pytest.MonkeyPatch
) -> None:
    await migrate(database, MIGRATIONS)
    relay, metrics = CommittedMessages(), Metrics()
    pipeline = orders_command_pipeline(database, fresh_infra.namespace, relay, metrics)

    first = codes_drawn(monkeypatch, "AZ00000042")
    assert await pipeline.process(place_order_envelope(fresh_infra.namespace)) == "accepted"
    assert first == ["AZ00000042"]

    second = codes_drawn(monkeypatch, "AZ00000042", "AZ00000043")
    assert await pipeline.process(place_order_envelope(fresh_infra.namespace)) == "accepted"
    assert second == ["AZ00000042", "AZ00000043"]  # the unique index refused the first
    retries = metrics.registry.get_sample_value(
        "azl_message_retries_total",
        {"queue": f"{fresh_infra.namespace}.orders.commands", "kind": "conflict"},
    )
    assert retries == 1

    async with database.connect() as conn:
        stored = (await conn.execute(select(orders_table.c.code))).scalars().all()
    assert sorted(stored) == ["AZ00000042", "AZ00000043"]
    placed = [
        json.loads(s.message.body)
        for s in relay.stored
        if s.message.message_type == "orders.order.placed.v2"
    ]
    assert [p["order_code"] for p in placed] == ["AZ00000042", "AZ00000043"]


async def _placed_order(engine: AsyncEngine, namespace: str) -> UUID:
    relay = CommittedMessages()
    pipeline = orders_command_pipeline(engine, namespace, relay, Metrics())
    assert await pipeline.process(place_order_envelope(namespace)) == "accepted"
    return UUID(json.loads(relay.stored[0].message.body)["order_id"])


async def _order_row(engine: AsyncEngine, order_id: UUID) -> tuple[int, str]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(orders_table.c.version, orders_table.c.status).where(
                    orders_table.c.order_id == order_id
                )
            )
        ).one()
    return row.version, row.status


async def _inbox_has(engine: AsyncEngine, message_id: UUID) -> bool:
    async with engine.connect() as conn:
        return await inbox.seen(conn, consumer="orders", message_id=message_id)


async def _deposit_deferred(
    conn: AsyncConnection, order_id: UUID, payment_id: str
) -> list[DeferredWrite]:
    """A deposit recorded on the order in a unit of work that defers its writes: the
    order's UPDATE, not sent yet."""
    uow = OrdersUnitOfWork(conn, FlowContext.new())
    uow.defers_writes = True
    order = await uow.orders.get(order_id)
    assert order is not None
    order.record_deposit(payment_id, order.required_deposit_vnd, uow.now())
    await uow.flush()
    return uow.take_deferred()


async def _record(
    conn: AsyncConnection, message_id: UUID, writes: list[DeferredWrite]
) -> list[Stored] | None:
    return await inbox.record_and_store(
        conn,
        consumer="orders",
        message_id=message_id,
        message_type="payments.deposit.received.v1",
        outcome=None,
        messages=[],
        writes=writes,
    )


@pytest.mark.parametrize("lazy", [False, True], ids=["begun", "alone"])
async def test_an_order_update_goes_with_the_inbox_row_and_commits_with_it(
    database: AsyncEngine, fresh_infra: Infra, lazy: bool
) -> None:
    """The pipeline defers the order's UPDATE into the inbox and outbox statement."""
    await migrate(database, MIGRATIONS)
    order_id = await _placed_order(database, fresh_infra.namespace)
    message_id = uuid4()

    async with transaction(database, lazy=lazy) as conn:
        writes = await _deposit_deferred(conn, order_id, "pay-1")
        assert driver_of(conn).is_in_transaction() is not lazy  # a lazy one read alone
        assert len(writes) == 1
        assert await _order_row(database, order_id) == (1, "awaiting_deposit")  # not yet sent
        assert await _record(conn, message_id, writes) == []

    assert await _order_row(database, order_id) == (2, "deposited")
    assert await _inbox_has(database, message_id)


@pytest.mark.parametrize("lazy", [False, True], ids=["begun", "alone"])
async def test_an_order_changed_underneath_is_a_conflict_and_nothing_of_the_unit_stays(
    database: AsyncEngine, fresh_infra: Infra, lazy: bool
) -> None:
    await migrate(database, MIGRATIONS)
    order_id = await _placed_order(database, fresh_infra.namespace)
    message_id = uuid4()

    async def deposit_recorded_after_another_handling() -> None:
        async with transaction(database, lazy=lazy) as conn:
            writes = await _deposit_deferred(conn, order_id, "pay-1")
            async with database.begin() as other:  # another handling got there first
                await other.execute(
                    text("UPDATE orders SET version = version + 1 WHERE order_id = :id"),
                    {"id": order_id},
                )
            await _record(conn, message_id, writes)

    with pytest.raises(ConcurrencyConflict, match=f"order {order_id} changed underneath"):
        await deposit_recorded_after_another_handling()
    assert await _order_row(database, order_id) == (2, "awaiting_deposit")
    assert not await _inbox_has(database, message_id)  # the inbox row was rolled back too


async def test_a_message_seen_before_changes_nothing_also_when_its_statement_runs_alone(
    database: AsyncEngine, fresh_infra: Infra
) -> None:
    """Alone (no BEGIN), the inbox statement refuses with an error and so undoes the update
    it carries: the order stays as the first handling left it."""
    await migrate(database, MIGRATIONS)
    order_id = await _placed_order(database, fresh_infra.namespace)
    message_id = uuid4()

    async def record_deposit(payment_id: str) -> list[Stored] | None:
        async with transaction(database, lazy=True) as conn:
            return await _record(
                conn, message_id, await _deposit_deferred(conn, order_id, payment_id)
            )

    assert await record_deposit("pay-1") == []
    assert await record_deposit("pay-2") is None  # the same message again
    assert await _order_row(database, order_id) == (2, "deposited")


# --- migration 0004 -----------------------------------------------------------------------------


def _upgrade(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def history(*steps: tuple[str | None, str, datetime]) -> list[dict[str, Any]]:
    return [
        {
            "from_status": from_status,
            "to_status": to_status,
            "actor": {"id": "x", "role": "system"},
            "reason": None,
            "at": at.isoformat(),
        }
        for from_status, to_status, at in steps
    ]


T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
DEPOSITED = T0 + timedelta(hours=3)
BEFORE_0004: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "never paid": ("awaiting_deposit", history((None, "awaiting_deposit", T0))),
    "cancelled before the deposit": (
        "cancelled",
        history((None, "awaiting_deposit", T0), ("awaiting_deposit", "cancelled", DEPOSITED)),
    ),
    "cancelled after it": (
        "cancelled",
        history(
            (None, "awaiting_deposit", T0),
            ("awaiting_deposit", "deposited", DEPOSITED),
            ("deposited", "cancelled", DEPOSITED + timedelta(days=1)),
        ),
    ),
    "shipping": (
        "in_transit",
        history(
            (None, "awaiting_deposit", T0),
            ("awaiting_deposit", "deposited", DEPOSITED),
            ("deposited", "purchasing", DEPOSITED + timedelta(hours=1)),
            ("purchasing", "purchased", DEPOSITED + timedelta(hours=2)),
            ("purchased", "in_transit", DEPOSITED + timedelta(days=2)),
        ),
    ),
}
DEPOSITED_AT = {
    "never paid": None,
    "cancelled before the deposit": None,
    "cancelled after it": DEPOSITED,
    "shipping": DEPOSITED,
}


async def test_migration_0004_fills_deposited_at_from_each_orders_history(
    database: AsyncEngine,
) -> None:
    ids: dict[str, UUID] = {}
    async with database.begin() as conn:
        await conn.run_sync(_upgrade, "0003")
        for number, (name, (status, steps)) in enumerate(BEFORE_0004.items()):
            ids[name] = uuid4()
            await conn.execute(
                text(
                    "INSERT INTO orders (order_id, code, customer_id, website, status, "
                    "goods_total_vnd, version, created_at, updated_at, document) VALUES "
                    "(:order_id, :code, 'cust-1', 'taobao', :status, 70000, 3, :at, :at, "
                    "CAST(:document AS jsonb))"
                ),
                {
                    "order_id": ids[name],
                    "code": f"AZ{number:08d}",
                    "status": status,
                    "at": T0,
                    "document": json.dumps({"history": steps}),
                },
            )
        await conn.run_sync(_upgrade, "head")
        rows = (
            await conn.execute(select(orders_table.c.order_id, orders_table.c.deposited_at))
        ).all()
    found = {row.order_id: row.deposited_at for row in rows}
    assert {name: found[order_id] for name, order_id in ids.items()} == DEPOSITED_AT
