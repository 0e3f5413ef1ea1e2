"""One thin flow through all four services, against real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest
from azl_testing import builders, flows
from azl_testing.bus import Bus
from azl_testing.metrics import metric, metric_reaches
from azl_testing.tokens import bearer

from azl_contracts import orders as o
from azl_contracts.common import OrderStatus

from .conftest import Platform

S = OrderStatus
Counts = dict[str, float]

# goods total (VND) → purchase fee (VND), each computed by hand from spec §4:
# ≤ 2,000,000 → 3 %; ≤ 20,000,000 → 2.5 %; above → 2 %; minimum 10,000; whole VND half-up.
PURCHASE_FEE_CASES = [
    ("100000", 10_000),  # 3 % = 3,000 → the minimum
    ("333334", 10_000),  # 3 % = 10,000.02
    ("1000050", 30_002),  # 3 % = 30,001.5 → half-up
    ("2000000", 60_000),  # upper boundary of the first tier
    ("2000001", 50_000),  # 2.5 % = 50,000.025
    ("20000000", 500_000),  # upper boundary of the second tier
    ("20000001", 400_000),  # 2 % = 400,000.02
    ("50000000", 1_000_000),
]


@pytest.mark.parametrize(("goods_total", "expected_fee"), PURCHASE_FEE_CASES)
async def test_placed_and_deposited_order_flows_through_every_service(
    bus: Bus, platform: Platform, goods_total: str, expected_fee: int
) -> None:
    customer = builders.customer()
    # exchange rate 1 makes the goods total equal the CNY price
    order = await flows.place(bus, customer, items=[builders.item(f"{goods_total}.00")], rate="1")
    placed = (await bus.wait_for_order("orders.order.placed", order.order_id))[0].json
    assert placed["goods"]["goods_total_vnd"] == goods_total
    assert order.required_deposit == (Decimal(goods_total) * Decimal("0.7")).quantize(Decimal(1))

    await bus.emit(builders.deposit(order.order_id, order.required_deposit))

    deposited = await bus.wait_for_order("orders.order.deposited", order.order_id)
    charged = await bus.wait_for_order("fees.fee.charged", order.order_id)
    assert [c.json["fee_code"] for c in charged] == ["purchase_fee"]
    assert Decimal(charged[0].json["amount_vnd"]) == expected_fee
    assert charged[0].json["catalog_version"]
    created = await bus.wait_for(
        "notifications.notification.created",
        lambda e: e.json["order_id"] == str(order.order_id),
    )
    assert created[0].json["recipient"] == customer.id
    assert created[0].json["template"] == "order_deposited"
    # the fee and the notification were caused by the deposited event, in the same flow
    assert charged[0].causation_id == deposited[0].message_id
    assert charged[0].correlation_id == deposited[0].correlation_id

    async with platform.http("notifications") as http:
        inbox = (await http.get("/notifications", headers=bearer(customer.id))).json()
    assert [n["template"] for n in inbox["items"]] == ["order_deposited"]
    assert order.code in inbox["items"][0]["title"]
    assert inbox["unread"] == 1

    async with platform.http("complaints") as http:
        state = await _eventually_json(
            http,
            f"/order-states/{order.order_id}",
            customer.id,
            lambda s: s["status"] == "deposited" and s["paid_vnd"] > 0,
        )
    assert state["paid_vnd"] == int(order.required_deposit)


async def test_partial_deposits_reach_the_required_deposit(bus: Bus, platform: Platform) -> None:
    order = await flows.place(bus, items=[builders.item("1000.00")], rate="3500")  # 3,500,000
    assert order.required_deposit == 2_450_000
    await bus.emit(builders.deposit(order.order_id, 2_000_000))
    recorded = await bus.wait_for_order("orders.order.deposit-payment-recorded", order.order_id)
    assert recorded[0].json["deposit_paid_vnd"] == "2000000"
    await _orders_caught_up(bus)
    assert not bus.seen(
        "orders.order.deposited", lambda e: e.json["order_id"] == str(order.order_id)
    )
    assert (await _order_view(platform, order.order_id))["status"] == "awaiting_deposit"

    await bus.emit(builders.deposit(order.order_id, 450_000))
    deposited = await bus.wait_for_order("orders.order.deposited", order.order_id)
    assert deposited[0].json["deposit_paid_vnd"] == "2450000"


DEPOSIT_TYPE = "payments.deposit.received.v1"
DEPOSIT_CONSUMERS = ("orders", "fees")  # the services whose inbox takes a deposit


async def _deposits_settled(bus: Bus, platform: Platform, outcome: str | None = None) -> Counts:
    """How many deliveries of a deposit each of its consumers has settled (acked)."""
    labels = {"outcome": outcome} if outcome else {}
    return {
        service: await metric(
            platform.url(service),
            "azl_messages_handled_total",
            queue=bus.infra.name(f"{service}.payment-events"),
            message_type=DEPOSIT_TYPE,
            **labels,
        )
        for service in DEPOSIT_CONSUMERS
    }


async def _until_deposits_settled(bus: Bus, platform: Platform, counts: Counts) -> Counts:
    """Wait until each consumer has settled ``counts`` deliveries (its inbox decided)."""
    return {
        service: await metric_reaches(
            platform.url(service),
            "azl_messages_handled_total",
            counts[service],
            {"queue": bus.infra.name(f"{service}.payment-events"), "message_type": DEPOSIT_TYPE},
        )
        for service in DEPOSIT_CONSUMERS
    }


def _plus(counts: Counts, n: int) -> Counts:
    return {service: count + n for service, count in counts.items()}


async def test_the_same_deposit_delivered_twice_counts_once(bus: Bus, platform: Platform) -> None:
    order = await flows.place(bus, items=[builders.item("200.00")], rate="3500")
    deposit = builders.deposit(order.order_id, order.required_deposit)
    message_id = str(uuid4())
    settled, duplicates = (
        await _deposits_settled(bus, platform),
        await _deposits_settled(bus, platform, "duplicate"),
    )
    await bus.emit(deposit, message_id=message_id)
    await bus.emit(deposit, message_id=message_id)
    await bus.wait_for_order("fees.fee.charged", order.order_id)
    assert await _until_deposits_settled(bus, platform, _plus(settled, 2)) == _plus(settled, 2)
    assert await _deposits_settled(bus, platform, "duplicate") == _plus(duplicates, 1)
    await _orders_caught_up(bus)

    def of_order(prefix: str) -> int:
        return len(bus.seen(prefix, lambda e: e.json.get("order_id") == str(order.order_id)))

    assert of_order("orders.order.deposit-payment-recorded") == 1
    assert of_order("orders.order.deposited") == 1
    assert of_order("fees.fee.charged") == 1
    ledgers = bus.seen("fees.ledger.updated", lambda e: e.json["order_id"] == str(order.order_id))
    assert Decimal(ledgers[-1].json["payments_total_vnd"]) == order.required_deposit
    view = await _order_view(platform, order.order_id)
    assert view["info"]["deposit_paid_vnd"] == int(order.required_deposit)


async def test_a_redelivered_deposit_counts_once_even_under_another_payment_id(
    bus: Bus, platform: Platform
) -> None:
    """The inbox alone decides: the orders and fees rules also skip a payment id they have
    seen, so here the second delivery (same message id) names a payment id never seen."""
    order = await flows.place(bus, items=[builders.item("200.00")], rate="3500")
    message_id = str(uuid4())
    first = builders.deposit(order.order_id, order.required_deposit, payment_id="pay-first")
    again = builders.deposit(order.order_id, order.required_deposit, payment_id="pay-again")
    settled = await _deposits_settled(bus, platform)
    duplicates = await _deposits_settled(bus, platform, "duplicate")

    await bus.emit(first, message_id=message_id)
    await bus.wait_for_order("fees.fee.charged", order.order_id)
    assert await _until_deposits_settled(bus, platform, _plus(settled, 1)) == _plus(settled, 1)
    await bus.emit(again, message_id=message_id)
    assert await _until_deposits_settled(bus, platform, _plus(settled, 2)) == _plus(settled, 2)

    assert await _deposits_settled(bus, platform, "duplicate") == _plus(duplicates, 1)
    view = await _order_view(platform, order.order_id)
    assert [p["payment_id"] for p in view["payments"]] == ["pay-first"]
    assert view["info"]["deposit_paid_vnd"] == int(order.required_deposit)
    async with platform.http("fees") as http:
        ledger = (
            await http.get(f"/ledgers/{order.order_id}", headers=bearer("ops", "staff"))
        ).json()
    payments = [e["reference"] for e in ledger["entries"] if e["kind"] == "payment"]
    assert payments == ["pay-first"]
    assert ledger["payments_total_vnd"] == int(order.required_deposit)
    assert ledger["fees"] == {"purchase_fee": 21_000}  # 3 % of 700,000, charged once


CANCEL_RESULTS = {
    S.AWAITING_DEPOSIT: S.CANCELLED,
    S.DEPOSITED: S.CANCELLED,
    S.PURCHASING: S.CANCELLED,
    S.AWAITING_CONFIRMATION: S.CANCELLED,
    S.PURCHASED: S.CANCELLATION_REQUESTED,
    S.CANCELLATION_REQUESTED: None,
    S.SELLER_SHIPPED: None,
    S.IN_CHINA_WAREHOUSE: None,
    S.IN_TRANSIT: None,
    S.IN_VIETNAM_WAREHOUSE: None,
    S.DELIVERING: None,
    S.DELIVERED: None,
    S.COMPLETED: None,
    S.CANCELLED: None,
}


@pytest.mark.parametrize("status", list(CANCEL_RESULTS), ids=lambda s: s.value)
async def test_cancel_order_in_every_status(
    bus: Bus, platform: Platform, status: OrderStatus
) -> None:
    order = await flows.drive_to(bus, status)
    reply = await bus.request(
        o.CancelOrder(actor=order.customer, order_id=order.order_id, reason="changed my mind")
    )
    expected = CANCEL_RESULTS[status]
    async with platform.http("orders") as http:
        view = (
            await http.get(f"/orders/{order.order_id}", headers=bearer(order.customer.id))
        ).json()
    if expected is None:
        assert reply["status"] == "rejected"
        assert reply["reason_code"] == "invalid_state"
        assert view["status"] == status.value
        rejected = await bus.wait_for(
            "orders.command.rejected", lambda e: e.json["command_id"] == reply["command_id"]
        )
        assert rejected[0].json["reason_code"] == "invalid_state"
    else:
        assert reply["status"] == "accepted"
        assert view["status"] == expected.value
        assert view["history"][-1]["from_status"] == status.value
        assert view["history"][-1]["to_status"] == expected.value
        assert view["history"][-1]["reason"] == "changed my mind"
        types = [ref["type"] for ref in reply["events"]]
        assert "orders.order.status-changed.v1" in types
        specific = (
            "orders.order.cancelled.v1"
            if expected is S.CANCELLED
            else "orders.order.cancellation-requested.v1"
        )
        assert specific in types


async def test_a_customer_cannot_cancel_another_customers_order(
    bus: Bus, platform: Platform
) -> None:
    order = await flows.drive_to(bus, S.DEPOSITED)
    intruder = builders.customer()
    reply = await bus.request(o.CancelOrder(actor=intruder, order_id=order.order_id))
    assert reply["status"] == "rejected"
    assert reply["reason_code"] == "forbidden"
    await _orders_caught_up(bus)
    caused = bus.seen(where=lambda e: e.causation_id == reply["command_id"])
    assert [e.type for e in caused] == ["orders.command.rejected.v1"]
    async with platform.http("orders") as http:
        view = (
            await http.get(f"/orders/{order.order_id}", headers=bearer(order.customer.id))
        ).json()
        hidden = await http.get(f"/orders/{order.order_id}", headers=bearer(intruder.id))
    assert view["status"] == "deposited"
    assert hidden.status_code == 404


async def test_a_staff_command_from_a_customer_is_forbidden(bus: Bus) -> None:
    order = await flows.drive_to(bus, S.DEPOSITED)
    reply = await bus.request(o.StartPurchasing(actor=order.customer, order_id=order.order_id))
    assert reply["status"] == "rejected"
    assert reply["reason_code"] == "forbidden"


async def test_reply_to_receives_the_outcome(bus: Bus) -> None:
    customer = builders.customer()
    accepted = await bus.request(builders.place_order(customer))
    assert accepted["status"] == "accepted"
    assert accepted["command_type"] == "orders.place-order.v1"
    assert [e["type"] for e in accepted["events"]] == [
        "orders.order.placed.v2",
        "orders.order.status-changed.v1",
    ]
    assert accepted["result"]["order_code"].startswith("AZ")
    assert len(accepted["result"]["order_code"]) == 10

    rejected = await bus.request(o.CancelOrder(actor=customer, order_id=uuid4()))
    assert rejected["status"] == "rejected"
    assert rejected["reason_code"] == "not_found"
    assert rejected["events"][0]["type"] == "orders.command.rejected.v1"


async def _orders_caught_up(bus: Bus) -> None:
    """Until every event orders published so far has reached the bus: orders publishes on one
    channel, in commit order, so the outcome of a command sent now comes after all of them."""
    reply = await bus.request(o.CancelOrder(actor=builders.customer(), order_id=uuid4()))
    assert reply["reason_code"] == "not_found"
    await bus.wait_for(
        "orders.command.rejected", lambda e: e.json["command_id"] == reply["command_id"]
    )


async def _order_view(platform: Platform, order_id: object) -> dict[str, Any]:
    async with platform.http("orders") as http:
        response = await http.get(f"/orders/{order_id}", headers=bearer("ops", "staff"))
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def _eventually_json(
    http: httpx.AsyncClient,
    path: str,
    subject: str,
    condition: Callable[[dict[str, Any]], bool],
    timeout: float = 10.0,
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await http.get(path, headers=bearer(subject))
        if response.status_code == 200 and condition(response.json()):
            body: dict[str, Any] = response.json()
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{path}: {response.status_code} {response.text}")
        await asyncio.sleep(0.1)
