"""The ledger's rules (spec §4), without a broker or a database. Amounts computed by hand."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from azl_contracts import fees as contract
from azl_contracts.common import OrderStatus
from azl_contracts.fees import LedgerEntryKind as Kind
from azl_kit.errors import InvalidState
from fees.domain import Ledger
from fees.pricing import PackageSize

from .conftest import (
    CATALOG,
    NOW,
    C,
    charges,
    deposited,
    entries_sum,
    goods,
    new_ledger,
    of_type,
    settled,
    voids,
)

D = Decimal
# 2 × 100.00 + 1 × 50.00 CNY = 250 CNY × 3,500 = 875,000 VND
PLACED = goods((2, "100.00"), (1, "50.00"))
P1 = PackageSize(D("3.1"), D(10), D(10), D(10), "P1")  # 3.5 kg
P2 = PackageSize(D("2.0"), D(50), D(40), D(31), "P2")  # volumetric 10.5 kg


def test_a_new_ledger_owes_the_goods() -> None:
    ledger = Ledger.open(
        uuid4(), "cust-1", PLACED, [C.INSURANCE], order_version=1, catalog_version="v1"
    )
    ledger.close(NOW)
    [updated] = ledger.events
    assert isinstance(updated, contract.LedgerUpdated)
    assert updated.ledger_version == 1
    assert updated.goods_total_vnd == 875_000
    assert updated.balance_due_vnd == 875_000
    assert updated.entries == []
    assert updated.catalog_version == "v1"


def test_deposit_charges_the_purchase_fee_and_the_selected_at_order_services() -> None:
    ledger = new_ledger(PLACED, [C.TALLYING, C.FAST_ORDER, C.INSURANCE, C.WOODEN_CRATE])
    ledger.record_payment("dep-1", D(612_500), "deposit", NOW)
    ledger.order_deposited(
        PLACED,
        [C.TALLYING, C.FAST_ORDER, C.INSURANCE, C.WOODEN_CRATE],
        order_version=3,
        catalog=CATALOG,
        now=NOW,
    )
    assert charges(ledger.events) == {
        C.PURCHASE_FEE: 26_250,  # 3 % of 875,000
        C.TALLYING: 6_000,  # 3 units of 50–100 CNY × 2,000
        C.FAST_ORDER: 20_000,  # 8,750 → minimum
        C.INSURANCE: 26_250,  # 3 %
    }
    charged = of_type(ledger.events, contract.FeeCharged)
    assert all(e.catalog_version == CATALOG.version for e in charged)
    assert not any(e.on_completion for e in charged)
    assert all(
        e.catalog_version == CATALOG.version for e in ledger.entries if e.kind is Kind.CHARGE
    )
    assert ledger.charges_total_vnd == 78_500
    assert ledger.balance_due_vnd == 875_000 + 78_500 - 612_500


def test_the_deposited_event_twice_charges_once() -> None:
    ledger = deposited(PLACED, [C.INSURANCE])
    ledger.order_deposited(PLACED, [C.INSURANCE], order_version=2, catalog=CATALOG, now=NOW)
    ledger.close(NOW)
    assert ledger.events == []
    assert ledger.version == 2


def test_increased_quantities_charge_the_difference() -> None:
    ledger = deposited(PLACED, [C.TALLYING, C.FAST_ORDER, C.INSURANCE])
    # 4 × 100 + 1 × 50 = 450 CNY → 1,575,000 VND
    ledger.goods_changed(
        goods((4, "100.00"), (1, "50.00")), order_version=5, catalog=CATALOG, now=NOW
    )
    assert charges(ledger.events) == {
        C.PURCHASE_FEE: 47_250 - 26_250,
        C.TALLYING: 2 * 2_000,  # the two added units
        C.INSURANCE: 47_250 - 26_250,
        # fast_order: 15,750 is still under the 20,000 minimum: nothing to charge
    }
    assert voids(ledger.events) == {}
    assert ledger.charged(C.TALLYING) == 10_000
    [charge] = [e for e in ledger.entries if e.fee_code is C.TALLYING][-1:]
    assert charge.description == "re-priced: 5 × 2,000 VND per unit = 10,000; 6,000 charged before"


def test_a_confirmed_price_change_can_move_an_item_to_another_tallying_tier() -> None:
    ledger = deposited(PLACED, [C.TALLYING])
    ledger.goods_changed(
        goods((2, "100.00"), (1, "100.01")), order_version=6, catalog=CATALOG, now=NOW
    )
    assert charges(ledger.events)[C.TALLYING] == 3_000  # 2,000 → 5,000 for one unit


def test_declined_items_void_the_difference() -> None:
    ledger = deposited(PLACED, [C.TALLYING, C.INSURANCE])
    # the 50 CNY item is declined: 200 CNY → 700,000 VND
    ledger.goods_changed(goods((2, "100.00")), order_version=6, catalog=CATALOG, now=NOW)
    assert voids(ledger.events) == {
        C.PURCHASE_FEE: 26_250 - 21_000,
        C.TALLYING: 2_000,
        C.INSURANCE: 26_250 - 21_000,
    }
    assert charges(ledger.events) == {}
    assert ledger.goods_total_vnd == 700_000


def test_the_same_goods_change_twice_changes_nothing() -> None:
    ledger = deposited(PLACED, [C.TALLYING])
    more = goods((3, "100.00"), (1, "50.00"))
    ledger.goods_changed(more, order_version=5, catalog=CATALOG, now=NOW)
    settled(ledger)
    before = list(ledger.entries)
    ledger.goods_changed(more, order_version=5, catalog=CATALOG, now=NOW)
    ledger.close(NOW)
    assert ledger.events == []
    assert ledger.entries == before


def test_an_older_goods_snapshot_arriving_late_changes_nothing() -> None:
    ledger = deposited(PLACED, [C.TALLYING])
    ledger.goods_changed(goods((5, "100.00")), order_version=7, catalog=CATALOG, now=NOW)
    settled(ledger)
    ledger.goods_changed(goods((3, "100.00")), order_version=6, catalog=CATALOG, now=NOW)
    ledger.close(NOW)
    assert ledger.events == []
    assert ledger.charged(C.TALLYING) == 10_000


def test_goods_changed_before_the_deposit_is_known_are_priced_at_the_deposit() -> None:
    ledger = new_ledger(PLACED, [C.TALLYING])
    later = goods((3, "100.00"), (1, "50.00"))  # 350 CNY → 1,225,000
    ledger.goods_changed(later, order_version=5, catalog=CATALOG, now=NOW)
    assert charges(ledger.events) == {}
    ledger.order_deposited(PLACED, [C.TALLYING], order_version=2, catalog=CATALOG, now=NOW)
    assert charges(ledger.events) == {C.PURCHASE_FEE: 36_750, C.TALLYING: 8_000}


def test_an_added_at_order_service_is_charged_on_the_current_goods() -> None:
    ledger = deposited(PLACED, [])
    ledger.services_updated([C.INSURANCE], order_version=4, catalog=CATALOG, now=NOW)
    assert charges(ledger.events) == {C.INSURANCE: 26_250}


def test_a_removed_at_order_service_is_voided() -> None:
    ledger = deposited(PLACED, [C.FAST_ORDER, C.INSURANCE])
    ledger.services_updated([C.INSURANCE], order_version=4, catalog=CATALOG, now=NOW)
    assert voids(ledger.events) == {C.FAST_ORDER: 20_000}
    [void] = [e for e in ledger.entries if e.kind is Kind.VOID]
    assert void.description == "fast_order removed from the order's services"
    assert ledger.charged(C.FAST_ORDER) == 0
    assert ledger.charged(C.INSURANCE) == 26_250


def test_services_chosen_before_the_deposit_are_charged_only_at_the_deposit() -> None:
    ledger = new_ledger(PLACED, [C.INSURANCE])
    ledger.services_updated([C.FAST_ORDER], order_version=2, catalog=CATALOG, now=NOW)
    assert charges(ledger.events) == {}
    ledger.order_deposited(PLACED, [C.FAST_ORDER], order_version=3, catalog=CATALOG, now=NOW)
    assert charges(ledger.events) == {C.PURCHASE_FEE: 26_250, C.FAST_ORDER: 20_000}


def test_on_completion_services_wait_for_the_delivery() -> None:
    ledger = deposited(PLACED, [C.BUBBLE_WRAP])
    ledger.services_updated(
        [C.BUBBLE_WRAP, C.WOODEN_CRATE], order_version=5, catalog=CATALOG, now=NOW
    )
    assert charges(ledger.events) == {}
    ledger.services_updated([C.WOODEN_CRATE], order_version=6, catalog=CATALOG, now=NOW)
    assert voids(ledger.events) == {}
    ledger.order_delivered([P1, P2], [C.WOODEN_CRATE], order_version=9, catalog=CATALOG, now=NOW)
    assert charges(ledger.events) == {
        C.WOODEN_CRATE: 32_500 + 67_500,
        C.INTERNATIONAL_SHIPPING: 28_000 * 14,
    }
    charged = of_type(ledger.events, contract.FeeCharged)
    assert all(e.on_completion for e in charged)


def test_delivery_charges_international_shipping_even_without_services() -> None:
    ledger = deposited(PLACED, [])
    ledger.order_delivered([P1], [], order_version=9, catalog=CATALOG, now=NOW)
    assert charges(ledger.events) == {C.INTERNATIONAL_SHIPPING: 98_000}
    [entry] = [e for e in ledger.entries if e.fee_code is C.INTERNATIONAL_SHIPPING]
    assert entry.description == "28,000 VND × 3.5 kg (3.5)"


def test_the_delivered_event_twice_charges_once() -> None:
    ledger = deposited(PLACED, [C.BUBBLE_WRAP])
    ledger.order_delivered([P1, P2], [C.BUBBLE_WRAP], order_version=9, catalog=CATALOG, now=NOW)
    settled(ledger)
    ledger.order_delivered([P1, P2], [C.BUBBLE_WRAP], order_version=9, catalog=CATALOG, now=NOW)
    ledger.close(NOW)
    assert ledger.events == []
    assert ledger.charged(C.BUBBLE_WRAP) == 20_000


def test_a_delivery_before_the_deposit_event_charges_everything() -> None:
    ledger = new_ledger(PLACED, [C.INSURANCE])
    ledger.order_delivered([P1], [C.INSURANCE], order_version=9, catalog=CATALOG, now=NOW)
    assert charges(ledger.events) == {
        C.PURCHASE_FEE: 26_250,
        C.INSURANCE: 26_250,
        C.INTERNATIONAL_SHIPPING: 98_000,
    }
    settled(ledger)
    before = list(ledger.entries)
    ledger.order_deposited(PLACED, [C.INSURANCE], order_version=2, catalog=CATALOG, now=NOW)
    assert ledger.events == []  # it only learnt the (same) goods of order version 2
    assert ledger.entries == before


# --- payments and refunds --------------------------------------------------------------


def test_a_payment_id_counts_once() -> None:
    ledger = new_ledger(PLACED)
    assert ledger.record_payment("p1", D(10), "deposit", NOW)
    assert not ledger.record_payment("p1", D(10), "deposit", NOW)
    assert ledger.payments_total_vnd == 10


def test_payments_are_recorded_before_the_deposit_and_the_balance_can_go_negative() -> None:
    ledger = new_ledger(PLACED)
    ledger.record_payment("p1", D(900_000), "payment (bank_transfer)", NOW)
    assert ledger.balance_due_vnd == -25_000  # overpaid: owed back


def test_a_refund_is_recorded_once_per_complaint() -> None:
    ledger = deposited(PLACED, [])
    complaint = uuid4()
    assert ledger.record_refund(complaint, D(100_000), deduct_shipping=False, now=NOW)
    assert not ledger.record_refund(complaint, D(100_000), deduct_shipping=False, now=NOW)
    [recorded] = of_type(ledger.events, contract.RefundRecorded)
    assert recorded.amount_vnd == 100_000
    assert recorded.complaint_id == complaint
    assert recorded.shipping_deducted_vnd == 0
    assert ledger.refunds_total_vnd == 100_000
    # the money went back: the order cost less and the customer paid less, the balance stays
    assert ledger.balance_due_vnd == 875_000 + 26_250 - 612_500


def delivered_ledger() -> Ledger:
    """International shipping 98,000 (3.5 kg) charged."""
    ledger = deposited(PLACED, [])
    ledger.order_delivered([P1], [], order_version=9, catalog=CATALOG, now=NOW)
    return settled(ledger)


def test_with_deduct_shipping_the_refund_pays_the_resolved_amount_minus_shipping() -> None:
    ledger = delivered_ledger()
    ledger.record_refund(uuid4(), D(300_000), deduct_shipping=True, now=NOW)
    [recorded] = of_type(ledger.events, contract.RefundRecorded)
    assert recorded.amount_vnd == 202_000
    assert recorded.resolved_amount_vnd == 300_000
    assert recorded.shipping_deducted_vnd == 98_000
    assert ledger.refunds_total_vnd == 202_000
    assert ledger.shipping_deducted_vnd == 98_000


def test_shipping_is_deducted_once_per_order() -> None:
    ledger = delivered_ledger()
    ledger.record_refund(uuid4(), D(300_000), deduct_shipping=True, now=NOW)
    ledger.record_refund(uuid4(), D(50_000), deduct_shipping=True, now=NOW)
    assert [e.amount_vnd for e in ledger.entries if e.kind is Kind.REFUND] == [202_000, 50_000]
    assert ledger.shipping_deducted_vnd == 98_000


def test_a_refund_never_goes_below_zero_and_the_rest_of_the_shipping_is_deducted_later() -> None:
    ledger = delivered_ledger()
    ledger.record_refund(uuid4(), D(60_000), deduct_shipping=True, now=NOW)
    ledger.record_refund(uuid4(), D(100_000), deduct_shipping=True, now=NOW)
    # 60,000 − 60,000 = 0; then 100,000 − the 38,000 of shipping not deducted yet
    assert [e.amount_vnd for e in ledger.entries if e.kind is Kind.REFUND] == [0, 62_000]
    assert ledger.shipping_deducted_vnd == 98_000


def test_nothing_is_deducted_before_the_shipping_is_charged() -> None:
    ledger = deposited(PLACED, [])
    ledger.record_refund(uuid4(), D(100_000), deduct_shipping=True, now=NOW)
    assert ledger.refunds_total_vnd == 100_000
    assert ledger.shipping_deducted_vnd == 0


# --- cancellation edge cases (the policy itself: test_cancellation.py) -------------------


def test_a_cancellation_from_a_status_orders_never_cancels_from_is_refused() -> None:
    ledger = deposited(PLACED, [])
    with pytest.raises(InvalidState):
        ledger.order_cancelled(OrderStatus.IN_TRANSIT, order_version=8, catalog=CATALOG, now=NOW)


def test_the_cancelled_event_twice_changes_nothing() -> None:
    ledger = deposited(PLACED, [C.FAST_ORDER])
    ledger.order_cancelled(OrderStatus.PURCHASING, order_version=5, catalog=CATALOG, now=NOW)
    settled(ledger)
    ledger.order_cancelled(OrderStatus.PURCHASING, order_version=5, catalog=CATALOG, now=NOW)
    ledger.close(NOW)
    assert ledger.events == []


# --- the published ledger ------------------------------------------------------------------


def test_close_publishes_the_whole_ledger_once() -> None:
    ledger = new_ledger(goods((1, "285.7143")))  # 1,000,000 VND
    ledger.record_payment("p1", D(700_000), "deposit", NOW)
    ledger.order_deposited(ledger.goods, [], order_version=2, catalog=CATALOG, now=NOW)
    ledger.close(NOW)
    updated = of_type(ledger.events, contract.LedgerUpdated)
    assert len(updated) == 1
    snapshot = updated[0]
    assert isinstance(snapshot, contract.LedgerUpdated)
    assert snapshot.ledger_version == 2
    assert snapshot.goods_total_vnd == 1_000_000
    assert snapshot.charges_total_vnd == 30_000
    assert snapshot.payments_total_vnd == 700_000
    assert snapshot.balance_due_vnd == 330_000
    assert [e.kind for e in snapshot.entries] == [Kind.PAYMENT, Kind.CHARGE]
    assert snapshot.balance_due_vnd == snapshot.goods_total_vnd + entries_sum(ledger)


def test_an_unchanged_ledger_publishes_nothing() -> None:
    ledger = deposited(PLACED, [])
    ledger.record_payment("deposit-1", D(1), "deposit", NOW)  # the same payment again
    ledger.close(NOW)
    assert ledger.events == []
