"""Fault 3: services killed with SIGKILL at random moments while commands flow."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from uuid import uuid4

from azl_testing import builders
from azl_testing.bus import Bus

from azl_contracts import Message

from .faults import FaultPlatform, dead_letter_count, per_order, tally_commands, wait_until
from .report import Tally, report

N = 500


async def _kill_now_and_then(
    platform: FaultPlatform, names: list[str], rounds: int, rng: random.Random
) -> int:
    kills = 0
    for _ in range(rounds):
        await asyncio.sleep(rng.uniform(0.3, 1.2))
        victim = next(p for p in platform.processes if p.service == rng.choice(names))
        victim.kill()
        kills += 1
        await asyncio.sleep(rng.uniform(0.05, 0.5))
        await asyncio.to_thread(platform.restart, victim)
    return kills


async def _publish(bus: Bus, messages: Sequence[tuple[Message, str]], rate: float) -> None:
    for message, message_id in messages:
        await bus.publish(message, message_id=message_id)
        await asyncio.sleep(1 / rate)


async def test_sigkill_while_commands_flow_loses_and_duplicates_nothing(
    platform: FaultPlatform, bus: Bus
) -> None:
    rng = random.Random(7)
    platform.start_all()
    customer = builders.customer()
    places = [
        (builders.place_order(customer, items=[builders.item("150.00", 2)]), str(uuid4()))
        for _ in range(N)
    ]
    order_ids = [str(command.order_id) for command, _ in places]

    # place N orders while the orders service is killed three times
    publishing = asyncio.create_task(_publish(bus, places, rate=150))
    kills = await _kill_now_and_then(platform, ["orders"], rounds=3, rng=rng)
    await publishing
    command_ids = [message_id for _, message_id in places]
    await wait_until(lambda: tally_commands(bus, command_ids, "orders.order.placed").lost == 0, 90)
    placed = tally_commands(bus, command_ids, "orders.order.placed")

    # pay the deposits while orders, fees and notifications are killed
    required = {
        e.json["order_id"]: int(e.json["required_deposit_vnd"])
        for e in bus.seen("orders.order.placed")
    }
    deposits = [
        (builders.deposit(order_id, required[order_id]), str(uuid4())) for order_id in order_ids
    ]
    publishing = asyncio.create_task(_publish(bus, deposits, rate=150))
    kills += await _kill_now_and_then(
        platform, ["orders", "fees", "notifications"], rounds=4, rng=rng
    )
    await publishing

    def every_order_has(event_type: str) -> bool:
        return all(count >= 1 for count in per_order(bus, event_type, order_ids).values())

    for event_type in (
        "orders.order.deposited",
        "fees.fee.charged",
        "notifications.notification.created",
    ):
        await wait_until(lambda t=event_type: every_order_has(t), 120)  # type: ignore[misc]

    deposited = per_order(bus, "orders.order.deposited", order_ids)
    charged = per_order(bus, "fees.fee.charged", order_ids)
    notified = per_order(bus, "notifications.notification.created", order_ids)
    dlq = await dead_letter_count(bus)
    lost = sum(1 for c in (deposited, charged, notified) for n in c.values() if n == 0)
    duplicated = sum(1 for c in (deposited, charged, notified) for n in c.values() if n > 1)
    flow = Tally(
        sent=N,
        outcomes=sum(1 for n in deposited.values() if n >= 1),
        lost=lost,
        duplicated=duplicated,
        dlq=dlq,
    )

    report("sigkill-place-order", placed, f"kills={kills}")
    report("sigkill-deposit-flow", flow, "(deposited + fee charged + customer notified per order)")
    assert placed.lost == placed.duplicated == 0
    assert placed.outcomes == N
    assert flow.lost == flow.duplicated == 0
    assert dlq == 0
