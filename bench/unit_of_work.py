"""CPU per unit of work on its own, without the broker: orders' load, change and save of one
order with its inbox row, in the three ways the kit can run it, in interleaved blocks.

- ``immediate``: BEGIN, SELECT, UPDATE, INSERT inbox+outbox, COMMIT (the raw floor's five);
- ``deferred``: the UPDATE sent inside the inbox statement (four);
- ``lazy``: the SELECT before any BEGIN, then the inbox statement alone (two).

    uv run python bench/unit_of_work.py [--blocks 8] [--per-block 400]

It creates a database of its own on ``AZL_TEST_DATABASE_URL``'s server and drops it after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from azl_testing import builders
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from azl_contracts.common import Delivery
from azl_contracts.orders import PlaceOrder
from azl_kit import inbox
from azl_kit.db import create_engine, ensure_database, migrate, transaction
from azl_kit.flow import FlowContext
from orders import handlers
from orders.app import MIGRATIONS
from orders.storage import OrdersUnitOfWork

MODES = ("immediate", "deferred", "lazy")
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


async def place_one_order(engine: AsyncEngine) -> uuid.UUID:
    async with transaction(engine) as conn:
        uow = OrdersUnitOfWork(conn, FlowContext.new())
        placement = builders.place_order(builders.customer(), items=[builders.item("90.00")])
        command = PlaceOrder(
            **{name: value for name, value in placement if name != "delivery_address"},
            delivery=Delivery.of(placement.delivery_address),
        )
        result = await handlers.place_order(command, uow, deposit_ratio=Decimal("0.70"))
        await uow.flush()
    return result.order_id


async def unit_of_work(engine: AsyncEngine, order_id: uuid.UUID, mode: str) -> None:
    async with transaction(engine, lazy=mode == "lazy") as conn:
        uow = OrdersUnitOfWork(conn, FlowContext.new())
        uow.defers_writes = mode != "immediate"
        order = await uow.orders.get(order_id)
        assert order is not None
        order._touch()  # a change: its version moves on and its row is written
        await uow.flush()
        await inbox.record_and_store(
            conn,
            consumer="orders",
            message_id=uuid.uuid4(),
            message_type="bench.unit-of-work",
            outcome=None,
            messages=[],
            writes=uow.take_deferred(),
        )


async def measure(url: str, blocks: int, per_block: int) -> dict[str, list[float]]:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        await migrate(engine, MIGRATIONS)
        order_id = await place_one_order(engine)
        cpu_us: dict[str, list[float]] = {mode: [] for mode in MODES}
        for _ in range(blocks):
            for mode in MODES:
                for _ in range(per_block // 10):  # warm: prepared statements, pool
                    await unit_of_work(engine, order_id, mode)
                started = time.process_time()
                for _ in range(per_block):
                    await unit_of_work(engine, order_id, mode)
                cpu_us[mode].append((time.process_time() - started) / per_block * 1e6)
        return cpu_us
    finally:
        await engine.dispose()


async def drop(url: str) -> None:
    admin = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT", pool_size=1
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}"'))
    finally:
        await admin.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--per-block", type=int, default=400)
    args = parser.parse_args()
    server = make_url(os.environ.get("AZL_TEST_DATABASE_URL", DEFAULT_SERVER))
    database = f"azlb_uow_{uuid.uuid4().hex[:8]}"
    own = server.set(drivername="postgresql+asyncpg", database=database)
    url = own.render_as_string(hide_password=False)
    await ensure_database(url)
    try:
        cpu_us = await measure(url, args.blocks, args.per_block)
    finally:
        await drop(url)
    base = statistics.median(cpu_us["immediate"])
    print(f"CPU per unit of work, median of {args.blocks} blocks of {args.per_block} (spread):")
    for mode in MODES:
        figures = cpu_us[mode]
        median = statistics.median(figures)
        print(
            f"  {mode:<10} {median:7.0f} us ({min(figures):.0f}-{max(figures):.0f})"
            f"  {median / base:.2f}x immediate"
        )


if __name__ == "__main__":
    asyncio.run(main())
