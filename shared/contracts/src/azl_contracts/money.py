"""The money rules every service must agree on: whole-dong rounding, the goods total, the
required deposit and the shipping a complaint refund deducts. Each rule is written here
once; the service that owns its setting applies it and states the result in its events."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

MAX_VND = Decimal(10**18 - 1)
"""The largest amount a money field of the contracts holds (``VND``: 18 digits)."""

MAX_GOODS_TOTAL_VND = Decimal(10**17 - 1)
"""The largest goods total an order may have: one digit below the money fields, so that
every amount computed from the goods (the deposit, each fee, the ledger's totals and its
balance) still fits one. Orders refuses goods above it (``limit_exceeded``), and so does the
fees quote."""

DEFAULT_DEPOSIT_RATIO = Decimal("0.70")
"""The required deposit's share of the goods total unless ``AZL_DEPOSIT_RATIO`` says
otherwise (``azl_kit.settings.DepositRatioSetting``, the one setting): orders decides each
order's deposit with it, the fees quote estimates the deposit with the same value."""


def round_vnd(amount: Decimal) -> Decimal:
    """Whole dong, rounded half-up (0.5 → 1)."""
    return amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)


class PricedLine(Protocol):
    @property
    def quantity(self) -> int: ...

    @property
    def unit_price_cny(self) -> Decimal: ...


def required_deposit_vnd(goods_total_vnd: Decimal, deposit_ratio: Decimal) -> Decimal:
    """The deposit an order owes before it is bought: its share of the goods total, in whole
    dong (spec §3)."""
    return round_vnd(goods_total_vnd * deposit_ratio)


def refund_shipping_deduction(refund_vnd: Decimal, shipping_left_vnd: Decimal) -> Decimal:
    """What a complaint refund deducts when the fees ledger deducts shipping from refunds
    (``AZL_DEDUCT_SHIPPING_FROM_REFUNDS`` of fees, stated on every ``fees.ledger.updated``):
    the charged international shipping not deducted by an earlier refund (once per order in
    total), never more than the refund itself (spec §4)."""
    return min(refund_vnd, max(Decimal(0), shipping_left_vnd))


def goods_total_vnd(lines: Iterable[PricedLine], exchange_rate: Decimal) -> Decimal:
    """round(Σ quantity × unit price CNY × exchange rate), over the lines given (active items)."""
    total_cny = sum((Decimal(line.quantity) * line.unit_price_cny for line in lines), Decimal(0))
    return round_vnd(total_cny * exchange_rate)
