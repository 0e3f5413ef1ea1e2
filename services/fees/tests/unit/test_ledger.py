from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

from azl_contracts import fees as contract
from fees.catalog import load_catalog
from fees.domain import Ledger

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def test_balance_is_goods_plus_charges_minus_payments() -> None:
    ledger = Ledger.open(uuid4(), "cust-1", Decimal(1_000_000), [])
    ledger.record_payment("p1", Decimal(700_000), "deposit", NOW)
    ledger.charge_at_deposit(load_catalog(), NOW)
    assert ledger.charges_total_vnd == Decimal(30_000)
    assert ledger.balance_due_vnd == Decimal(330_000)


def test_purchase_fee_is_charged_once() -> None:
    ledger = Ledger.open(uuid4(), "cust-1", Decimal(1_000_000), [])
    ledger.charge_at_deposit(load_catalog(), NOW)
    ledger.charge_at_deposit(load_catalog(), NOW)
    assert [type(e) for e in ledger.events] == [contract.FeeCharged]


def test_a_payment_id_counts_once() -> None:
    ledger = Ledger.open(uuid4(), "cust-1", Decimal(1_000_000), [])
    assert ledger.record_payment("p1", Decimal(10), "deposit", NOW)
    assert not ledger.record_payment("p1", Decimal(10), "deposit", NOW)
    assert ledger.payments_total_vnd == Decimal(10)


def test_close_publishes_the_whole_ledger_once() -> None:
    ledger = Ledger.open(uuid4(), "cust-1", Decimal(1_000_000), [])
    ledger.record_payment("p1", Decimal(700_000), "deposit", NOW)
    ledger.close(NOW)
    updated = [e for e in ledger.events if isinstance(e, contract.LedgerUpdated)]
    assert len(updated) == 1
    assert updated[0].balance_due_vnd == Decimal(300_000)
    assert len(updated[0].entries) == 1
