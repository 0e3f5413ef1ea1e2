"""Amounts that no money field could carry: each item within its own limits, the goods (or
the payments) together above what an order holds. Refused with ``limit_exceeded`` naming the
limit and the amount, and nothing changes."""

# mypy narrows order.status after one assert and cannot see methods change it:
# mypy: disable-error-code="comparison-overlap"

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

import pytest

from azl_contracts import orders as o
from azl_contracts.common import ItemStatus, OrderStatus, PaymentMethod
from azl_contracts.money import DEFAULT_DEPOSIT_RATIO, MAX_GOODS_TOTAL_VND, MAX_VND
from azl_kit.errors import LimitExceeded
from orders.domain import (
    GoodsTotalTooLarge,
    Order,
    PaymentsTooLarge,
    check_goods_total,
)
from orders.settings import OrdersSettings

from .conftest import CUSTOMER, NOW, STAFF, ids, item, new_order, order_in, settled

S = OrderStatus
D = Decimal
LIMIT = MAX_GOODS_TOTAL_VND  # 99,999,999,999,999,999 VND
RATE = "100000"  # VND per CNY: 1 CNY of goods is 10^5 VND


class Line(NamedTuple):
    quantity: int
    unit_price_cny: Decimal


def state(order: Order) -> tuple[object, ...]:
    """Everything a refused command must leave as it was."""
    return (
        order.status,
        order.version,
        [(i.status, i.quantity, i.unit_price_cny, i.pending_quantity) for i in order.items],
        order.goods_total_vnd,
        len(order.history),
    )


def refused_with_amount(error: pytest.ExceptionInfo[LimitExceeded], goods_vnd: int) -> None:
    assert error.value.reason_code.value == "limit_exceeded"
    assert error.value.details == {"limit_vnd": LIMIT, "goods_total_vnd": D(goods_vnd)}


def test_the_goods_limit_leaves_room_below_the_money_fields() -> None:
    assert (str(LIMIT), str(MAX_VND)) == ("9" * 17, "9" * 18)
    assert check_goods_total([Line(1, LIMIT)], D(1)) == LIMIT
    with pytest.raises(GoodsTotalTooLarge) as error:
        check_goods_total([Line(1, LIMIT + 1)], D(1))
    refused_with_amount(error, 10**17)


def test_the_limit_applies_to_the_rounded_total() -> None:
    # LIMIT + 0.4 VND rounds down to the limit; LIMIT + 0.5 rounds up above it
    assert check_goods_total([Line(1, LIMIT + D("0.4"))], D(1)) == LIMIT
    with pytest.raises(GoodsTotalTooLarge):
        check_goods_total([Line(1, LIMIT + D("0.5"))], D(1))


class TestPlaceOrder:
    def test_goods_just_below_the_limit_are_an_order(self) -> None:
        # 100,000 × 10,000,000 CNY × 99,999.9999 = 99,999,999,900,000,000 VND
        order = new_order(items=[item("10000000", 100_000)], exchange_rate="99999.9999")
        assert order.goods_total_vnd == D(99_999_999_900_000_000)
        assert order.required_deposit_vnd == D(69_999_999_930_000_000)

    def test_goods_above_the_limit_are_refused_with_the_limit_and_the_amount(self) -> None:
        with pytest.raises(GoodsTotalTooLarge) as error:
            new_order(items=[item("10000000", 100_000)], exchange_rate=RATE)  # 10^17 VND
        refused_with_amount(error, 10**17)

    def test_every_field_at_its_limit_is_refused_not_crashed(self) -> None:
        """200 items × 100,000 × 9,999,999,999.99 CNY × 99,999,999.9999 ≈ 2 × 10^25 VND: the
        event's 18-digit fields could never carry it."""
        largest = [item("9999999999.99", 100_000) for _ in range(o.MAX_ITEMS_PER_ORDER)]
        with pytest.raises(GoodsTotalTooLarge) as error:
            new_order(items=largest, exchange_rate="99999999.9999")
        assert error.value.details["limit_vnd"] == LIMIT
        assert error.value.details["goods_total_vnd"] > 10**25


class TestIncreaseQuantities:
    def test_order_more_beyond_the_limit_is_refused_and_nothing_changes(self) -> None:
        order = order_in(S.DEPOSITED, items=[item("10000000", 10_000)], exchange_rate=RATE)
        assert order.goods_total_vnd == D(10**16)
        before = state(order)
        first = order.items[0].item_id
        with pytest.raises(GoodsTotalTooLarge) as error:
            order.increase_quantities(
                CUSTOMER, [o.ItemQuantity(item_id=first, quantity=100_000)], NOW
            )
        refused_with_amount(error, 10**17)
        assert state(order) == before
        assert order.events == []

    def test_up_to_the_limit_it_is_accepted(self) -> None:
        order = order_in(S.DEPOSITED, items=[item("10000000", 10_000)], exchange_rate=RATE)
        first = order.items[0].item_id
        order.increase_quantities(CUSTOMER, [o.ItemQuantity(item_id=first, quantity=99_999)], NOW)
        assert order.goods_total_vnd == D(99_999 * 10**12)


