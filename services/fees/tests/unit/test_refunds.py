"""A refund never makes a customer owe money (spec §4): every path, through the ledger.

The order: 2 × 100.00 + 1 × 50.00 CNY = 875,000 VND; purchase_fee 3 % = 26,250 charged at
the deposit (70 % = 612,500); one 3.5 kg package: international shipping 98,000 at the
delivery. In all 999,250; after the deposit 386,750 is left to pay. Amounts by hand.
"""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

from azl_contracts import fees as contract
from azl_contracts.common import OrderStatus
from azl_contracts.fees import LedgerEntryKind as Kind
from fees.domain import Ledger
from fees.pricing import PackageSize

from .conftest import CATALOG, NOW, C, deposited, goods, of_type, settled

D = Decimal
S = OrderStatus
PLACED = goods((2, "100.00"), (1, "50.00"))
P1 = PackageSize(D("3.1"), D(10), D(10), D(10), "P1")  # 3.5 kg → 98,000 shipping
TOTAL = D(875_000 + 26_250 + 98_000)
REST = TOTAL - 612_500


def delivered(services: list[C] | None = None) -> Ledger:
    ledger = deposited(PLACED, services or [])
    ledger.order_delivered([P1], services or [], order_version=9, catalog=CATALOG, now=NOW)
    return settled(ledger)


def paid_in_full(ledger: Ledger, method: str = "bank_transfer") -> Ledger:
    rest = ledger.balance_due_vnd
    ledger.record_payment("rest-1", rest, f"payment ({method})", NOW)
    return settled(ledger)


def refund(ledger: Ledger, amount: int, *, deduct_shipping: bool = False) -> contract.LedgerUpdated:
    ledger.record_refund(uuid4(), D(amount), deduct_shipping=deduct_shipping, now=NOW)
    ledger.close(NOW)
    [updated] = of_type(ledger.events, contract.LedgerUpdated)
    ledger.events.clear()
    return updated


def test_a_complaint_refund_on_a_settled_order_leaves_it_settled() -> None:
    ledger = paid_in_full(delivered())
    assert ledger.balance_due_vnd == 0
    updated = refund(ledger, 150_000)
    assert updated.refunds_total_vnd == 150_000
    assert updated.cost_vnd == TOTAL - 150_000
    assert updated.paid_vnd == TOTAL - 150_000
    assert updated.balance_due_vnd == 0


def test_with_deduct_shipping_the_cost_is_lowered_by_what_the_refund_paid() -> None:
    ledger = paid_in_full(delivered())
    updated = refund(ledger, 300_000, deduct_shipping=True)
    # 300,000 resolved − 98,000 shipping = 202,000 paid back
    assert updated.refunds_total_vnd == 202_000
    assert updated.shipping_deducted_vnd == 98_000
    assert updated.cost_vnd == TOTAL - 202_000
    assert updated.paid_vnd == TOTAL - 202_000
    assert updated.balance_due_vnd == 0


def test_with_deduct_shipping_a_refund_all_shipping_pays_nothing_and_changes_nothing_due() -> None:
    ledger = paid_in_full(delivered())
    updated = refund(ledger, 60_000, deduct_shipping=True)
    assert updated.refunds_total_vnd == 0
    assert updated.balance_due_vnd == 0


def test_a_refund_on_a_partly_paid_order_leaves_the_rest_due_and_paying_it_settles() -> None:
    ledger = delivered()
    assert ledger.balance_due_vnd == REST
    updated = refund(ledger, 100_000)
    assert updated.balance_due_vnd == REST  # the refund went back; what is owed is unchanged
    assert updated.paid_vnd == 612_500 - 100_000
    ledger.record_payment("rest-1", REST, "payment (bank_transfer)", NOW)
    assert ledger.balance_due_vnd == 0


def test_cash_on_delivery_settles_and_a_later_refund_keeps_it_settled() -> None:
    ledger = paid_in_full(delivered(), method="cod")
    assert ledger.payments_total_vnd == TOTAL
    assert ledger.balance_due_vnd == 0
    assert refund(ledger, 50_000).balance_due_vnd == 0


def test_a_refund_after_on_completion_fees_keeps_the_order_settled() -> None:
    # wooden crate 20,000 + 5,000 × 2.5 = 32,500 and bubble wrap 10,000 on completion
    ledger = paid_in_full(delivered([C.WOODEN_CRATE, C.BUBBLE_WRAP]))
    assert ledger.charged(C.WOODEN_CRATE) == 32_500
    assert ledger.charged(C.BUBBLE_WRAP) == 10_000
    updated = refund(ledger, 42_500)
    assert updated.cost_vnd == TOTAL + 42_500 - 42_500
    assert updated.balance_due_vnd == 0


def test_refunds_up_to_everything_paid_never_make_a_debt() -> None:
    ledger = paid_in_full(delivered())
    refund(ledger, 500_000)
    updated = refund(ledger, int(TOTAL) - 500_000)
    assert updated.paid_vnd == 0
    assert updated.cost_vnd == 0
    assert updated.balance_due_vnd == 0


def test_a_cancellation_refund_paid_out_brings_the_balance_to_zero() -> None:
    ledger = deposited(PLACED, [C.FAST_ORDER])  # fast_order 20,000 stays from purchasing
    ledger.order_cancelled(S.PURCHASING, order_version=7, catalog=CATALOG, now=NOW)
    settled(ledger)
    owed_back = D(612_500 - 20_000)
    assert ledger.refund_due_vnd == owed_back
    assert ledger.balance_due_vnd == -owed_back
    assert ledger.record_payout("r-1", owed_back, "refund paid out", NOW)
    assert not ledger.record_payout("r-1", owed_back, "refund paid out", NOW)  # once per id
    ledger.close(NOW)
    [due] = of_type(ledger.events, contract.RefundDue)
    assert due.amount_vnd == 0
    assert due.refunds_vnd == owed_back
    [updated] = of_type(ledger.events, contract.LedgerUpdated)
    assert updated.payouts_total_vnd == owed_back
    assert updated.cost_vnd == 20_000
    assert updated.paid_vnd == 20_000
    assert updated.balance_due_vnd == 0
    assert updated.refund_due_vnd == 0
    assert [e.kind for e in updated.entries][-1] is Kind.PAYOUT


def test_a_payout_in_parts_lowers_the_refund_due_each_time() -> None:
    ledger = deposited(PLACED, [])
    ledger.order_cancelled(S.DEPOSITED, order_version=7, catalog=CATALOG, now=NOW)
    settled(ledger)
    ledger.record_payout("r-1", D(500_000), "refund paid out", NOW)
    assert ledger.refund_due_vnd == 112_500
    ledger.record_payout("r-2", D(112_500), "refund paid out", NOW)
    assert ledger.refund_due_vnd == 0
    assert ledger.balance_due_vnd == 0
