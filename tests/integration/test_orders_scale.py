"""Several orders instances at once (spec §3, §7): concurrent commands on one order are
serialised by the optimistic version check and retried, so no update is lost and no rule is
bypassed by a race; delivered orders complete by themselves exactly once.

Two extra orders processes join the platform's one for this module, with a tiny
``AUTO_COMPLETE_DAYS`` (0.00002 days ≈ 1.7 s), half-second scheduler rounds and small
connection pools.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from azl_testing import builders, flows
from azl_testing.bus import Bus, Received
from azl_testing.infra import Infra
from azl_testing.orders_api import OrdersApi, metric
from azl_testing.processes import ServiceProcess

from azl_contracts import orders as o
from azl_contracts.common import OrderStatus

from .conftest import Platform

S = OrderStatus
PUBLISHERS = 5
ORDER_MORE = 50


@pytest.fixture(scope="module")
def extra_orders(infra: Infra, log_dir: Path, platform: Platform) -> Iterator[list[ServiceProcess]]:
    env = {
        "AZL_AUTO_COMPLETE_DAYS": "0.00002",
        "AZL_AUTO_COMPLETE_INTERVAL_SECONDS": "0.5",
        # the PostgreSQL server is shared (max_connections): at most 4 connections each
        "AZL_DB_POOL_SIZE": "2",
        "AZL_DB_MAX_OVERFLOW": "2",
    }
    extras = [ServiceProcess("orders", infra, log_dir, extra_env=env).start() for _ in range(2)]
    try:
        for process in extras:
            _ready(process)
        yield extras
    finally:
        codes = [process.stop() for process in extras]
        assert codes == [0, 0], f"extra orders instances did not stop cleanly: {codes}"


def _ready(process: ServiceProcess, tries: int = 3) -> ServiceProcess:
    """Wait until the process is ready, starting it again if it exited during start-up: the
    PostgreSQL server is shared by every test run on the machine, and a service that finds
    it full (``too many clients``) exits at start-up rather than waiting."""
    for attempt in range(1, tries + 1):
        try:
            return process.wait_ready()
        except RuntimeError:
            if attempt == tries:
                raise
            time.sleep(2)
            process.start()
    raise AssertionError("unreachable")


@pytest_asyncio.fixture
async def api(platform: Platform) -> AsyncIterator[OrdersApi]:
    async with platform.http("orders") as http:
        yield OrdersApi(http)


@pytest_asyncio.fixture
async def publishers(infra: Infra) -> AsyncIterator[list[Bus]]:
    """Several independent clients, each with its own connection, publishing at once."""
    clients = [await Bus(infra).connect() for _ in range(PUBLISHERS)]
    try:
        yield clients
    finally:
        for client in clients:
            await client.close()


HANDLED = ("azl_messages_handled_total", {"message_type": "orders.increase-quantities.v1"})
CONFLICTS = ("azl_message_retries_total", {"kind": "conflict"})


def _deltas(after: list[float], before: list[float]) -> list[float]:
    return [a - b for a, b in zip(after, before, strict=True)]


async def _all_instances(
    platform: Platform, extras: list[ServiceProcess], name: str, labels: dict[str, str]
) -> list[float]:
    """A counter of each orders instance: the platform's and the extra ones."""
    values = []
    for url in [platform.url("orders"), *(p.base_url for p in extras)]:
        async with httpx.AsyncClient(base_url=url, timeout=10.0) as http:
            values.append(await metric(http, name, **labels))
    return values


