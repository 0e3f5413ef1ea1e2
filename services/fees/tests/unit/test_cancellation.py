"""The cancellation policy of spec §4, one test per case: what stays charged and the refund
due (payments minus what stays, never below 0). Amounts computed by hand.

The order: 4 × 100.00 + 10 × 8.00 = 480 CNY × 3,500 = 1,680,000 VND, with tallying,
fast_order and insurance selected; charged at the deposit:
purchase_fee 3 % = 50,400 · tallying 4 × 2,000 + 10 × 1,000 = 18,000 ·
fast_order 1 % = 16,800 → minimum 20,000 · insurance 3 % = 50,400 (138,800 in all);
deposit paid: 70 % = 1,176,000.
"""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from azl_contracts import fees as contract
from azl_contracts.common import OrderStatus, ServiceCode
from azl_contracts.fees import LedgerEntryKind as Kind
from fees.domain import Ledger

from .conftest import CATALOG, NOW, C, charges, deposited, goods, new_ledger, of_type, settled

S = OrderStatus
D = Decimal
PLACED = goods((4, "100.00"), (10, "8.00"))
SERVICES = [C.TALLYING, C.FAST_ORDER, C.INSURANCE]
AT_DEPOSIT = {C.PURCHASE_FEE: 50_400, C.TALLYING: 18_000, C.FAST_ORDER: 20_000, C.INSURANCE: 50_400}
DEPOSIT = D(1_176_000)


def cancel(ledger: Ledger, cancelled_from: OrderStatus) -> contract.RefundDue:
    ledger.order_cancelled(cancelled_from, order_version=7, catalog=CATALOG, now=NOW)
    ledger.close(NOW)
    [due] = of_type(ledger.events, contract.RefundDue)
    return due


def amounts(due: contract.RefundDue) -> tuple[int, int, int]:
    """(refund due, payments, what stays)"""
    return int(due.amount_vnd), int(due.payments_vnd), int(due.retained_vnd)


def voided(ledger: Ledger) -> dict[ServiceCode, Decimal]:
    return {e.fee_code: e.amount_vnd for e in of_type(ledger.events, contract.FeeVoided)}


def snapshot(ledger: Ledger) -> contract.LedgerUpdated:
    [updated] = of_type(ledger.events, contract.LedgerUpdated)
    return updated


def test_the_deposit_charges_what_the_cases_start_from() -> None:
    ledger = new_ledger(PLACED, SERVICES)
    ledger.order_deposited(PLACED, SERVICES, order_version=2, catalog=CATALOG, now=NOW)
    assert PLACED.total_vnd == 1_680_000
    assert charges(ledger.events) == AT_DEPOSIT


def test_from_awaiting_deposit_nothing_stays_and_a_partial_deposit_is_due_back() -> None:
    ledger = new_ledger(PLACED, SERVICES)
    ledger.record_payment("dep-1", D(500_000), "deposit", NOW)
    settled(ledger)
    due = cancel(ledger, S.AWAITING_DEPOSIT)
    assert ledger.charges_by_fee() == {}
    assert voided(ledger) == {}  # nothing was ever charged
    assert amounts(due) == (500_000, 500_000, 0)
    assert due.cancelled_from is S.AWAITING_DEPOSIT
    assert snapshot(ledger).balance_due_vnd == -500_000


def test_from_deposited_nothing_stays() -> None:
    ledger = deposited(PLACED, SERVICES)
    due = cancel(ledger, S.DEPOSITED)
    assert ledger.charges_by_fee() == {}
    assert voided(ledger) == AT_DEPOSIT
    assert amounts(due) == (1_176_000, 1_176_000, 0)
    assert due.cancelled_from is S.DEPOSITED


@pytest.mark.parametrize("cancelled_from", [S.PURCHASING, S.AWAITING_CONFIRMATION])
def test_from_purchasing_or_awaiting_confirmation_fast_order_stays(
    cancelled_from: OrderStatus,
) -> None:
    ledger = deposited(PLACED, SERVICES)
    due = cancel(ledger, cancelled_from)
    assert ledger.charges_by_fee() == {C.FAST_ORDER: 20_000}
    assert voided(ledger) == {C.PURCHASE_FEE: 50_400, C.TALLYING: 18_000, C.INSURANCE: 50_400}
    assert amounts(due) == (1_156_000, 1_176_000, 20_000)
    assert due.cancelled_from is cancelled_from


