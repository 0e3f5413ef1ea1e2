"""Properties of pricing and the ledger over generated orders (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from azl_contracts import fees as contract
from azl_contracts.common import OrderStatus, ServiceCode
from fees.domain import RETAINED_ON_CANCELLATION, Ledger
from fees.pricing import (
    GOODS_DEPENDENT,
    GoodsLine,
    GoodsToPrice,
    PackageSize,
    price_at_order,
    price_on_completion,
)

from .conftest import CATALOG, NOW, deposited, entries_sum, settled

C = ServiceCode
SETTINGS = settings(max_examples=150, deadline=None)

# --- strategies ------------------------------------------------------------------------

boundary_prices = st.sampled_from(
    [Decimal(p) for p in ("0.01", "9.99", "10.00", "10.01", "99.99", "100.00", "100.01")]
)
unit_prices = st.one_of(
    boundary_prices, st.integers(1, 10_000_000).map(lambda fen: Decimal(fen) / 100)
)
lines = st.lists(
    st.builds(GoodsLine, st.integers(1, 500), unit_prices), min_size=0, max_size=6
).map(tuple)
rates = st.integers(1, 100_000_000).map(lambda r: Decimal(r) / 10_000)  # 0.0001 … 10,000
goods_snapshots = st.builds(GoodsToPrice.of, lines, rates)
# Goods of one order keep its exchange rate.
order_goods = st.lists(lines, min_size=1, max_size=8).map(
    lambda snapshots: [GoodsToPrice.of(s, Decimal(3500)) for s in snapshots]
)
kg = st.integers(1, 100_000).map(lambda g: Decimal(g) / 1000)  # 0.001 … 100 kg
cm = st.integers(1, 2_000).map(lambda mm: Decimal(mm) / 10)  # 0.1 … 200 cm
packages = st.lists(st.builds(PackageSize, kg, cm, cm, cm), max_size=4)
optional_services = st.lists(
    st.sampled_from([c for c in ServiceCode if not c.mandatory]), unique=True
)


# --- every fee is a whole, non-negative number of dong --------------------------------


@SETTINGS
@given(goods=goods_snapshots, parcels=packages)
def test_every_fee_is_a_whole_non_negative_vnd_amount(
    goods: GoodsToPrice, parcels: list[PackageSize]
) -> None:
    assert goods.total_vnd == goods.total_vnd.to_integral_value() >= 0
    for code in ServiceCode:
        if code.timing.value == "at_order":
            price = price_at_order(code, goods, CATALOG)
        else:
            price = price_on_completion(code, parcels, CATALOG)
        assert isinstance(price.amount_vnd, Decimal)
        assert price.amount_vnd >= 0
        assert price.amount_vnd == price.amount_vnd.to_integral_value()
        assert price.amount_vnd.as_tuple().exponent == 0 or price.amount_vnd == 0


# --- the balance is what the order cost minus what was paid ------------------------------


@dataclass(frozen=True)
class GoodsChange:
    goods: GoodsToPrice


@dataclass(frozen=True)
class ServicesChange:
    services: tuple[ServiceCode, ...]


@dataclass(frozen=True)
class Payment:
    payment_id: str
    amount: Decimal


@dataclass(frozen=True)
class Refund:
    complaint: int
    amount: Decimal
    deduct: bool


@dataclass(frozen=True)
class Cancel:
    cancelled_from: OrderStatus


@dataclass(frozen=True)
class Deliver:
    packages: tuple[PackageSize, ...]


amounts = st.integers(1, 50_000_000).map(Decimal)
operations = st.lists(
    st.one_of(
        st.builds(GoodsChange, goods_snapshots),
        st.builds(ServicesChange, optional_services.map(tuple)),
        st.builds(Payment, st.sampled_from(["p1", "p2", "p3", "p4"]), amounts),
        st.builds(Refund, st.integers(0, 3), amounts, st.booleans()),
        st.builds(Cancel, st.sampled_from(sorted(RETAINED_ON_CANCELLATION))),
        st.builds(Deliver, packages.map(tuple)),
    ),
    max_size=12,
)


def apply(ledger: Ledger, operation: object, version: int) -> None:
    match operation:
        case GoodsChange(goods):
            ledger.goods_changed(goods, order_version=version, catalog=CATALOG, now=NOW)
        case ServicesChange(services):
            ledger.services_updated(services, order_version=version, catalog=CATALOG, now=NOW)
        case Payment(payment_id, amount):
            ledger.record_payment(payment_id, amount, "payment", NOW)
        case Refund(complaint, amount, deduct):
            ledger.record_refund(UUID(int=complaint), amount, deduct_shipping=deduct, now=NOW)
        case Cancel(cancelled_from):
            ledger.order_cancelled(cancelled_from, order_version=version, catalog=CATALOG, now=NOW)
        case Deliver(parcels):
            if not ledger.cancelled:
                ledger.order_delivered(
                    parcels, ledger.services, order_version=version, catalog=CATALOG, now=NOW
                )


@SETTINGS
@given(placed=goods_snapshots, services=optional_services, steps=operations)
def test_the_balance_is_the_cost_minus_what_was_paid_and_a_refund_never_makes_a_debt(
    placed: GoodsToPrice, services: list[ServiceCode], steps: list[object]
) -> None:
    ledger = deposited(placed, services)
    for version, operation in enumerate(steps, start=3):
        due_before, paid_before = ledger.balance_due_vnd, ledger.totals.paid_vnd
        apply(ledger, operation, version)
        totals = ledger.totals
        assert ledger.balance_due_vnd == totals.cost_vnd - totals.paid_vnd
        if totals.cost_vnd != 0 and not ledger.cancelled:
            # until the cost is down to nothing, every entry moves the balance by its sign
            assert ledger.balance_due_vnd == ledger.goods_total_vnd + entries_sum(ledger)
        refund_allowed = isinstance(operation, Refund) and operation.amount <= paid_before
        if refund_allowed and not ledger.cancelled:
            # a refund complaints allows (at most what was paid) never makes a debt
            assert ledger.balance_due_vnd <= max(due_before, Decimal(0))
        assert all(e.amount_vnd >= 0 for e in ledger.entries)
        assert all(ledger.charged(code) >= 0 for code in ServiceCode)
        ledger.close(NOW)
        published = [e for e in ledger.events if isinstance(e, contract.LedgerUpdated)]
        assert len(published) <= 1
        updated = published[0] if published else ledger.snapshot(NOW)
        assert updated.cost_vnd is not None
        assert updated.paid_vnd is not None
        assert updated.balance_due_vnd == updated.cost_vnd - updated.paid_vnd
        assert updated.paid_vnd == (
            updated.payments_total_vnd - updated.refunds_total_vnd - updated.payouts_total_vnd
        )
        assert updated.balance_due_vnd == ledger.balance_due_vnd
        if ledger.cancelled:
            retained = RETAINED_ON_CANCELLATION[ledger.cancelled_from]  # type: ignore[index]
            assert set(ledger.charges_by_fee()) <= retained
            expected_due = max(
                Decimal(0),
                ledger.payments_total_vnd - ledger.charges_total_vnd - ledger.refunds_total_vnd,
            )
            assert ledger.refund_due_vnd == expected_due
        ledger.events.clear()


# --- goods-dependent fees follow the goods ----------------------------------------------


def goods_dependent(ledger: Ledger) -> dict[ServiceCode, Decimal]:
    return {code: ledger.charged(code) for code in GOODS_DEPENDENT}


def priced(goods: GoodsToPrice, services: list[ServiceCode]) -> dict[ServiceCode, Decimal]:
    return {
        code: price_at_order(code, goods, CATALOG).amount_vnd
        if code.mandatory or code in services
        else Decimal(0)
        for code in GOODS_DEPENDENT
    }


@SETTINGS
@given(
    snapshots=order_goods,
    services=optional_services,
    order=st.randoms(use_true_random=False),
)
def test_after_any_goods_changes_the_fees_equal_the_price_of_the_current_goods(
    snapshots: list[GoodsToPrice], services: list[ServiceCode], order: object
) -> None:
    placed, *changes = snapshots
    ledger = deposited(placed, services)
    versioned = list(enumerate(changes, start=3))
    for version, goods in versioned:
        ledger.goods_changed(goods, order_version=version, catalog=CATALOG, now=NOW)
        assert goods_dependent(ledger) == priced(goods, services)

    # delivered again, in any order and twice over: the newest snapshot wins, nothing moves
    current = goods_dependent(ledger)
    entries = len(ledger.entries)
    shuffled = versioned * 2
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    for version, goods in shuffled:
        ledger.goods_changed(goods, order_version=version, catalog=CATALOG, now=NOW)
    assert goods_dependent(ledger) == current
    assert len(ledger.entries) == entries


@SETTINGS
@given(snapshots=order_goods, services=optional_services, arrival=st.randoms())
def test_goods_changes_arriving_out_of_order_end_in_the_same_ledger(
    snapshots: list[GoodsToPrice], services: list[ServiceCode], arrival: object
) -> None:
    placed, *changes = snapshots
    ledger = deposited(placed, services)
    versioned = list(enumerate(changes, start=3))
    arrival.shuffle(versioned)  # type: ignore[attr-defined]
    for version, goods in versioned:
        ledger.goods_changed(goods, order_version=version, catalog=CATALOG, now=NOW)
    newest = snapshots[-1]
    assert goods_dependent(ledger) == priced(newest, services)


@SETTINGS
@given(snapshots=order_goods, services=optional_services)
def test_a_goods_change_delivered_twice_is_charged_once(
    snapshots: list[GoodsToPrice], services: list[ServiceCode]
) -> None:
    placed, *changes = snapshots
    once = deposited(placed, services)
    twice = deposited(placed, services)
    for version, goods in enumerate(changes, start=3):
        once.goods_changed(goods, order_version=version, catalog=CATALOG, now=NOW)
        twice.goods_changed(goods, order_version=version, catalog=CATALOG, now=NOW)
        settled(twice)
        twice.goods_changed(goods, order_version=version, catalog=CATALOG, now=NOW)
        twice.close(NOW)
        assert twice.events == []  # the second delivery changes and publishes nothing

    def lines(ledger: Ledger) -> list[tuple[object, ...]]:
        return [(e.kind, e.fee_code, e.amount_vnd) for e in ledger.entries]

    assert lines(twice) == lines(once)