async def test_concurrent_order_more_commands_all_land(
    bus: Bus,
    api: OrdersApi,
    publishers: list[Bus],
    platform: Platform,
    extra_orders: list[ServiceProcess],
) -> None:
    order = await flows.place(bus, items=[builders.item("1.00", 1)])
    await flows.pay_deposit(bus, order)
    await api.ledger_settled(bus, order.order_id)
    before = await api.detail(order.order_id)
    item_id = order.item_ids[0]
    handled_before = await _all_instances(platform, extra_orders, *HANDLED)
    conflicts_before = await _all_instances(platform, extra_orders, *CONFLICTS)

    replies = await asyncio.gather(
        *(
            publishers[n % PUBLISHERS].request(
                o.IncreaseQuantities(
                    actor=order.customer,
                    order_id=order.order_id,
                    items=[{"item_id": item_id, "add": 1}],
                ),
                timeout=60,
            )
            for n in range(ORDER_MORE)
        )
    )

    assert [r["status"] for r in replies] == ["accepted"] * ORDER_MORE
    after = await api.detail(order.order_id)
    assert after["info"]["items"][0]["quantity"] == 1 + ORDER_MORE
    assert after["info"]["goods_total_vnd"] == (1 + ORDER_MORE) * 3500
    assert after["status"] == "deposited"
    assert after["history"] == before["history"]
    # each command saw the order as the one before it left it: 1 → 2 → … → 51, one version
    # step each, nothing lost and nothing applied twice
    increased = await bus.wait_for_order(
        "orders.order.quantities-increased", order.order_id, count=ORDER_MORE
    )
    steps = sorted(
        (e.json["order_version"], c["old_quantity"], c["new_quantity"])
        for e in increased
        for c in e.json["changes"]
    )
    first_version = before["version"] + 1
    assert steps == [(first_version + n, 1 + n, 2 + n) for n in range(ORDER_MORE)]
    # several instances took part, and the version check did make some of them retry
    took_part = _deltas(await _all_instances(platform, extra_orders, *HANDLED), handled_before)
    assert sum(took_part) == ORDER_MORE
    assert sum(1 for n in took_part if n > 0) >= 2, took_part
    conflicts = _deltas(await _all_instances(platform, extra_orders, *CONFLICTS), conflicts_before)
    assert sum(conflicts) > 0


async def test_racing_cancellations_cancel_once(
    bus: Bus, api: OrdersApi, publishers: list[Bus], extra_orders: list[ServiceProcess]
) -> None:
    order = await flows.drive_to(bus, S.DEPOSITED)
    actors = [order.customer, builders.STAFF]
    replies = await asyncio.gather(
        *(
            publishers[n % PUBLISHERS].request(
                o.CancelOrder(actor=actors[n % 2], order_id=order.order_id, reason=f"#{n}"),
                timeout=60,
            )
            for n in range(10)
        )
    )
    accepted = [r for r in replies if r["status"] == "accepted"]
    assert len(accepted) == 1
    assert {r["reason_code"] for r in replies if r["status"] == "rejected"} == {"invalid_state"}
    view = await api.detail(order.order_id)
    assert [h["to_status"] for h in view["history"]] == [
        "awaiting_deposit",
        "deposited",
        "cancelled",
    ]
    await bus.settle(quiet=0.5)
    cancelled = bus.seen(
        "orders.order.cancelled", lambda e: e.json["order_id"] == str(order.order_id)
    )
    assert len(cancelled) == 1
    assert cancelled[0].causation_id == accepted[0]["command_id"]


def _of(order: flows.PlacedOrder) -> Callable[[Received], bool]:
    return lambda event: event.json["order_id"] == str(order.order_id)


async def test_delivered_orders_complete_by_themselves_exactly_once(
    bus: Bus, api: OrdersApi, extra_orders: list[ServiceProcess]
) -> None:
    orders = await asyncio.gather(*(flows.drive_to(bus, S.DELIVERED) for _ in range(3)))
    for order in orders:
        completed = await bus.wait_for_order("orders.order.completed", order.order_id, timeout=30)
        assert completed[0].json["automatic"] is True
    # two schedulers take a round every half second: a second completion would show by now
    await bus.settle(quiet=1.5)
    for order in orders:
        of_order = bus.seen("orders.order.", _of(order))
        assert sum(e.type == "orders.order.completed.v1" for e in of_order) == 1
        changes = [e.json for e in of_order if e.type == "orders.order.status-changed.v1"]
        assert changes[-1]["to_status"] == "completed"
        assert changes[-1]["actor"] == {"id": "orders-scheduler", "role": "system"}
        view = await api.detail(order.order_id, order.customer.id, "customer")
        assert view["status"] == "completed"
        last: dict[str, Any] = view["history"][-1]
        assert (last["from_status"], last["to_status"]) == ("delivered", "completed")
        assert last["reason"] == "completed automatically"
        # the customer can no longer confirm (nor, by the spec, complain)
        late = await bus.request(o.ConfirmReceived(actor=order.customer, order_id=order.order_id))
        assert late["reason_code"] == "invalid_state"
