"""Fault 8: dead-lettered messages replayed through the operator CLI once their cause is
fixed are processed once; replaying the same message again changes nothing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from decimal import Decimal
from typing import Any
from uuid import uuid4

import aio_pika
from azl_testing import builders
from azl_testing.bus import Bus
from azl_testing.infra import broker_passwords

from azl_cli import dlq

from .faults import FaultPlatform, distinct, wait_until
from .report import Tally, report

N = 20
BROWSINGS = 21


def azl(bus: Bus, *args: str, answer: str | None = None) -> str:
    """The operator CLI, as an operator runs it (``answer`` is typed at its prompt)."""
    env = {
        "AZL_AMQP_URL": bus.infra.amqp_url,  # guest: the CLI acts as the namespace's operator
        **broker_passwords(bus.infra),
        "AZL_NAMESPACE": bus.infra.namespace,
        "PATH": "",
    }
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

    origin = bus.infra.name("orders.payment-events")
    listed: list[dict[str, Any]] = []
    for _ in range(60):
        listed = await listing(bus, "--queue", "orders.payment-events")
        if len(listed) >= N:
            break
        await asyncio.sleep(0.25)
    assert sorted(letter["message_id"] for letter in listed) == sorted(deposit_ids)
    assert {letter["code"] for letter in listed} == {"not_applicable"}
    assert all("does not exist" in letter["reason"] for letter in listed)
    assert {letter["origin_queue"] for letter in listed} == {origin}
    text = await asyncio.to_thread(azl, bus, "dlq", "list", "--queue", "orders.payment-events")
    assert f"from {origin}" in text

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
        dlq=len(listed),
    )
    report("dlq-replay", tally, "replayed_again=1 changed_nothing")
    assert len(deposited) == N
    assert len(recorded) == N
    assert "no dead-lettered messages" in remaining


async def listing(bus: Bus, *args: str) -> list[dict[str, Any]]:
    """``azl dlq list --json``: one dead letter per line."""
    out = await asyncio.to_thread(azl, bus, "dlq", "list", "--json", *args)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


async def test_crash_loop_dead_letters_replayed_are_processed_once(
    platform: FaultPlatform, bus: Bus
) -> None:
    """A dead letter carries no delivery count back: one the pipeline dead-lettered for
    being redelivered too often, and one the broker dead-lettered at its delivery limit
    (with x-death and its x-delivery-count), are each processed once when replayed."""
    orders = platform.start("orders")
    customer = builders.customer()
    placements = [
        builders.place_order(customer, items=[builders.item("100.00")], rate="1000")
        for _ in range(2)
    ]
    for placement in placements:
        assert (await bus.request(placement))["status"] == "accepted"
    by_pipeline, by_broker = (
        builders.deposit(p.order_id or uuid4(), Decimal(70_000)) for p in placements
    )
    origin = bus.infra.name("orders.payment-events")

    # handed back to the queue ten times (AZL_REDELIVERY_LIMIT) while orders is stopped, so
    # the broker itself counts it: a count the publisher writes is not believed
    orders.stop()
    pipeline_id = await bus.publish_raw(
        by_pipeline.model_dump_json().encode(),
        routing_key=by_pipeline.routing_key(),
        exchange="events",
        message_type=by_pipeline.message_type(),
        headers={"x-delivery-count": 0},
    )
    await _hand_back(bus, origin, pipeline_id, times=10)
    platform.restart(orders)
    # as the broker dead-letters it itself at the queue's x-delivery-limit
    broker_id = await bus.publish_raw(
        by_broker.model_dump_json().encode(),
        routing_key=f"{origin}.dlq",
        exchange="",
        message_type=by_broker.message_type(),
        headers={
            "x-delivery-count": 20,
            "x-first-death-exchange": bus.infra.name("events"),
            "x-first-death-queue": origin,
            "x-first-death-reason": "delivery_limit",
            "x-death": [
                {
                    "count": 1,
                    "reason": "delivery_limit",
                    "queue": origin,
                    "exchange": bus.infra.name("events"),
                    "routing-keys": [by_broker.routing_key()],
                }
            ],
        },
    )
    listed: list[dict[str, Any]] = []
    for _ in range(60):
        listed = await listing(bus, "--queue", "orders.payment-events")
        if len(listed) >= 2:
            break
        await asyncio.sleep(0.25)
    codes = {letter["message_id"]: letter["code"] for letter in listed}
    assert codes == {pipeline_id: "redelivery_limit", broker_id: "broker:delivery_limit"}
    assert {letter["origin_queue"] for letter in listed} == {origin}
    # Browsing returns every letter to the DLQ, and the broker counts each return: after
    # 21 listings the letters carry x-delivery-count 21 (4.x's default limit is 20; this
    # service's redelivery limit 10). They are all still there, and replay drops the count.
    for _ in range(BROWSINGS):
        again = await dlq.list_dead_letters(bus.infra.amqp_url, bus.infra.namespace)
        assert {letter.message_id for letter in again} == {pipeline_id, broker_id}

    replayed = await asyncio.to_thread(
        azl, bus, "dlq", "replay", "--all", "--queue", "orders.payment-events"
    )
    assert "2 message(s) replayed" in replayed
    order_ids = {str(p.order_id) for p in placements}
    await wait_until(lambda: len(_deposited(bus, order_ids)) == 2, 30)
    await bus.settle(quiet=1.0)
    deposited = _deposited(bus, order_ids)
    remaining = await listing(bus)
    report(
        "dlq-replay-crash-loop",
        Tally(
            sent=2,
            outcomes=len(set(deposited)),
            lost=2 - len(set(deposited)),
            duplicated=len(deposited) - len(set(deposited)),
            dlq=len(remaining),
        ),
        "pipeline+broker dead letters replayed",
    )
    assert sorted(deposited) == sorted(order_ids)  # each once
    assert remaining == []


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


async def _hand_back(bus: Bus, queue_name: str, message_id: str, *, times: int) -> None:
    """Take the message and reject it back to its queue ``times`` times, as a consumer
    crashing on it would (``basic.reject`` counts toward the quorum queue's delivery count)."""
    connection = await aio_pika.connect(bus.infra.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name)
        returned = 0
        for _ in range(400):
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                await asyncio.sleep(0.05)
                continue
            assert message.message_id == message_id
            await message.reject(requeue=True)
            returned += 1
            if returned == times:
                return
        raise AssertionError(f"{message_id} handed back {returned} of {times} times")
    finally:
        await connection.close()
