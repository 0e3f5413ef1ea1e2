"""Fault 8: dead-lettered messages replayed through the operator CLI once their cause is
fixed are processed once; replaying the same message again changes nothing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from decimal import Decimal
from uuid import uuid4

from azl_testing import builders
from azl_testing.bus import Bus

from .faults import FaultPlatform, distinct, wait_until
from .report import Tally, report

N = 20


def azl(bus: Bus, *args: str, answer: str | None = None) -> str:
    """The operator CLI, as an operator runs it (``answer`` is typed at its prompt)."""
    env = {"AZL_AMQP_URL": bus.infra.amqp_url, "AZL_NAMESPACE": bus.infra.namespace, "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "azl_cli", *args],
        input=answer,
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    return result.stdout


async def test_dead_letters_replayed_after_the_cause_is_fixed(
    platform: FaultPlatform, bus: Bus
) -> None:
    platform.start("orders")
    customer = builders.customer()
    placements = [
        builders.place_order(customer, items=[builders.item("100.00")], rate="1000")
        for _ in range(N)
    ]
    # the payments system reports deposits for orders the platform does not know yet
    deposits = [builders.deposit(p.order_id or uuid4(), Decimal(70_000)) for p in placements]
    deposit_ids = [await bus.emit(d) for d in deposits]

    listing = ""
    for _ in range(60):
        listing = await asyncio.to_thread(
            azl, bus, "dlq", "list", "--queue", "orders.payment-events"
        )
        if f"{N} dead-lettered" in listing:
            break
        await asyncio.sleep(0.25)
    assert "not_applicable" in listing
    assert "does not exist" in listing

    for placement in placements:  # the cause is fixed: the orders now exist
        assert (await bus.request(placement))["status"] == "accepted"
    replayed = await asyncio.to_thread(
        azl, bus, "dlq", "replay", "--all", "--queue", "orders.payment-events"
    )
    assert f"{N} message(s) replayed" in replayed
    order_ids = {str(p.order_id) for p in placements}
    await wait_until(lambda: len(_deposited(bus, order_ids)) == N, 30)

    # the same dead letter a second time (dead-lettering is at-least-once): replay changes nothing
    await bus.publish_raw(
        deposits[0].model_dump_json().encode(),
        routing_key=bus.infra.name("orders.payment-events.dlq"),
        exchange="",
        message_id=deposit_ids[0],
        message_type=deposits[0].message_type(),
        headers={
            "x-azl-dead-letter-code": "not_applicable",
            "x-azl-original-queue": f"{bus.infra.namespace}.orders.payment-events",
        },
    )
    again = await asyncio.to_thread(azl, bus, "dlq", "replay", "--message-id", deposit_ids[0])
    assert "1 message(s) replayed" in again
    await bus.settle(quiet=1.0)
    deposited = _deposited(bus, order_ids)
    recorded = [
        e
        for e in distinct(bus.seen("orders.order.deposit-payment-recorded"))
        if e.json["order_id"] in order_ids
    ]
    remaining = await asyncio.to_thread(azl, bus, "dlq", "list")
    tally = Tally(
        sent=N,
        outcomes=len(deposited),
        lost=N - len(deposited),
        duplicated=len(recorded) - N,
        dlq=N,
    )
    report("dlq-replay", tally, "replayed_again=1 changed_nothing")
    assert len(deposited) == N
    assert len(recorded) == N
    assert "no dead-lettered messages" in remaining


def _deposited(bus: Bus, order_ids: set[str]) -> list[str]:
    return [
        e.json["order_id"]
        for e in distinct(bus.seen("orders.order.deposited"))
        if e.json["order_id"] in order_ids
    ]


async def test_purge_asks_before_deleting_dead_letters(platform: FaultPlatform, bus: Bus) -> None:
    platform.start("orders")
    for _ in range(3):
        await bus.publish_raw(
            b"not json", routing_key="orders.cancel-order", message_type="orders.cancel-order.v1"
        )
    for _ in range(60):
        if "3 dead-lettered" in await asyncio.to_thread(azl, bus, "dlq", "list"):
            break
        await asyncio.sleep(0.25)
    declined = await asyncio.to_thread(azl, bus, "dlq", "purge", answer="n\n")
    assert "Delete 3 dead-lettered message(s) for good?" in declined
    assert "3 dead-lettered" in await asyncio.to_thread(azl, bus, "dlq", "list")
    confirmed = await asyncio.to_thread(azl, bus, "dlq", "purge", answer="y\n")
    assert "3 message(s) purged" in confirmed
    assert "no dead-lettered messages" in await asyncio.to_thread(azl, bus, "dlq", "list")
