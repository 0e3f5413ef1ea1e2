"""Fault 6: two instances of the orders service on one queue, conflicting commands on the
same orders from several publishers at once — no update is lost."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import httpx
from azl_testing import flows
from azl_testing.bus import Bus
from azl_testing.tokens import bearer

from azl_contracts import orders as o
from azl_contracts.common import OrderStatus

from .faults import FaultPlatform, dead_letter_count, metric, tally_commands, wait_until
from .report import report

ORDERS = 10
PER_ORDER = 50
PUBLISHERS = 4


async def test_two_instances_conflicting_commands_lose_no_update(
    platform: FaultPlatform, bus: Bus
) -> None:
    instances = [platform.start("orders"), platform.start("orders")]
    first = instances[0]
    orders = [await flows.drive_to(bus, OrderStatus.DEPOSITED) for _ in range(ORDERS)]
    commands: list[tuple[o.IncreaseQuantities, str]] = [
        (
            o.IncreaseQuantities(
                actor=order.customer,
                order_id=order.order_id,
                items=[o.ItemQuantity(item_id=order.item_ids[0], add=1)],
            ),
            str(uuid4()),
        )
        for _ in range(PER_ORDER)
        for order in orders
    ]

    async def publisher(share: list[tuple[o.IncreaseQuantities, str]]) -> None:
        for command, message_id in share:
            await bus.send(command, message_id=message_id)

    await asyncio.gather(*(publisher(commands[i::PUBLISHERS]) for i in range(PUBLISHERS)))
    ids = [message_id for _, message_id in commands]
    await wait_until(
        lambda: tally_commands(bus, ids, "orders.order.quantities-increased").lost == 0, 90
    )
    tally = tally_commands(
        bus, ids, "orders.order.quantities-increased", dlq=await dead_letter_count(bus)
    )

    quantities = {}
    async with httpx.AsyncClient(base_url=first.base_url, timeout=10) as http:
        for order in orders:
            view = (
                await http.get(f"/orders/{order.order_id}", headers=bearer("ops", "staff"))
            ).json()
            quantities[order.order_id] = view["info"]["items"][0]["quantity"]
    queue = bus.infra.name("orders.commands")
    increases = o.IncreaseQuantities.message_type()
    handled = [
        await metric(
            instance,
            "azl_messages_handled_total",
            queue=queue,
            message_type=increases,
            outcome="accepted",
        )
        for instance in instances
    ]
    retries = [
        await metric(instance, "azl_message_retries_total", queue=queue, kind="conflict")
        for instance in instances
    ]
    report(
        "two-instances-conflicts",
        tally,
        f"orders={ORDERS} each+{PER_ORDER}"
        f" handled_per_instance={'/'.join(f'{n:.0f}' for n in handled)}"
        f" conflict_retries={sum(retries):.0f}",
    )
    assert tally.lost == tally.duplicated == tally.dlq == 0
    assert quantities == dict.fromkeys((order.order_id for order in orders), 1 + PER_ORDER)
    _assert_versions_continuous(bus, {order.order_id for order in orders})
    # the fault really happened: both instances took increases off the one queue, and their
    # writes to the same orders collided (and were retried) rather than running in turn
    assert all(n > 0 for n in handled), handled
    assert sum(handled) == len(commands)
    assert sum(retries) > 0, "no version conflict: the instances never raced on an order"


def _assert_versions_continuous(bus: Bus, order_ids: set[UUID]) -> None:
    """Every increase landed on its own version: no two share one, none is missing."""
    for order_id in order_ids:
        versions = sorted(
            e.json["order_version"]
            for e in bus.seen("orders.order.quantities-increased")
            if e.json["order_id"] == str(order_id)
        )
        assert versions == list(range(versions[0], versions[0] + PER_ORDER)), order_id
