"""The money rules every service must agree on: whole-dong rounding and the goods total."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol


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