def test_from_cancellation_requested_purchase_fee_and_fast_order_stay() -> None:
    ledger = deposited(PLACED, SERVICES)
    due = cancel(ledger, S.CANCELLATION_REQUESTED)
    assert ledger.charges_by_fee() == {C.PURCHASE_FEE: 50_400, C.FAST_ORDER: 20_000}
    assert voided(ledger) == {C.TALLYING: 18_000, C.INSURANCE: 50_400}
    assert amounts(due) == (1_105_600, 1_176_000, 70_400)
    assert due.cancelled_from is S.CANCELLATION_REQUESTED


def test_the_cancelled_ledger_owes_no_goods_and_its_balance_is_the_refund_due() -> None:
    ledger = deposited(PLACED, SERVICES)
    cancel(ledger, S.CANCELLATION_REQUESTED)
    updated = snapshot(ledger)
    assert updated.goods_total_vnd == 0
    assert updated.charges_total_vnd == 70_400
    assert updated.refund_due_vnd == 1_105_600
    assert updated.balance_due_vnd == -1_105_600
    assert updated.cancelled_from is S.CANCELLATION_REQUESTED
    kinds = [(e.kind, e.fee_code) for e in updated.entries]
    assert kinds[-2:] == [(Kind.VOID, C.TALLYING), (Kind.VOID, C.INSURANCE)]


def test_the_refund_due_is_never_below_zero() -> None:
    ledger = deposited(PLACED, SERVICES, paid=D(50_000))
    due = cancel(ledger, S.CANCELLATION_REQUESTED)
    assert due.amount_vnd == 0
    assert due.retained_vnd == 70_400
    assert ledger.balance_due_vnd == 20_400  # what stays is still owed


def test_without_fast_order_nothing_stays_from_purchasing() -> None:
    ledger = deposited(PLACED, [C.TALLYING])
    due = cancel(ledger, S.PURCHASING)
    assert ledger.charges_by_fee() == {}
    assert due.amount_vnd == DEPOSIT


def test_a_payment_after_the_cancellation_is_kept_and_adds_to_the_refund_due() -> None:
    ledger = deposited(PLACED, SERVICES)
    cancel(ledger, S.PURCHASING)
    settled(ledger)
    ledger.record_payment("late-1", D(100_000), "payment (bank_transfer)", NOW)
    ledger.close(NOW)
    [due] = of_type(ledger.events, contract.RefundDue)
    assert due.amount_vnd == 1_256_000
    assert due.payments_vnd == 1_276_000
    assert snapshot(ledger).refund_due_vnd == 1_256_000


def test_complaint_refunds_already_made_reduce_the_refund_due() -> None:
    ledger = deposited(PLACED, SERVICES)
    ledger.record_refund(uuid4(), D(200_000), deduct_shipping=False, now=NOW)
    settled(ledger)
    due = cancel(ledger, S.CANCELLATION_REQUESTED)
    assert due.refunds_vnd == 200_000
    assert due.amount_vnd == 1_176_000 - 70_400 - 200_000


def test_a_cancellation_before_the_deposited_event_arrives_settles_the_same() -> None:
    ledger = new_ledger(PLACED, SERVICES)
    ledger.record_payment("deposit-1", DEPOSIT, "deposit", NOW)
    ledger.order_cancelled(S.PURCHASING, order_version=7, catalog=CATALOG, now=NOW)
    assert ledger.charges_by_fee() == {C.FAST_ORDER: 20_000}
    settled(ledger)
    ledger.order_deposited(PLACED, SERVICES, order_version=2, catalog=CATALOG, now=NOW)
    assert ledger.charges_by_fee() == {C.FAST_ORDER: 20_000}
    assert ledger.refund_due_vnd == 1_156_000
