"""Versions side by side (spec §2): place-order and order.placed have a v2 that puts the
recipient and the address apart; during the migration window a storefront still on v1 and
one on v2 are both served, and the consumers of orders.order.placed read both versions (an
orders instance of the previous release still publishes v1). Closing the window
(``AZL_RETIRED_MESSAGE_TYPES``) refuses v1 with its reason: a command gets
``version_retired``, an event is dead-lettered saying so."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from azl_testing import builders
from azl_testing.bus import Bus
from azl_testing.complaints import ComplaintsApi
from azl_testing.infra import Infra, own_namespace
from azl_testing.ledger import SimulatedOrder, ledger_when
from azl_testing.metrics import metric, metric_reaches
from azl_testing.processes import ServiceProcess
from azl_testing.tokens import bearer

from azl_contracts import orders as o

from .conftest import Platform

RETIRED = "orders.place-order.v1,orders.order.placed.v1"
HANDLED = "azl_messages_handled_total"


async def handled(base_url: str, message_type: str, outcome: str) -> float:
    return await metric(base_url, HANDLED, message_type=message_type, outcome=outcome)


async def test_a_v1_and_a_v2_storefront_in_the_same_run(bus: Bus, platform: Platform) -> None:
    orders_url = platform.url("orders")
    before = {v: await handled(orders_url, f"orders.place-order.v{v}", "accepted") for v in (1, 2)}
    customer = builders.customer()
    v1 = [builders.place_order(customer) for _ in range(3)]
    v2 = [builders.place_order_v2(customer) for _ in range(3)]
    both: list[o.PlaceOrderV1 | o.PlaceOrder] = [*v1, *v2]
    outcomes = await asyncio.gather(*(bus.request(command) for command in both))
    assert [outcome["status"] for outcome in outcomes] == ["accepted"] * 6
    assert {outcome["command_type"] for outcome in outcomes[:3]} == {"orders.place-order.v1"}
    assert {outcome["command_type"] for outcome in outcomes[3:]} == {"orders.place-order.v2"}

    async with platform.http("orders") as http:
        for command in both:
            [placed] = await bus.wait_for_order("orders.order.placed", command.order_id)
            assert placed.type == "orders.order.placed.v2"  # the producer is on v2
            assert placed.json["delivery"] == {
                "recipient": {"full_name": "Nguyễn Văn An", "phone": "+84912345678"},
                "address": {"line": "12 Phố Huế", "district": "Hai Bà Trưng", "province": "Hà Nội"},
            }
            view = (
                await http.get(f"/orders/{command.order_id}", headers=bearer(customer.id))
            ).json()
            assert view["info"]["delivery_address"]["address_line"] == "12 Phố Huế"
            await ledger_when(bus, str(command.order_id), lambda led: led["ledger_version"] >= 1)

    counts = {v: await handled(orders_url, f"orders.place-order.v{v}", "accepted") for v in (1, 2)}
    v1_count, v2_count = counts[1] - before[1], counts[2] - before[2]
    print(f"\nplace-order handled by orders: v1 {v1_count:.0f}, v2 {v2_count:.0f}")
    assert counts[1] - before[1] == 3
    assert counts[2] - before[2] == 3


async def test_the_consumers_of_order_placed_read_v1_and_v2(bus: Bus, platform: Platform) -> None:
    """A v1 orders.order.placed (from an orders instance not yet moved) and a v2 one (from an
    upgraded one): fees opens both ledgers, complaints knows both orders."""
    old = SimulatedOrder([(2, "50.00")])
    new = SimulatedOrder([(2, "50.00")])
    v1_event = old.placed()
    v2_event = o.OrderPlaced.model_validate(
        {**new.placed().model_dump(exclude={"delivery_address"}), "delivery": _delivery()}
    )
    assert v1_event.message_type() == "orders.order.placed.v1"
    consumers = {s: platform.url(s) for s in ("fees", "complaints", "notifications")}
    before = {
        s: await handled(u, "orders.order.placed.v1", "applied") for s, u in consumers.items()
    }
    await bus.emit(v1_event)
    await bus.emit(v2_event)

    for order in (old, new):
        ledger = await ledger_when(bus, order.order_id, lambda led: led["ledger_version"] >= 1)
        assert ledger["goods_total_vnd"] == "350000"  # 2 × 50 CNY × 3,500
    async with platform.http("complaints") as http:
        for order in (old, new):
            await ComplaintsApi(http).when(
                f"/order-states/{order.order_id}", lambda state: state["status"] is not None
            )
    for service, url in consumers.items():
        after = await metric_reaches(
            url, HANDLED, before[service] + 1, {"message_type": "orders.order.placed.v1"}
        )
        print(f"{service} applied orders.order.placed.v1 {after - before[service]:.0f} time(s)")
        assert after - before[service] == 1


def _delivery() -> dict[str, Any]:
    from azl_contracts.common import Delivery

    return Delivery.of(builders.ADDRESS).model_dump()


# --- the window closed ----------------------------------------------------------------


@pytest.fixture(scope="module")
def closed(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    """orders and fees of a namespace of their own, with v1 retired."""
    with own_namespace(infra) as own:
        logs: Path = tmp_path_factory.mktemp("closed-window")
        processes = [
            ServiceProcess(
                name, own, logs, extra_env={"AZL_RETIRED_MESSAGE_TYPES": RETIRED}
            ).start()
            for name in ("orders", "fees")
        ]
        try:
            for process in processes:
                process.wait_ready()
            yield own
        finally:
            for process in processes:
                process.stop()


@pytest_asyncio.fixture
async def closed_bus(closed: Infra) -> AsyncIterator[Bus]:
    async with Bus(closed) as client:
        yield client


async def test_once_the_window_is_closed_v1_is_refused_with_its_reason(closed_bus: Bus) -> None:
    bus = closed_bus
    customer = builders.customer()
    refused = await bus.request(builders.place_order(customer))
    assert refused["status"] == "rejected"
    assert refused["reason_code"] == "version_retired"
    assert refused["details"] == {
        "message_type": "orders.place-order.v1",
        "current": "orders.place-order.v2",
    }
    [rejected] = await bus.wait_for(
        "orders.command.rejected", lambda e: e.json["command_id"] == refused["command_id"]
    )
    assert rejected.json["reason_code"] == "version_retired"
    accepted = await bus.request(builders.place_order_v2(customer))
    assert accepted["status"] == "accepted"
    assert accepted["events"][0]["type"] == "orders.order.placed.v2"

    # a v1 event (say, a dead letter replayed after the window) is dead-lettered with why
    stale = SimulatedOrder([(1, "10.00")]).placed()
    message_id = await bus.emit(stale)
    letter = await bus.dead_letter("fees.order-events.dlq", message_id)
    assert letter.type == "orders.order.placed.v1"
    assert letter.headers["x-azl-dead-letter-code"] == "not_applicable"
    assert letter.headers["x-azl-dead-letter-reason"].startswith(
        "version_retired: orders.order.placed.v1 is retired"
    )
