"""The fees service alone, in a namespace of its own, with AZL_DEDUCT_SHIPPING_FROM_REFUNDS on.

The test publishes the orders events itself, as the orders service would, so they can
arrive late, out of order and twice — what at-least-once delivery across queues allows.
The database it migrated on start is also compared with the tables the code declares.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest
import pytest_asyncio
from azl_testing import builders
from azl_testing.builders import payment
from azl_testing.bus import Bus
from azl_testing.infra import Infra, own_namespace
from azl_testing.ledger import (
    SimulatedOrder,
    amounts,
    fees_of,
    fence_fees,
    ledger_when,
    of_order,
    package,
    refund_approved,
)
from azl_testing.processes import ServiceProcess
from azl_testing.schema import schema_differences

from azl_contracts.common import ServiceCode
from fees.storage import metadata

C = ServiceCode


async def fenced(bus: Bus) -> None:
    """Evidence, not a quiet period, that fees handled every event sent before: a fence
    order's placement after them on fees' order queue (its ledger opens), then a payment
    and a refund of it on the other two queues (``fence_fees``)."""
    fence = SimulatedOrder([(1, "10.00")])
    await bus.emit(fence.placed())
    await ledger_when(bus, fence.order_id, lambda led: True)
    await fence_fees(bus, fence.order_id, fence.customer_id)


@pytest.fixture(scope="module")
def own_infra(infra: Infra) -> Iterator[Infra]:
    """The run's servers, in a namespace (and databases) of this module's own."""
    with own_namespace(infra) as own:
        yield own


@pytest.fixture(scope="module")
def fees_alone(own_infra: Infra, log_dir: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        "fees",
        own_infra,
        log_dir,
        extra_env={
            "AZL_DEDUCT_SHIPPING_FROM_REFUNDS": "true",
            # a transient failure gets two quick attempts here; a message waiting for the
            # order it builds on is not held to that (see the early payment below)
            "AZL_RETRY_MAX_ATTEMPTS": "2",
            "AZL_RETRY_BASE_DELAY": "0.05",
        },
    ).start()
    try:
        process.wait_ready()
        yield process
    finally:
        assert process.stop() in (0, None), process.log_tail()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fees_bus(own_infra: Infra, fees_alone: ServiceProcess) -> AsyncIterator[Bus]:
    async with Bus(own_infra) as client:
        yield client


async def test_refunds_deduct_the_charged_shipping_once_per_order(fees_bus: Bus) -> None:
    bus = fees_bus
    order = SimulatedOrder([(1, "100.00")])  # 350,000 VND
    oid = order.order_id
    await bus.emit(order.placed())
    await bus.emit(builders.deposit(oid, 245_000))
    await bus.emit(order.deposited(version=2))
    # P1: 3.1 kg → 3.5 kg chargeable → 98,000 international shipping
    await bus.emit(order.delivered(version=9, packages=[package("P1", "3.1")]))
    await ledger_when(
        bus,
        oid,
        lambda led: (
            fees_of(led) == {"purchase_fee": 10_500, "international_shipping": 98_000}
            and led["payments_total_vnd"] == "245000"
        ),  # its own queue: it may come last
    )

    small = refund_approved(oid, order.customer_id, 60_000)
    await bus.emit(small)
    first = (await bus.wait_for_order("fees.refund.recorded", oid))[0]
    # 60,000 resolved − 60,000 of the shipping: nothing paid, never below 0
    assert (first.json["amount_vnd"], first.json["shipping_deducted_vnd"]) == ("0", "60000")

    large = refund_approved(oid, order.customer_id, 100_000)
    await bus.emit(large)
    await bus.emit(large)  # the same complaint's refund again
    second = (await bus.wait_for_order("fees.refund.recorded", oid, count=2))[1]
    # only the 38,000 of shipping not deducted yet comes off the second refund
    assert (second.json["amount_vnd"], second.json["shipping_deducted_vnd"]) == ("62000", "38000")
    assert second.json["resolved_amount_vnd"] == "100000"

    final = await ledger_when(bus, oid, lambda led: led["refunds_total_vnd"] == "62000")
    assert final["shipping_deducted_vnd"] == "98000"
    # cost 350,000 + 108,500 − 62,000 refunded; paid 245,000 − 62,000: the balance is the
    # 213,500 it was before the refunds
    assert final["balance_due_vnd"] == "213500"
    await fenced(bus)
    assert len(of_order(bus, "fees.refund.recorded", oid)) == 2


async def test_events_late_out_of_order_and_twice_end_in_the_same_ledger(fees_bus: Bus) -> None:
    bus = fees_bus
    # A: 2 × 100.00, B: 1 × 50.00 (875,000 VND), tallying selected
    order = SimulatedOrder([(2, "100.00"), (1, "50.00")], [C.TALLYING])
    oid = order.order_id

    # a payment reported before fees has seen the order waits for its ledger (RetryLater),
    # far longer than the two attempts a transient failure gets
    await bus.emit(payment(oid, 100_000, payment_id="early-1"))
    await asyncio.sleep(3.0)
    await bus.emit(order.placed())
    await ledger_when(bus, oid, lambda led: led["payments_total_vnd"] == "100000")

    # goods of order version 5 (A → 4: 450 CNY → 1,575,000 VND) overtake the deposit (v2);
    # version 4 (A → 3) arrives after version 5, and version 5 arrives twice
    v5 = order.quantities_increased(5, order.with_quantities(4, 1))
    await bus.emit(v5)
    await bus.emit(order.deposited(version=2))
    await bus.emit(order.quantities_increased(4, order.with_quantities(3, 1)))
    await bus.emit(v5, message_id=str(uuid4()))
    # a last change on the same queue: once it is priced, everything before it was handled
    await bus.emit(order.services_updated(6, [C.TALLYING, C.INSURANCE]))
    final = await ledger_when(bus, oid, lambda led: "insurance" in fees_of(led))

    assert fees_of(final) == {
        "purchase_fee": 47_250,  # 3 % of 1,575,000
        "tallying": 10_000,  # 4 × 2,000 + 1 × 2,000
        "insurance": 47_250,
    }
    assert final["goods_total_vnd"] == "1575000"
    await fenced(bus)
    # each fee charged once, on the newest goods: nothing to re-price, nothing voided
    charged = of_order(bus, "fees.fee.charged", oid)
    assert sorted(amounts(charged).items()) == sorted(fees_of(final).items())
    assert len(charged) == 3
    assert of_order(bus, "fees.fee.voided", oid) == []
    assert final["payments_total_vnd"] == "100000"
    assert Decimal(final["balance_due_vnd"]) == 1_575_000 + 104_500 - 100_000


async def test_the_migrations_build_the_schema_the_code_uses(
    own_infra: Infra, fees_alone: ServiceProcess
) -> None:
    """The service migrated its database on start; nothing differs from ``storage.metadata``."""
    differences = await schema_differences(own_infra, "fees", metadata)
    assert differences == []
