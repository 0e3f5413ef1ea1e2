"""The money rules every service must agree on: whole-dong rounding and the goods total."""

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
"""The required deposit's share of the goods total unless configured otherwise. Orders
decides when the deposit is paid (``AZL_DEPOSIT_RATIO``); the fees catalog's
``deposit_ratio`` only prices the quote's estimate, and ships equal to this default."""


def round_vnd(amount: Decimal) -> Decimal:
    """Whole dong, rounded half-up (0.5 → 1)."""
    return amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)


class PricedLine(Protocol):
    @property
    def quantity(self) -> int: ...

    @property
    def unit_price_cny(self) -> Decimal: ...


def goods_total_vnd(lines: Iterable[PricedLine], exchange_rate: Decimal) -> Decimal:
    """round(Σ quantity × unit price CNY × exchange rate), over the lines given (active items)."""
    total_cny = sum((Decimal(line.quantity) * line.unit_price_cny for line in lines), Decimal(0))
    return round_vnd(total_cny * exchange_rate)
