"""Pricing rules of spec §4 that the walking skeleton charges: the purchase fee tiers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fees.catalog import load_catalog
from fees.pricing import PackageSize, chargeable_weight, purchase_fee

CATALOG = load_catalog()


@pytest.mark.parametrize(
    ("goods_total", "fee"),
    [
        (0, 10_000),
        (100_000, 10_000),  # 3 % = 3,000 → minimum
        (333_333, 10_000),  # 9,999.99 → minimum
        (333_334, 10_000),  # 10,000.02 → 10,000
        (1_000_050, 30_002),  # 30,001.5 → half-up
        (2_000_000, 60_000),  # ≤ 2,000,000 → 3 %
        (2_000_001, 50_000),  # 2.5 % = 50,000.025
        (20_000_000, 500_000),  # ≤ 20,000,000 → 2.5 %
        (20_000_001, 400_000),  # 2 % = 400,000.02
        (20_000_025, 400_001),  # 400,000.5 → half-up
    ],
)
def test_purchase_fee_tiers(goods_total: int, fee: int) -> None:
    price = purchase_fee(Decimal(goods_total), CATALOG)
    assert price.amount_vnd == Decimal(fee)
    assert price.amount_vnd == price.amount_vnd.to_integral_value()


@pytest.mark.parametrize(
    ("weight", "dims", "chargeable"),
    [
        ("3.0", (10, 10, 10), "3.0"),  # 3.0 stays 3.0
        ("3.1", (10, 10, 10), "3.5"),  # 3.1 becomes 3.5
        ("1.0", (50, 40, 30), "10.0"),  # volumetric 60000/6000 = 10 beats actual
        ("0.2", (10, 10, 10), "0.5"),
    ],
)
def test_chargeable_weight(weight: str, dims: tuple[int, int, int], chargeable: str) -> None:
    package = PackageSize(Decimal(weight), *(Decimal(d) for d in dims))
    assert chargeable_weight(package, CATALOG) == Decimal(chargeable)


def test_the_catalog_names_its_version() -> None:
    assert CATALOG.version
