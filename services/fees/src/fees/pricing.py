"""Pricing: pure functions over Decimal, whole VND rounded half-up, no float anywhere."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from azl_contracts.common import ServiceCode
from azl_contracts.money import PricedLine, goods_total_vnd, round_vnd

from .catalog import Catalog

C = ServiceCode


@dataclass(frozen=True)
class Price:
    fee_code: ServiceCode
    amount_vnd: Decimal
    basis: str


@dataclass(frozen=True)
class PackageSize:
    weight_kg: Decimal
    length_cm: Decimal
    width_cm: Decimal
    height_cm: Decimal


def purchase_fee(goods_total: Decimal, catalog: Catalog) -> Price:
    rule = catalog.rule(C.PURCHASE_FEE)
    assert rule.goods_total_tiers is not None
    tier = next(
        t for t in rule.goods_total_tiers if t.up_to_vnd is None or goods_total <= t.up_to_vnd
    )
    minimum = catalog.value(C.PURCHASE_FEE, "minimum_vnd")
    amount = max(round_vnd(goods_total * tier.rate), minimum)
    return Price(
        C.PURCHASE_FEE, amount, f"{tier.rate * 100}% of {goods_total} VND, minimum {minimum}"
    )


def chargeable_weight(package: PackageSize, catalog: Catalog) -> Decimal:
    """max(actual kg, L×W×H / 6000) rounded up to the weight step (3.0 stays, 3.1 → 3.5)."""
    volumetric = (
        package.length_cm
        * package.width_cm
        * package.height_cm
        / catalog.volumetric_divisor_cm3_per_kg
    )
    heaviest = max(package.weight_kg, volumetric)
    step = catalog.weight_step_kg
    return (heaviest / step).to_integral_value(rounding=ROUND_CEILING) * step


def goods_total(lines: Iterable[PricedLine], exchange_rate: Decimal) -> Decimal:
    return goods_total_vnd(lines, exchange_rate)


def total(prices: Sequence[Price]) -> Decimal:
    return sum((p.amount_vnd for p in prices), Decimal(0))
