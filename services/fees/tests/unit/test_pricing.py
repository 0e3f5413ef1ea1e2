"""Every row of the spec §4 fee table and its boundaries, each amount computed by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from azl_contracts.common import ServiceCode
from fees.catalog import load_catalog
from fees.pricing import (
    GoodsLine,
    GoodsToPrice,
    PackageSize,
    bubble_wrap,
    chargeable_weight,
    fast_order,
    insurance,
    international_shipping,
    price_at_order,
    price_on_completion,
    purchase_fee,
    tallying,
    wooden_crate,
)

CATALOG = load_catalog()
D = Decimal


def package(
    weight: str, dims: tuple[str, str, str] = ("10", "10", "10"), code: str = ""
) -> PackageSize:
    return PackageSize(D(weight), D(dims[0]), D(dims[1]), D(dims[2]), code)


def whole(amount: Decimal) -> bool:
    return isinstance(amount, Decimal) and amount == amount.to_integral_value()


# --- purchase_fee: ≤ 2,000,000 → 3 %; ≤ 20,000,000 → 2.5 %; above → 2 %; minimum 10,000 ----


@pytest.mark.parametrize(
    ("goods_total", "fee"),
    [
        (0, 10_000),  # nothing to take 3 % of → the minimum
        (100_000, 10_000),  # 3 % = 3,000 → minimum
        (333_333, 10_000),  # 9,999.99 → 10,000 (rounding reaches the minimum)
        (333_334, 10_000),  # 10,000.02 → 10,000
        (400_000, 12_000),  # 3 %, above the minimum
        (1_000_050, 30_002),  # 30,001.5 → half-up
        (1_999_999, 60_000),  # 59,999.97 → 60,000
        (2_000_000, 60_000),  # the boundary is in the 3 % tier
        (2_000_001, 50_000),  # 2.5 % = 50,000.025
        (2_000_020, 50_001),  # 50,000.5 → half-up
        (20_000_000, 500_000),  # the boundary is in the 2.5 % tier
        (20_000_001, 400_000),  # 2 % = 400,000.02
        (20_000_025, 400_001),  # 400,000.5 → half-up
        (50_000_000, 1_000_000),
    ],
)
def test_purchase_fee(goods_total: int, fee: int) -> None:
    price = purchase_fee(D(goods_total), CATALOG)
    assert price.amount_vnd == fee
    assert whole(price.amount_vnd)
    assert price.fee_code is ServiceCode.PURCHASE_FEE


# --- tallying: per unit by unit price: < 10 CNY → 1,000; 10–100 → 2,000; > 100 → 5,000 ------


@pytest.mark.parametrize(
    ("unit_price", "per_unit"),
    [
        ("0.01", 1_000),
        ("9.99", 1_000),
        ("10.00", 2_000),  # 10 CNY itself is in the middle tier
        ("10.01", 2_000),
        ("55.50", 2_000),
        ("99.99", 2_000),
        ("100.00", 2_000),  # 100 CNY itself is in the middle tier
        ("100.01", 5_000),
        ("2500.00", 5_000),
    ],
)
def test_tallying_tiers(unit_price: str, per_unit: int) -> None:
    assert tallying([GoodsLine(1, D(unit_price))], CATALOG).amount_vnd == per_unit
    assert tallying([GoodsLine(7, D(unit_price))], CATALOG).amount_vnd == 7 * per_unit


def test_tallying_adds_every_unit_of_every_item() -> None:
    lines = [
        GoodsLine(3, D("9.99")),
        GoodsLine(2, D("10")),
        GoodsLine(4, D("100")),
        GoodsLine(1, D("100.01")),
    ]
    # 3 × 1,000 + (2 + 4) × 2,000 + 1 × 5,000
    price = tallying(lines, CATALOG)
    assert price.amount_vnd == 20_000
    assert price.basis == "3 × 1,000 + 6 × 2,000 + 1 × 5,000 VND per unit"


def test_tallying_without_units_is_nothing() -> None:
    assert tallying([], CATALOG).amount_vnd == 0


# --- fast_order: 1 % of goods total, minimum 20,000 ---------------------------------------


@pytest.mark.parametrize(
    ("goods_total", "fee"),
    [
        (0, 20_000),
        (1_000_000, 20_000),  # 10,000 → minimum
        (1_999_949, 20_000),  # 19,999.49 → 19,999 → minimum
        (2_000_000, 20_000),  # exactly the minimum
        (2_000_049, 20_000),  # 20,000.49 → 20,000
        (2_000_050, 20_001),  # 20,000.5 → half-up
        (10_000_000, 100_000),
    ],
)
def test_fast_order(goods_total: int, fee: int) -> None:
    assert fast_order(D(goods_total), CATALOG).amount_vnd == fee


# --- insurance: 3 % of goods total, no minimum --------------------------------------------


@pytest.mark.parametrize(
    ("goods_total", "fee"),
    [
        (0, 0),
        (16, 0),  # 0.48 → 0
        (17, 1),  # 0.51 → 1
        (50, 2),  # 1.5 → half-up
        (1_000_000, 30_000),
        (1_000_050, 30_002),  # 30,001.5 → half-up
        (20_000_001, 600_000),  # no tiers: 600,000.03
    ],
)
def test_insurance(goods_total: int, fee: int) -> None:
    assert insurance(D(goods_total), CATALOG).amount_vnd == fee


# --- chargeable weight: max(actual, L×W×H/6000), up to a multiple of 0.5 kg --------------


@pytest.mark.parametrize(
    ("weight", "dims", "chargeable"),
    [
        ("3.0", ("10", "10", "10"), "3.0"),  # 3.0 stays 3.0
        ("3.1", ("10", "10", "10"), "3.5"),  # 3.1 becomes 3.5
        ("3.5", ("10", "10", "10"), "3.5"),
        ("3.501", ("10", "10", "10"), "4.0"),
        ("0.2", ("10", "10", "10"), "0.5"),
        ("0.5", ("10", "10", "10"), "0.5"),
        ("1.0", ("50", "40", "30"), "10.0"),  # volumetric 60,000 / 6000 = 10 beats actual
        ("2.0", ("50", "40", "31"), "10.5"),  # volumetric 10.33 → 10.5
        ("12.0", ("50", "40", "30"), "12.0"),  # actual beats volumetric
        ("0.1", ("30", "20", "10"), "1.0"),  # exactly 6,000 cm³ → 1 kg
        ("0.1", ("30", "20", "10.1"), "1.5"),  # 1.01 kg → 1.5
    ],
)
def test_chargeable_weight(weight: str, dims: tuple[str, str, str], chargeable: str) -> None:
    assert chargeable_weight(package(weight, dims), CATALOG) == D(chargeable)


# --- wooden_crate: per package 20,000 + 5,000 × max(0, chargeable kg − 1) ----------------


@pytest.mark.parametrize(
    ("weight", "dims", "fee"),
    [
        ("0.2", ("10", "10", "10"), 20_000),  # 0.5 kg: nothing above the first kg
        ("1.0", ("10", "10", "10"), 20_000),
        ("1.1", ("10", "10", "10"), 22_500),  # 1.5 kg
        ("3.1", ("10", "10", "10"), 32_500),  # 3.5 kg
        ("2.0", ("50", "40", "31"), 67_500),  # volumetric 10.5 kg
    ],
)
def test_wooden_crate_per_package(weight: str, dims: tuple[str, str, str], fee: int) -> None:
    assert wooden_crate([package(weight, dims)], CATALOG).amount_vnd == fee


def test_wooden_crate_adds_the_packages() -> None:
    packages = [package("3.1", code="P1"), package("2.0", ("50", "40", "31"), "P2")]
    price = wooden_crate(packages, CATALOG)
    assert price.amount_vnd == 32_500 + 67_500
    assert price.basis == "P1 3.5 kg: 32,500; P2 10.5 kg: 67,500"


# --- bubble_wrap: 10,000 per package -------------------------------------------------------


@pytest.mark.parametrize(("count", "fee"), [(0, 0), (1, 10_000), (3, 30_000)])
def test_bubble_wrap(count: int, fee: int) -> None:
    # the weight does not matter
    packages = [package("25.0", ("100", "100", "100")) for _ in range(count)]
    assert bubble_wrap(packages, CATALOG).amount_vnd == fee


# --- international_shipping: 28,000 per chargeable kg, summed over the packages -----------


@pytest.mark.parametrize(
    ("packages", "fee"),
    [
        ([], 0),
        ([("0.2", ("10", "10", "10"))], 14_000),  # 0.5 kg
        ([("3.0", ("10", "10", "10"))], 84_000),
        ([("3.1", ("10", "10", "10"))], 98_000),  # 3.5 kg
        ([("1.0", ("50", "40", "30"))], 280_000),  # volumetric 10 kg
        ([("3.1", ("10", "10", "10")), ("2.0", ("50", "40", "31"))], 392_000),  # 3.5 + 10.5
    ],
)
def test_international_shipping(packages: list[tuple[str, tuple[str, str, str]]], fee: int) -> None:
    assert international_shipping([package(w, d) for w, d in packages], CATALOG).amount_vnd == fee


def test_each_package_is_rounded_before_summing() -> None:
    # 1.1 + 1.1 = 2.2 would round to 2.5 kg; per package it is 1.5 + 1.5 = 3 kg
    packages = [package("1.1"), package("1.1")]
    assert international_shipping(packages, CATALOG).amount_vnd == 3 * 28_000


# --- goods total and dispatch by code ------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "rate", "total"),
    [
        ([(2, "8.50"), (3, "10.00"), (1, "150.00")], "3500", 689_500),
        ([(1, "0.01")], "50", 1),  # 0.5 → half-up
        ([(1, "0.01")], "49.9999", 0),  # 0.499999 → 0
        ([(3, "33.33")], "3456.7891", 345_644),  # 99.99 × 3456.7891 = 345,644.3922…
    ],
)
def test_goods_total(lines: list[tuple[int, str]], rate: str, total: int) -> None:
    goods = GoodsToPrice.of([GoodsLine(q, D(p)) for q, p in lines], D(rate))
    assert goods.total_vnd == total


def test_price_by_code_follows_the_catalog_rule_shapes() -> None:
    goods = GoodsToPrice.of([GoodsLine(2, D("8.50")), GoodsLine(1, D("150"))], D("3500"))
    assert goods.total_vnd == 584_500
    at_order = {
        c: price_at_order(c, goods, CATALOG).amount_vnd
        for c in ServiceCode
        if c.timing.value == "at_order"
    }
    assert at_order == {
        ServiceCode.PURCHASE_FEE: 17_535,  # 3 %
        ServiceCode.TALLYING: 7_000,  # 2 × 1,000 + 5,000
        ServiceCode.FAST_ORDER: 20_000,  # 5,845 → minimum
        ServiceCode.INSURANCE: 17_535,
    }
    packages = [package("3.1")]
    on_completion = {
        c: price_on_completion(c, packages, CATALOG).amount_vnd
        for c in ServiceCode
        if c.timing.value == "on_completion"
    }
    assert on_completion == {
        ServiceCode.WOODEN_CRATE: 32_500,
        ServiceCode.BUBBLE_WRAP: 10_000,
        ServiceCode.INTERNATIONAL_SHIPPING: 98_000,
    }


def test_the_catalog_names_its_version_and_covers_every_fee() -> None:
    assert CATALOG.version
    assert set(CATALOG.fees) == set(ServiceCode)
