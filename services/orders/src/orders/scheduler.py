"""Automatic completion of delivered orders after ``AUTO_COMPLETE_DAYS``.

Safe with several instances: each round claims due orders with ``FOR UPDATE SKIP LOCKED``,
so two instances never complete the same order, and the version check would refuse it anyway.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from azl_kit.logging import get_logger
from azl_kit.service import ServiceRuntime

from .settings import OrdersSettings
from .storage import OrdersUnitOfWork, orders_table

log = get_logger(__name__)

BATCH = 100


OrdersRuntime = ServiceRuntime[OrdersSettings, OrdersUnitOfWork]


async def complete_due_orders(runtime: OrdersRuntime) -> int:
    """One round: complete every delivered order whose waiting period has passed."""
    settings = runtime.settings
    waiting = timedelta(days=settings.auto_complete_days)
    completed = 0
    while True:
        async with runtime.transaction() as conn:
            uow = runtime.new_unit_of_work(conn)
            due = (
                (
                    await conn.execute(
                        select(orders_table.c.order_id)
                        .where(
                            orders_table.c.status == "delivered",
                            orders_table.c.delivered_at <= uow.now() - waiting,
                        )
                        .limit(BATCH)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            for order_id in due:
                order = await uow.orders.get(order_id)
                if order is not None and order.complete_if_due(uow.now(), waiting):
                    completed += 1
            stored = await runtime.commit_events(conn, uow)
        await runtime.publish_committed(stored)
        if len(due) < BATCH:
            return completed


async def auto_complete_loop(runtime: OrdersRuntime) -> None:
    settings = runtime.settings
    while True:
        try:
            completed = await complete_due_orders(runtime)
            if completed:
                log.info("delivered orders completed automatically", count=completed)
        except Exception as error:
            log.warning("auto-completion round failed; will retry", error=repr(error))
        await asyncio.sleep(settings.auto_complete_interval_seconds)
