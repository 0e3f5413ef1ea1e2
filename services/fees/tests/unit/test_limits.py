"""The ledger's totals against the 18 digits its money fields hold: an order at the goods
limit (17 digits) fits every field, whatever happens to it; an entry that would take a total
beyond is refused by name (the message is dead-lettered at once) and changes nothing."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from azl_contracts import fees as contract
from azl_contracts.money import MAX_GOODS_TOTAL_VND, MAX_VND
from fees.domain import Ledger, LedgerLimitExceeded
from fees.pricing import PackageSize

from .conftest import CATALOG, NOW, C, deposited, goods, of_type, settled

D = Decimal
SMALL = goods((2, "100.00"))  # 700,000 VND
HEAVY = PackageSize(D("10000"), D(1000), D(1000), D(1000), "P1")  # 166,667 chargeable kg


def before(ledger: Ledger) -> tuple[object, ...]:
    return (len(ledger.entries), ledger.version, ledger.shipping_deducted_vnd, ledger.changed)


def test_an_order_at_the_goods_limit_fits_every_field_of_its_ledger() -> None:
    # 1 × 99,999,999,999,999,999 CNY × 1: the largest goods total an order may have
    largest = goods((1, str(MAX_GOODS_TOTAL_VND)), rate=D(1))
    everything = [C.TALLYING, C.FAST_ORDER, C.INSURANCE, C.WOODEN_CRATE, C.BUBBLE_WRAP]
    ledger = deposited(largest, everything)
    ledger.order_delivered([HEAVY] * 3, everything, order_version=9, catalog=CATALOG, now=NOW)
    # everything paid is refunded: nothing is left paid, the cost is lower by as much
    refunded = ledger.payments_total_vnd
    ledger.record_refund(uuid4(), refunded, deduct_shipping=False, now=NOW)
    ledger.close(NOW)  # builds fees.ledger.updated: every total validated by the contract
    [snapshot] = of_type(ledger.events, contract.LedgerUpdated)
    assert snapshot.goods_total_vnd == MAX_GOODS_TOTAL_VND
    # purchase fee 2 % + fast order 1 % + insurance 3 %, and the per-unit and package fees
    assert snapshot.charges_total_vnd > MAX_GOODS_TOTAL_VND * D("0.06")
    assert snapshot.paid_vnd == 0
    assert snapshot.cost_vnd == MAX_GOODS_TOTAL_VND + snapshot.charges_total_vnd - refunded
    assert snapshot.balance_due_vnd == snapshot.cost_vnd


def test_payments_adding_up_beyond_the_money_fields_are_refused() -> None:
    ledger = deposited(SMALL)
    kept = before(ledger)
    with pytest.raises(LedgerLimitExceeded) as refused:
        ledger.record_payment("huge", MAX_VND, "payment (bank_transfer)", NOW)
    assert refused.value.reason_code.value == "limit_exceeded"
    assert refused.value.details["limit_vnd"] == MAX_VND
    assert refused.value.details["reference"] == "huge"
    # the 490,000 deposit + 999,999,999,999,999,999 (the balance, 231,000 − that, still fits)
    assert refused.value.details["amounts_vnd"] == {
        "payments_total_vnd": MAX_VND + 490_000,
        "paid_vnd": MAX_VND + 490_000,
    }
    assert before(ledger) == kept
    assert ledger.events == []


def test_payments_up_to_the_money_fields_are_recorded() -> None:
    ledger = deposited(SMALL)
    ledger.record_payment("last", MAX_VND - 490_000, "payment (bank_transfer)", NOW)
    ledger.close(NOW)
    [snapshot] = of_type(ledger.events, contract.LedgerUpdated)
    assert snapshot.payments_total_vnd == MAX_VND


def test_refunds_adding_up_beyond_the_money_fields_are_refused() -> None:
    ledger = deposited(SMALL)
    ledger.order_delivered([HEAVY], [], order_version=9, catalog=CATALOG, now=NOW)
    ledger.record_refund(uuid4(), MAX_VND, deduct_shipping=False, now=NOW)
    settled(ledger)
    kept = before(ledger)
    with pytest.raises(LedgerLimitExceeded) as refused:
        ledger.record_refund(uuid4(), MAX_VND, deduct_shipping=True, now=NOW)
    over = refused.value.details["amounts_vnd"]
    assert "refunds_total_vnd" in over
    assert over["refunds_total_vnd"] > MAX_VND
    assert before(ledger) == kept  # nor is the shipping counted as deducted
    assert ledger.events == []
