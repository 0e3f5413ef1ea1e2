"""Fault 7: SIGTERM under load — in-flight messages finish or go back to the queue, the
process exits cleanly, and nothing is half-done."""

from __future__ import annotations

import asyncio
import time
from uuid import uuid4

import httpx
from azl_testing import builders
from azl_testing.bus import Bus
from azl_testing.infra import Infra
from azl_testing.tokens import bearer

from .faults import FaultPlatform, dead_letter_count, distinct, fetch, tally_commands, wait_until
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
    await bus.settle(quiet=1.0, timeout=10)  # what it published on its way out arrives
    handled_before_stop = len(distinct(bus.seen("orders.order.placed")))
    # nothing half-done, looked at before anything restarts: every order stored has
    # published the events of its state so far, and every event published has its state
    stored = await _stored_orders(bus.infra)
    published = _published_states(bus)
    inbox = await _inbox(bus.infra)
    caused = {e.causation_id for e in distinct(bus.seen("orders.order.placed"))}

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
        f"exit={exit_code} stop={stop_seconds:.1f}s handled_before_stop={handled_before_stop}"
        f" stored_at_stop={len(stored)}",
    )
    assert exit_code == 0
    # the stop really came under load: commands were still waiting when it came
    assert handled_before_stop < N
    assert stored == published, _differences(stored, published)
    assert inbox == caused  # each command taken is one the published placements name
    assert tally.lost == tally.duplicated == tally.dlq == 0
    # nothing half-done after the restart either: every stored order published its
    # placement, and vice versa
    assert listed["counts"]["all"] == N


OrderState = tuple[str, int]  # status, version


async def _stored_orders(infra: Infra) -> dict[str, OrderState]:
    rows = await fetch(infra, "orders", "SELECT order_id, status, version FROM orders")
    return {str(row["order_id"]): (row["status"], row["version"]) for row in rows}


async def _inbox(infra: Infra) -> set[str | None]:
    rows = await fetch(
        infra,
        "orders",
        "SELECT message_id FROM messaging_inbox WHERE consumer = $1",
        "orders.commands",
    )
    return {str(row["message_id"]) for row in rows}


def _published_states(bus: Bus) -> dict[str, OrderState]:
    """Each order's status and version as the events published about it tell them: the
    newest version any event names, the status of the newest event that carries one."""
    versions: dict[str, int] = {}
    statuses: dict[str, tuple[int, str]] = {}
    for event in distinct(bus.seen("orders.order.")):
        body = event.json
        order, version = body["order_id"], body["order_version"]
        versions[order] = max(version, versions.get(order, 0))
        status = body.get("to_status") or body.get("status")
        if status is not None and version >= statuses.get(order, (0, ""))[0]:
            statuses[order] = (version, status)
    return {
        order: (statuses.get(order, (0, "no status published"))[1], version)
        for order, version in versions.items()
    }


def _differences(
    stored: dict[str, OrderState], published: dict[str, OrderState]
) -> dict[str, tuple[OrderState | None, OrderState | None]]:
    return {
        order: (stored.get(order), published.get(order))
        for order in stored.keys() | published.keys()
        if stored.get(order) != published.get(order)
    }
