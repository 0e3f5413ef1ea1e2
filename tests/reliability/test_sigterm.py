"""Fault 7: SIGTERM under load — in-flight messages finish or go back to the queue, the
process exits cleanly, and nothing is half-done."""

from __future__ import annotations

import asyncio
import time
from uuid import uuid4

import httpx
from azl_testing import builders
from azl_testing.bus import Bus
from azl_testing.tokens import bearer

from .faults import FaultPlatform, dead_letter_count, tally_commands, wait_until
from .report import report

N = 600


async def test_sigterm_under_load(platform: FaultPlatform, bus: Bus) -> None:
    orders = platform.start("orders")
    customer = builders.customer()
    commands = [(builders.place_order(customer), str(uuid4())) for _ in range(N)]
    for command, message_id in commands:
        await bus.send(command, message_id=message_id)
    await bus.wait_for("orders.order.placed", count=N // 4, timeout=60)

    started = time.monotonic()
    exit_code = await asyncio.to_thread(orders.stop)  # SIGTERM, wait
    stop_seconds = time.monotonic() - started
    handled_before_stop = len(bus.seen("orders.order.placed"))
    await asyncio.to_thread(platform.restart, orders)
    ids = [message_id for _, message_id in commands]
    await wait_until(lambda: tally_commands(bus, ids, "orders.order.placed").lost == 0, 90)
    tally = tally_commands(bus, ids, "orders.order.placed", dlq=await dead_letter_count(bus))

    async with httpx.AsyncClient(base_url=orders.base_url, timeout=10) as http:
        await bus.emit(builders.deposit(commands[0][0].order_id or uuid4(), 10**9))
        await bus.wait_for("orders.order.deposited", count=1, timeout=20)
        listed = (
            await http.get("/orders", params={"page_size": 1}, headers=bearer("ops", "staff"))
        ).json()
    report(
        "sigterm-under-load",
        tally,
        f"exit={exit_code} stop={stop_seconds:.1f}s handled_before_stop={handled_before_stop}",
    )
    assert exit_code == 0
    assert tally.lost == tally.duplicated == tally.dlq == 0
    # nothing half-done: every stored order published its placement, and vice versa
    assert listed["counts"]["all"] == N
