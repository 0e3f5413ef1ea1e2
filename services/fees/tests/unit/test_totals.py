"""The ledger's arithmetic (``fees.totals``, spec §4), on its own: no ledger, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from azl_contracts.fees import LedgerEntryKind as Kind
from fees.totals import Totals

D = Decimal


@dataclass(frozen=True)
class E:
    kind: Kind
    amount_vnd: Decimal


def test_the_demo_story_ends_settled_after_its_complaint_refund() -> None:
    # azl demo: goods 2,263,360, fees 601,485, paid in full, then a 150,000 complaint refund
    before = Totals(D(2_263_360), D(601_485), D(2_864_845))
    assert (before.cost_vnd, before.paid_vnd, before.due_vnd) == (D(2_864_845), D(2_864_845), D(0))
    after = Totals(D(2_263_360), D(601_485), D(2_864_845), complaint_refunds_vnd=D(150_000))
    assert after.cost_vnd == 2_714_845
    assert after.paid_vnd == 2_714_845
    assert after.due_vnd == 0  # was 150,000 ₫ "due" before the arithmetic was defined


def test_a_complaint_refund_lowers_cost_and_paid_alike() -> None:
    partly_paid = Totals(D(1_000_000), D(50_000), D(700_000))
    refunded = Totals(D(1_000_000), D(50_000), D(700_000), complaint_refunds_vnd=D(200_000))
    assert partly_paid.due_vnd == refunded.due_vnd == 350_000
    assert refunded.cost_vnd == 850_000
    assert refunded.paid_vnd == 500_000


def test_the_cost_goes_down_to_nothing_and_no_further() -> None:
    # overpaid, then a refund larger than the whole cost: still nothing owed, the rest is credit
    totals = Totals(D(100_000), D(10_000), D(300_000), complaint_refunds_vnd=D(250_000))
    assert totals.cost_vnd == 0
    assert totals.paid_vnd == 50_000
    assert totals.due_vnd == -50_000
    assert totals.owed_back_vnd == 50_000


def test_a_payout_lowers_what_was_paid() -> None:
    owed_back = Totals(D(0), D(20_000), D(1_176_000), cancelled=True)
    assert owed_back.owed_back_vnd == 1_156_000
    paid_out = Totals(D(0), D(20_000), D(1_176_000), payouts_vnd=D(1_156_000), cancelled=True)
    assert paid_out.due_vnd == 0
    assert paid_out.owed_back_vnd == 0
    assert paid_out.paid_back_vnd == 1_156_000


def test_once_cancelled_what_stays_is_the_cost_and_complaint_refunds_were_money_paid_back() -> None:
    totals = Totals(D(0), D(70_400), D(1_176_000), complaint_refunds_vnd=D(200_000), cancelled=True)
    assert totals.cost_vnd == 70_400
    assert totals.owed_back_vnd == 1_176_000 - 70_400 - 200_000


def test_totals_of_entries_sum_each_kind() -> None:
    entries = [
        E(Kind.CHARGE, D(30_000)),
        E(Kind.CHARGE, D(5_000)),
        E(Kind.VOID, D(5_000)),
        E(Kind.PAYMENT, D(500_000)),
        E(Kind.REFUND, D(40_000)),
        E(Kind.PAYOUT, D(10_000)),
    ]
    totals = Totals.of(D(470_000), entries)
    assert totals == Totals(D(470_000), D(30_000), D(500_000), D(40_000), D(10_000))
    assert totals.cost_vnd == 460_000
    assert totals.paid_vnd == 450_000
    assert totals.due_vnd == 10_000