class TestItemChanges:
    def test_a_reported_price_beyond_the_limit_is_refused_and_nothing_changes(self) -> None:
        order = order_in(S.PURCHASING, items=[item("10000000", 10_000)], exchange_rate=RATE)
        before = state(order)
        first = order.items[0].item_id
        with pytest.raises(GoodsTotalTooLarge) as error:
            order.report_item_change(
                STAFF, [o.ItemChange(item_id=first, new_unit_price_cny=D(100_000_000))], NOW
            )
        refused_with_amount(error, 10**17)  # 10,000 × 100,000,000 CNY × 100,000
        assert state(order) == before
        assert order.events == []

    def test_a_report_counts_the_changes_already_awaiting_confirmation(self) -> None:
        """Each change fits alone; the customer could confirm both, which would not."""
        order = order_in(
            S.PURCHASING,
            items=[item("10000000", 10_000), item("10000000", 10_000)],
            exchange_rate=RATE,
        )
        first, second = ids(order)
        order.report_item_change(STAFF, [o.ItemChange(item_id=first, new_quantity=60_000)], NOW)
        settled(order)
        before = state(order)
        with pytest.raises(GoodsTotalTooLarge) as error:
            order.report_item_change(
                STAFF, [o.ItemChange(item_id=second, new_quantity=40_000)], NOW
            )
        refused_with_amount(error, 10**17)  # (60,000 + 40,000) × 10^7 CNY × 10^5
        assert state(order) == before
        assert order.events == []

    def test_confirming_part_of_the_changes_beyond_the_limit_is_refused(self) -> None:
        """All changes together fit; confirming the rise without the fall would not."""
        order = order_in(
            S.PURCHASING,
            items=[item("100000000", 6_000), item("1", 1)],  # 6 × 10^16 + 10^5 VND
            exchange_rate=RATE,
        )
        falls, rises = ids(order)
        order.report_item_change(
            STAFF,
            [
                o.ItemChange(item_id=falls, new_unit_price_cny=D(1)),  # → 6 × 10^8 VND
                o.ItemChange(
                    item_id=rises, new_quantity=50_000, new_unit_price_cny=D(10_000_000)
                ),  # → 5 × 10^16 VND
            ],
            NOW,
        )
        settled(order)
        before = state(order)
        with pytest.raises(GoodsTotalTooLarge) as error:
            order.confirm_items(CUSTOMER, [rises], NOW)
        refused_with_amount(error, 6 * 10**16 + 5 * 10**16)
        assert state(order) == before
        assert order.events == []
        # the fall first, then the rise: both fit
        order.confirm_items(CUSTOMER, [falls], NOW)
        order.confirm_items(CUSTOMER, [rises], NOW)
        assert order.goods_total_vnd == D(6 * 10**8 + 5 * 10**16)
        assert all(i.status is ItemStatus.ORDERED for i in order.items)
        assert order.status is S.PURCHASING


class TestPayments:
    def test_a_deposit_the_paid_total_could_not_carry_is_refused(self) -> None:
        order = order_in(S.DEPOSITED)
        before = (order.paid_vnd, order.version)
        with pytest.raises(PaymentsTooLarge) as error:
            order.record_deposit("huge", MAX_VND, NOW)
        assert error.value.details == {
            "payment_id": "huge",
            "limit_vnd": MAX_VND,
            "deposit_paid_vnd": order.required_deposit_vnd + MAX_VND,
        }
        assert (order.paid_vnd, order.version) == before
        assert order.events == []

    def test_a_payment_the_paid_total_could_not_carry_is_refused(self) -> None:
        order = order_in(S.DELIVERED)
        before = (order.paid_vnd, order.version)
        with pytest.raises(PaymentsTooLarge) as error:
            order.record_payment("huge", MAX_VND, PaymentMethod.COD, NOW)
        assert error.value.details["paid_vnd"] == order.paid_vnd + MAX_VND
        assert (order.paid_vnd, order.version) == before
        assert order.events == []

    def test_up_to_the_limit_payments_are_recorded(self) -> None:
        order = order_in(S.DELIVERED)
        order.record_payment("last", MAX_VND - order.paid_vnd, PaymentMethod.COD, NOW)
        assert order.paid_vnd == MAX_VND
        [event] = order.events
        assert isinstance(event, o.PaymentRecorded)
        assert event.paid_vnd == MAX_VND


def test_the_deposit_ratio_defaults_to_the_one_of_the_contracts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One default for orders' setting and domain, the same the fees catalog ships with."""
    monkeypatch.delenv("AZL_DEPOSIT_RATIO", raising=False)
    assert OrdersSettings().deposit_ratio == DEFAULT_DEPOSIT_RATIO == D("0.70")
    assert new_order().deposit_ratio == DEFAULT_DEPOSIT_RATIO
