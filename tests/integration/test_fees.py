"""The fees ledger through the whole platform: orders drive it over RabbitMQ, the payments
system and complaints are simulated by publishing their events. Every amount is computed by
hand from spec §4 in the comments next to it."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest
from azl_testing import builders, flows
from azl_testing.builders import payment
from azl_testing.bus import Bus
from azl_testing.flows import accepted
from azl_testing.ledger import (
    amounts,
    caused_by,
    fees_of,
    fence_fees,
    ledger_when,
    lines_of,
    of_order,
    refund_approved,
)
from azl_testing.tokens import bearer

from azl_contracts import fees as f
from azl_contracts import orders as o
from azl_contracts.common import OrderStatus, PaymentMethod, ServiceCode
from azl_contracts.money import DEFAULT_DEPOSIT_RATIO, MAX_VND
from azl_contracts.topology import EVENTS_EXCHANGE
from azl_kit.settings import DepositRatioSetting
from fees.settings import FeesSettings
from orders.settings import OrdersSettings

from .conftest import Platform

S = OrderStatus
C = ServiceCode
STAFF = builders.STAFF


async def fenced(bus: Bus) -> None:
    """Evidence, not a quiet period, that fees and orders handled everything sent before: a
    fence order placed now (fees opens its ledger: its order queue got past the earlier
    events), then ``fence_fees`` on fees' payment and complaint queues, and orders' record
    of the fence deposit (its payment queue got past the earlier payments)."""
    order = await flows.place(bus)
    await ledger_when(bus, order.order_id, lambda led: True)
    deposit_id = await fence_fees(bus, order.order_id, order.customer.id)
    await bus.wait_for("orders.order.", lambda e: e.causation_id == deposit_id)


WAREHOUSE = builders.WAREHOUSE


def package(code: str, weight: str, dims: tuple[str, str, str]) -> o.PackageDetails:
    return o.PackageDetails(
        package_code=code,
        tracking_number=f"VN{uuid4().hex[:10]}",
        weight_kg=Decimal(weight),
        length_cm=Decimal(dims[0]),
        width_cm=Decimal(dims[1]),
        height_cm=Decimal(dims[2]),
    )


async def advance(bus: Bus, order: flows.PlacedOrder, to_status: OrderStatus) -> None:
    await accepted(
        bus, o.AdvanceShipping(actor=WAREHOUSE, order_id=order.order_id, to_status=to_status)
    )


async def eventually(
    http: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    condition: Callable[[dict[str, Any]], bool],
    timeout: float = 10.0,
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await http.get(path, headers=headers)
        if response.status_code == 200 and condition(response.json()):
            body: dict[str, Any] = response.json()
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{path}: {response.status_code} {response.text}")
        await asyncio.sleep(0.1)


# --- one order with every service, through delivery -----------------------------------


async def test_an_order_with_every_service_is_charged_what_was_computed_by_hand(
    bus: Bus, platform: Platform
) -> None:
    customer = builders.customer()
    # 2 × 8.50 + 3 × 10.00 + 1 × 150.00 = 197 CNY × 3,500 = 689,500 VND
    order = await flows.place(
        bus,
        customer,
        items=[builders.item("8.50", 2), builders.item("10.00", 3), builders.item("150.00", 1)],
        services=[C.TALLYING, C.FAST_ORDER, C.INSURANCE, C.WOODEN_CRATE, C.BUBBLE_WRAP],
        rate="3500",
    )
    oid = order.order_id
    assert order.required_deposit == 482_650  # 70 % of 689,500
    async with platform.http("fees") as http:
        catalog_version = (await http.get("/catalog", headers=bearer("ops", "staff"))).json()[
            "catalog"
        ]["version"]

    await flows.pay_deposit(bus, order)
    deposited = (await bus.wait_for_order("orders.order.deposited", oid))[0]
    at_order = await bus.wait_for_order("fees.fee.charged", oid, count=4)
    assert amounts(at_order) == {
        "purchase_fee": 20_685,  # 3 % of 689,500 (≤ 2,000,000)
        "tallying": 13_000,  # 2 × 1,000 (< 10 CNY) + 3 × 2,000 (10 CNY) + 1 × 5,000 (> 100)
        "fast_order": 20_000,  # 1 % = 6,895 → minimum 20,000
        "insurance": 20_685,  # 3 %
    }
    for charge in at_order:
        assert charge.causation_id == deposited.message_id
        assert charge.correlation_id == deposited.correlation_id
        assert charge.json["catalog_version"] == catalog_version
        assert charge.json["on_completion"] is False
        assert charge.json["customer_id"] == customer.id

    await accepted(bus, o.StartPurchasing(actor=STAFF, order_id=oid))
    await accepted(bus, o.MarkItemsOrdered(actor=STAFF, order_id=oid, item_ids=order.item_ids))
    await advance(bus, order, S.SELLER_SHIPPED)
    # P1: 3.1 kg, 6,000 cm³ → 1 kg volumetric; chargeable 3.5 kg
    # P2: 2.0 kg, 50 × 40 × 31 = 62,000 cm³ → 10.33 kg volumetric; chargeable 10.5 kg
    for pkg in (package("P1", "3.1", ("30", "20", "10")), package("P2", "2.0", ("50", "40", "31"))):
        await accepted(bus, o.RecordPackage(actor=WAREHOUSE, order_id=oid, package=pkg))
    await advance(bus, order, S.IN_TRANSIT)
    await advance(bus, order, S.DELIVERED)
    delivered = (await bus.wait_for_order("orders.order.delivered", oid))[0]
    await bus.wait_for_order("fees.fee.charged", oid, count=7)
    on_completion = caused_by(bus, "fees.fee.charged", delivered)
    assert amounts(on_completion) == {
        "wooden_crate": 100_000,  # (20,000 + 5,000 × 2.5) + (20,000 + 5,000 × 9.5)
        "bubble_wrap": 20_000,  # 2 packages × 10,000
        "international_shipping": 392_000,  # (3.5 + 10.5) kg × 28,000
    }
    basis = {c.json["fee_code"]: c.json["basis"] for c in on_completion}
    assert basis["international_shipping"] == "28,000 VND × 14 kg (3.5 + 10.5)"
    assert basis["wooden_crate"] == "P1 3.5 kg: 32,500; P2 10.5 kg: 67,500"
    assert all(c.json["on_completion"] is True for c in on_completion)
    assert all(c.json["catalog_version"] == catalog_version for c in on_completion)

    # fees 74,370 at order + 512,000 on completion = 586,370; with the goods 1,275,870;
    # the deposit paid 482,650, so 793,220 is due — paid cash on delivery
    due = await ledger_when(
        bus,
        oid,
        lambda led: led["charges_total_vnd"] == "586370" and led["payments_total_vnd"] == "482650",
    )
    assert due["balance_due_vnd"] == "793220"
    await bus.emit(payment(oid, 793_220, PaymentMethod.COD, payment_id=f"cod-{oid}"))
    final = await ledger_when(bus, oid, lambda led: led["payments_total_vnd"] == "1275870")

    assert lines_of(final) == Counter(
        {
            ("payment", None, 482_650): 1,
            ("charge", "purchase_fee", 20_685): 1,
            ("charge", "tallying", 13_000): 1,
            ("charge", "fast_order", 20_000): 1,
            ("charge", "insurance", 20_685): 1,
            ("charge", "wooden_crate", 100_000): 1,
            ("charge", "bubble_wrap", 20_000): 1,
            ("charge", "international_shipping", 392_000): 1,
            ("payment", None, 793_220): 1,
        }
    )
    assert final["entries"][-1]["description"] == "payment (cod)"
    assert {
        key: final[key]
        for key in (
            "goods_total_vnd",
            "charges_total_vnd",
            "payments_total_vnd",
            "refunds_total_vnd",
            "balance_due_vnd",
        )
    } == {
        "goods_total_vnd": "689500",
        "charges_total_vnd": "586370",
        "payments_total_vnd": "1275870",
        "refunds_total_vnd": "0",
        "balance_due_vnd": "0",
    }
    assert final["refund_due_vnd"] is None
    assert final["catalog_version"] == catalog_version

    # every event fees published for the order: 7 charges and one snapshot per change
    # (placement, deposit payment, deposited, delivered, payment on delivery)
    await bus.wait_for_order("fees.ledger.updated", oid, count=5)
    await fenced(bus)
    published = Counter(e.type for e in of_order(bus, "fees.", oid))
    assert published == {"fees.fee.charged.v1": 7, "fees.ledger.updated.v1": 5}
    versions = sorted(e.json["ledger_version"] for e in of_order(bus, "fees.ledger.updated", oid))
    assert versions == [1, 2, 3, 4, 5]

    # the read API shows the same ledger to the customer and to staff, to nobody else
    async with platform.http("fees") as http:
        mine = (await http.get(f"/ledgers/{oid}", headers=bearer(customer.id))).json()
        staff = await http.get(f"/ledgers/{oid}", headers=bearer("ops", "staff"))
        other = await http.get(f"/ledgers/{oid}", headers=bearer(builders.customer().id))
        anonymous = await http.get(f"/ledgers/{oid}")
        unknown = await http.get(f"/ledgers/{uuid4()}", headers=bearer("ops", "staff"))
    assert mine["fees"] == {
        "purchase_fee": 20_685,
        "tallying": 13_000,
        "fast_order": 20_000,
        "insurance": 20_685,
        "wooden_crate": 100_000,
        "bubble_wrap": 20_000,
        "international_shipping": 392_000,
    }
    assert (mine["goods_total_vnd"], mine["charges_total_vnd"], mine["balance_due_vnd"]) == (
        689_500,
        586_370,
        0,
    )
    assert mine["delivered"] is True
    assert [e["entry_id"] for e in mine["entries"]] == [e["entry_id"] for e in final["entries"]]
    assert sum(e["signed_vnd"] for e in mine["entries"]) + 689_500 == 0
    assert staff.status_code == 200
    assert other.status_code == 404
    assert anonymous.status_code == 401
    assert unknown.status_code == 404

    # and the orders service shows it as the transactions tab: nothing is due, it is paid
    async with platform.http("orders") as http:
        view = await eventually(
            http,
            f"/orders/{oid}",
            bearer(customer.id),
            lambda v: v["payment_status"] == "paid",
        )
    assert view["transactions"]["totals"]["balance_due_vnd"] == "0"
    assert len(view["transactions"]["entries"]) == 9


# --- goods changes ---------------------------------------------------------------------


async def test_goods_changes_charge_or_void_the_difference_once(bus: Bus) -> None:
    customer = builders.customer()
    # A: 2 × 100.00, B: 1 × 50.00 = 250 CNY × 3,500 = 875,000 VND
    order = await flows.place(
        bus,
        customer,
        items=[builders.item("100.00", 2), builders.item("50.00", 1)],
        services=[C.TALLYING, C.INSURANCE],
    )
    oid, (item_a, item_b) = order.order_id, order.item_ids
    await flows.pay_deposit(bus, order)
    await ledger_when(
        bus,
        oid,
        lambda led: (
            fees_of(led) == {"purchase_fee": 26_250, "tallying": 6_000, "insurance": 26_250}
        ),
    )
    await accepted(bus, o.StartPurchasing(actor=STAFF, order_id=oid))

    # order more: A 2 → 3 = 350 CNY → 1,225,000 VND
    await accepted(
        bus,
        o.IncreaseQuantities(
            actor=customer, order_id=oid, items=[o.ItemQuantity(item_id=item_a, quantity=3)]
        ),
    )
    increased = (await bus.wait_for_order("orders.order.quantities-increased", oid))[0]
    charged = await bus.wait_for(
        "fees.fee.charged", lambda e: e.causation_id == increased.message_id, count=3
    )
    assert amounts(charged) == {
        "purchase_fee": 10_500,  # 36,750 − 26,250
        "tallying": 2_000,  # the one added unit (100 CNY is in the middle tier)
        "insurance": 10_500,
    }

    # the shop raises B to 120.00 CNY; the customer confirms: 420 CNY → 1,470,000 VND
    change = o.ItemChange(item_id=item_b, new_unit_price_cny=Decimal("120.00"))
    await accepted(bus, o.ReportItemChange(actor=STAFF, order_id=oid, changes=[change]))
    await accepted(bus, o.ConfirmItems(actor=customer, order_id=oid, item_ids=[item_b]))
    confirmed = (await bus.wait_for_order("orders.order.items-confirmed", oid))[0]
    charged = await bus.wait_for(
        "fees.fee.charged", lambda e: e.causation_id == confirmed.message_id, count=3
    )
    assert amounts(charged) == {
        "purchase_fee": 7_350,  # 44,100 − 36,750
        "tallying": 3_000,  # B moves from 2,000 to 5,000 per unit (> 100 CNY)
        "insurance": 7_350,
    }

    # the same goods change delivered again (say, re-published after a relay crash)
    duplicate_id = await bus.publish_raw(
        confirmed.body,
        routing_key=confirmed.routing_key,
        exchange=EVENTS_EXCHANGE,
        message_type=confirmed.type,
        correlation_id=confirmed.correlation_id,
    )

    # the shop has only 1 of A; the customer declines A: 120 CNY → 420,000 VND
    change = o.ItemChange(item_id=item_a, new_quantity=1)
    await accepted(bus, o.ReportItemChange(actor=STAFF, order_id=oid, changes=[change]))
    await accepted(bus, o.DeclineItems(actor=customer, order_id=oid, item_ids=[item_a]))
    declined = (await bus.wait_for_order("orders.order.items-declined", oid))[0]
    voided = await bus.wait_for(
        "fees.fee.voided", lambda e: e.causation_id == declined.message_id, count=3
    )
    assert amounts(voided) == {
        "purchase_fee": 31_500,  # 44,100 → 12,600
        "tallying": 6_000,  # 11,000 → 5,000
        "insurance": 31_500,
    }

    # fees' order queue is FIFO: the duplicate was handled before the decline, and did nothing
    final = await ledger_when(bus, oid, lambda led: led["goods_total_vnd"] == "420000")
    assert fees_of(final) == {"purchase_fee": 12_600, "tallying": 5_000, "insurance": 12_600}
    await fenced(bus)
    assert bus.seen("fees.", lambda e: e.causation_id == duplicate_id) == []


# --- services updated ------------------------------------------------------------------


async def test_services_follow_update_services_until_they_are_locked(bus: Bus) -> None:
    customer = builders.customer()
    # 1 × 200.00 CNY × 3,500 = 700,000 VND
    order = await flows.place(
        bus, customer, items=[builders.item("200.00", 1)], services=[C.FAST_ORDER, C.BUBBLE_WRAP]
    )
    oid = order.order_id

    async def update(*services: ServiceCode) -> dict[str, Any]:
        return await bus.request(o.UpdateServices(actor=customer, order_id=oid, services=services))

    async def services_updated(reply: dict[str, Any]) -> Any:
        [ref] = [e for e in reply["events"] if e["type"] == "orders.order.services-updated.v1"]
        return (
            await bus.wait_for(
                "orders.order.services-updated", lambda e: e.message_id == ref["message_id"]
            )
        )[0]

    await flows.pay_deposit(bus, order)
    await ledger_when(
        bus, oid, lambda led: fees_of(led) == {"purchase_fee": 21_000, "fast_order": 20_000}
    )

    # deposited: at-order services can still be removed (voided) and added (charged)
    reply = await update(C.INSURANCE, C.WOODEN_CRATE)
    assert reply["status"] == "accepted"
    cause = await services_updated(reply)
    await bus.wait_for("fees.ledger.updated", lambda e: e.causation_id == cause.message_id)
    assert amounts(caused_by(bus, "fees.fee.voided", cause)) == {"fast_order": 20_000}
    assert amounts(caused_by(bus, "fees.fee.charged", cause)) == {"insurance": 21_000}  # 3 %

    # purchasing: an at-order service can be added; removing one is service_locked
    await accepted(bus, o.StartPurchasing(actor=STAFF, order_id=oid))
    cause = await services_updated(await update(C.INSURANCE, C.TALLYING, C.WOODEN_CRATE))
    await bus.wait_for("fees.ledger.updated", lambda e: e.causation_id == cause.message_id)
    assert amounts(caused_by(bus, "fees.fee.charged", cause)) == {"tallying": 5_000}  # > 100 CNY
    locked = await update(C.TALLYING, C.WOODEN_CRATE)
    assert (locked["status"], locked["reason_code"]) == ("rejected", "service_locked")

    # purchased: on-completion services can change; nothing is charged before delivery
    await accepted(bus, o.MarkItemsOrdered(actor=STAFF, order_id=oid, item_ids=order.item_ids))
    cause = await services_updated(await update(C.INSURANCE, C.TALLYING, C.BUBBLE_WRAP))
    await bus.wait_for("fees.ledger.updated", lambda e: e.causation_id == cause.message_id)
    assert caused_by(bus, "fees.fee.", cause) == []

    # in transit: on-completion services are locked too
    await advance(bus, order, S.SELLER_SHIPPED)
    pkg = package("P1", "1.2", ("20", "20", "10"))  # 1.2 kg → 1.5 kg chargeable
    await accepted(bus, o.RecordPackage(actor=WAREHOUSE, order_id=oid, package=pkg))
    await advance(bus, order, S.IN_TRANSIT)
    locked = await update(C.INSURANCE, C.TALLYING)
    assert (locked["status"], locked["reason_code"]) == ("rejected", "service_locked")

    await advance(bus, order, S.DELIVERED)
    delivered = (await bus.wait_for_order("orders.order.delivered", oid))[0]
    charged = await bus.wait_for(
        "fees.fee.charged", lambda e: e.causation_id == delivered.message_id, count=2
    )
    assert amounts(charged) == {"bubble_wrap": 10_000, "international_shipping": 42_000}
    expected = {
        "purchase_fee": 21_000,
        "tallying": 5_000,
        "insurance": 21_000,
        "bubble_wrap": 10_000,
        "international_shipping": 42_000,
    }
    await ledger_when(bus, oid, lambda led: fees_of(led) == expected)


# --- cancellation ----------------------------------------------------------------------

# 4 × 100.00 + 10 × 8.00 = 480 CNY × 3,500 = 1,680,000 VND; deposit 70 % = 1,176,000.
# At the deposit: purchase_fee 3 % = 50,400 · tallying 4 × 2,000 + 10 × 1,000 = 18,000 ·
# fast_order 1 % = 16,800 → 20,000 · insurance 3 % = 50,400.
AT_DEPOSIT = {"purchase_fee": 50_400, "tallying": 18_000, "fast_order": 20_000, "insurance": 50_400}
CANCELLATIONS = {
    # cancelled from: (what stays charged, paid, refund due)
    S.AWAITING_DEPOSIT: ({}, 500_000, 500_000),  # a partial deposit, all of it due back
    S.DEPOSITED: ({}, 1_176_000, 1_176_000),
    S.PURCHASING: ({"fast_order": 20_000}, 1_176_000, 1_156_000),
    S.AWAITING_CONFIRMATION: ({"fast_order": 20_000}, 1_176_000, 1_156_000),
    S.CANCELLATION_REQUESTED: (
        {"purchase_fee": 50_400, "fast_order": 20_000},
        1_176_000,
        1_105_600,
    ),
}


@pytest.mark.parametrize("cancelled_from", list(CANCELLATIONS), ids=lambda s: s.value)
async def test_a_cancellation_keeps_what_the_policy_says_and_refunds_the_rest(
    bus: Bus, cancelled_from: OrderStatus
) -> None:
    stays, paid, refund_due = CANCELLATIONS[cancelled_from]
    customer = builders.customer()
    order = await flows.place(
        bus,
        customer,
        items=[builders.item("100.00", 4), builders.item("8.00", 10)],
        services=[C.TALLYING, C.FAST_ORDER, C.INSURANCE],
    )
    oid = order.order_id
    assert order.required_deposit == 1_176_000
    await bus.emit(builders.deposit(oid, paid))
    charged = {} if cancelled_from is S.AWAITING_DEPOSIT else AT_DEPOSIT
    await ledger_when(
        bus,
        oid,
        lambda led: led["payments_total_vnd"] == str(paid) and fees_of(led) == charged,
    )
    if cancelled_from in (S.PURCHASING, S.AWAITING_CONFIRMATION, S.CANCELLATION_REQUESTED):
        await accepted(bus, o.StartPurchasing(actor=STAFF, order_id=oid))
    if cancelled_from is S.AWAITING_CONFIRMATION:
        change = o.ItemChange(item_id=order.item_ids[1], new_unit_price_cny=Decimal("9.00"))
        await accepted(bus, o.ReportItemChange(actor=STAFF, order_id=oid, changes=[change]))
    if cancelled_from is S.CANCELLATION_REQUESTED:
        await accepted(bus, o.MarkItemsOrdered(actor=STAFF, order_id=oid, item_ids=order.item_ids))
        await accepted(bus, o.CancelOrder(actor=customer, order_id=oid))
        await accepted(bus, o.ApproveCancellation(actor=STAFF, order_id=oid))
    else:
        await accepted(bus, o.CancelOrder(actor=customer, order_id=oid))

    cancelled = (await bus.wait_for_order("orders.order.cancelled", oid))[0]
    assert cancelled.json["cancelled_from"] == cancelled_from.value
    due = (await bus.wait_for_order("fees.refund.due", oid))[0]
    assert due.causation_id == cancelled.message_id
    assert {k: due.json[k] for k in ("amount_vnd", "payments_vnd", "retained_vnd")} == {
        "amount_vnd": str(refund_due),
        "payments_vnd": str(paid),
        "retained_vnd": str(sum(stays.values())),
    }
    assert due.json["cancelled_from"] == cancelled_from.value
    voided = caused_by(bus, "fees.fee.voided", cancelled)
    assert amounts(voided) == {c: a for c, a in charged.items() if c not in stays}

    final = await ledger_when(bus, oid, lambda led: led["refund_due_vnd"] is not None)
    assert fees_of(final) == stays
    assert final["refund_due_vnd"] == str(refund_due)
    assert final["goods_total_vnd"] == "0"
    assert final["balance_due_vnd"] == str(-refund_due)
    assert final["cancelled_from"] == cancelled_from.value

    # the payments system pays the refund out (reported twice): nothing is owed either way
    paid_out = builders.refund_paid(oid, refund_due)
    await bus.emit(paid_out)
    await bus.emit(paid_out)
    await fenced(bus)  # both reports handled
    settled = await ledger_when(bus, oid, lambda led: led["payouts_total_vnd"] != "0")
    assert settled["payouts_total_vnd"] == str(refund_due)
    assert settled["refund_due_vnd"] == "0"
    assert settled["balance_due_vnd"] == "0"
    assert settled["paid_vnd"] == settled["cost_vnd"] == str(sum(stays.values()))
    assert [e["kind"] for e in settled["entries"]][-1] == "payout"


async def test_money_received_in_any_status_is_recorded(bus: Bus) -> None:
    """The payments system may report a payment the spec does not expect (before the deposit,
    after a cancellation): it is money received, so the ledger records it and, once the order
    is cancelled, owes it back."""
    customer = builders.customer()
    order = await flows.place(bus, customer, items=[builders.item("100.00", 1)])  # 350,000
    oid = order.order_id
    await bus.emit(payment(oid, 100_000))
    early = await ledger_when(bus, oid, lambda led: led["payments_total_vnd"] == "100000")
    assert early["balance_due_vnd"] == "250000"
    assert not of_order(bus, "orders.order.deposited", oid)  # a payment is not the deposit

    await accepted(bus, o.CancelOrder(actor=customer, order_id=oid))
    first = (await bus.wait_for_order("fees.refund.due", oid))[0]
    assert first.json["amount_vnd"] == "100000"

    await bus.emit(payment(oid, 50_000, PaymentMethod.WALLET))
    dues = await bus.wait_for_order("fees.refund.due", oid, count=2)
    assert dues[1].json["amount_vnd"] == "150000"
    assert dues[1].json["payments_vnd"] == "150000"
    final = await ledger_when(bus, oid, lambda led: led["payments_total_vnd"] == "150000")
    assert final["refund_due_vnd"] == "150000"
    assert final["balance_due_vnd"] == "-150000"


async def test_a_payment_no_money_field_could_carry_is_dead_lettered_at_once(bus: Bus) -> None:
    """The deposit plus 999,999,999,999,999,999 VND: neither the ledger's nor the order's
    paid total could carry it. Refused by name in both services, dead-lettered at the first
    attempt for an operator, and nothing is recorded."""
    order = await flows.drive_to(bus, S.DEPOSITED)
    oid = order.order_id
    await ledger_when(
        bus, oid, lambda led: led["payments_total_vnd"] == str(order.required_deposit)
    )
    huge = payment(oid, MAX_VND)
    message_id = await bus.emit(huge)
    for queue in ("fees.payment-events.dlq", "orders.payment-events.dlq"):
        dead = await bus.dead_letter(queue, message_id)
        assert dead.headers["x-azl-dead-letter-code"] == "not_applicable"
        assert dead.headers["x-azl-dead-letter-reason"].startswith("limit_exceeded: "), queue
        assert dead.headers["x-azl-attempts"] == 1
    await fenced(bus)
    assert not bus.seen("fees.", lambda e: e.causation_id == message_id)
    assert not bus.seen("orders.", lambda e: e.causation_id == message_id)


# --- refunds from complaints -------------------------------------------------------------


async def test_a_complaint_refund_is_recorded_once(bus: Bus) -> None:
    order = await flows.drive_to(bus, S.DELIVERED)
    oid = order.order_id
    approved = refund_approved(oid, order.customer.id, 120_000)
    await bus.emit(approved)
    await bus.emit(approved)  # delivered twice, with another message id
    recorded = (await bus.wait_for_order("fees.refund.recorded", oid))[0]
    assert recorded.json["amount_vnd"] == "120000"
    assert recorded.json["resolved_amount_vnd"] == "120000"
    assert recorded.json["shipping_deducted_vnd"] == "0"  # the setting is off here
    assert recorded.json["complaint_id"] == str(approved.complaint_id)
    # the deposit reaches fees on its own queue and may come last
    ledger = await ledger_when(
        bus,
        oid,
        lambda led: (
            led["refunds_total_vnd"] == "120000"
            and led["payments_total_vnd"] == str(order.required_deposit)
        ),
    )
    # 350,000 goods + 10,500 purchase fee − 120,000 refunded = 240,500 cost;
    # 245,000 deposit − 120,000 refunded = 125,000 paid: the refund leaves the balance as it was
    assert ledger["cost_vnd"] == "240500"
    assert ledger["paid_vnd"] == "125000"
    assert ledger["balance_due_vnd"] == "115500"
    await fenced(bus)
    assert len(of_order(bus, "fees.refund.recorded", oid)) == 1


# --- the quote ---------------------------------------------------------------------------


async def test_a_quote_prices_a_prospective_order(bus: Bus) -> None:
    request = f.QuoteRequest.model_validate(
        {
            "items": [
                {"quantity": 2, "unit_price_cny": "8.50"},
                {"quantity": 3, "unit_price_cny": "10.00"},
                {"quantity": 1, "unit_price_cny": "150.00"},
            ],
            "services": ["tallying", "fast_order", "insurance", "bubble_wrap"],
            "exchange_rate": "3500",
            "packages": [
                {"package_code": "P1", "tracking_number": "T1", "weight_kg": "3.1",
                 "length_cm": "30", "width_cm": "20", "height_cm": "10"},
            ],
        }
    )  # fmt: skip
    reply = await bus.request(request, timeout=10)
    assert reply["status"] == "ok"
    assert reply["goods_total_vnd"] == "689500"
    assert {line["fee_code"]: line["amount_vnd"] for line in reply["lines"]} == {
        "purchase_fee": "20685",
        "tallying": "13000",
        "fast_order": "20000",
        "insurance": "20685",
        "bubble_wrap": "10000",
        "international_shipping": "98000",  # 3.5 kg × 28,000
    }
    assert reply["fees_total_vnd"] == "182370"
    assert reply["total_vnd"] == "871870"
    assert reply["required_deposit_vnd"] == "482650"
    assert reply["deposit_ratio"] == "0.70"
    assert reply["priced_on_delivery"] == []


def test_the_quotes_deposit_ratio_and_orders_default_are_one() -> None:
    """The deposit is decided by orders (AZL_DEPOSIT_RATIO); the quote estimates it with the
    same setting, declared once (DepositRatioSetting), defaulting to DEFAULT_DEPOSIT_RATIO."""
    settings = OrdersSettings.model_fields["deposit_ratio"].default
    assert settings == FeesSettings.model_fields["deposit_ratio"].default == DEFAULT_DEPOSIT_RATIO
    assert issubclass(OrdersSettings, DepositRatioSetting)
    assert issubclass(FeesSettings, DepositRatioSetting)


async def test_the_quoted_deposit_is_the_one_the_placed_order_requires(bus: Bus) -> None:
    items = [builders.item("8.50", 2), builders.item("150.00", 1)]  # 167 CNY × 3,500
    quoted = await bus.request(
        f.QuoteRequest.model_validate(
            {"items": [{"quantity": i["quantity"], "unit_price_cny": i["unit_price_cny"]}
                       for i in items], "exchange_rate": "3500"}
        ),
        timeout=10,
    )  # fmt: skip
    order = await flows.place(bus, items=items)
    assert quoted["required_deposit_vnd"] == str(order.required_deposit) == "409150"


async def test_an_invalid_quote_gets_an_error_reply(bus: Bus) -> None:
    body = {
        "items": [{"quantity": 0, "unit_price_cny": "8.50"}],
        "exchange_rate": "3500",
    }
    reply = await bus.request_raw(
        json.dumps(body).encode(),
        routing_key="fees.quote",
        message_type="fees.quote.v1",
        timeout=10,
    )
    assert reply.type == "query.failed.v1"
    assert reply.json["status"] == "error"
    assert reply.json["reason_code"] == "validation_error"
    assert any(e["loc"] == "items.0.quantity" for e in reply.json["details"]["errors"])

    mandatory = f.QuoteRequest.model_validate(
        {
            "items": [{"quantity": 1, "unit_price_cny": "8.50"}],
            "services": ["international_shipping"],
            "exchange_rate": "3500",
        }
    )
    refused = await bus.request(mandatory, timeout=10)
    assert refused["status"] == "error"
    assert refused["reason_code"] == "validation_error"
    assert "mandatory" in refused["message"]
    assert refused["details"] == {"services": ["international_shipping"]}


async def test_a_quote_too_large_for_the_money_fields_gets_a_limit_reply(bus: Bus) -> None:
    """Every field within its own limits, the amounts together over 18 digits of dong: a
    clear refusal at once, not a crash on the reply's money fields."""
    huge = f.QuoteRequest.model_validate(
        {
            "items": [{"quantity": 100_000, "unit_price_cny": "9999999999.99"}],
            "services": ["insurance"],
            "exchange_rate": "99999999.9999",
        }
    )
    refused = await bus.request(huge, timeout=10)
    assert refused["status"] == "error"
    assert refused["reason_code"] == "limit_exceeded"
    assert refused["details"]["limit_vnd"] == "999999999999999999"
    assert Decimal(refused["details"]["amounts_vnd"]["goods_total_vnd"]) > 10**18

    dead = await bus.drain_queue("fees.commands.dlq", wait=1.0, expect=0)
    assert not [m for m in dead if m.message_id == refused["query_id"]]  # refused, not poison
