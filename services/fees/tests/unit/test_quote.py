"""``fees.quote``: a prospective order's price, computed by hand."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from azl_contracts import fees as contract
from azl_contracts.common import ServiceCode
from azl_contracts.money import DEFAULT_DEPOSIT_RATIO, MAX_GOODS_TOTAL_VND, MAX_VND
from azl_kit.errors import LimitExceeded, ValidationFailed
from azl_kit.settings import DepositRatioSetting
from fees.pricing import quote
from fees.settings import FeesSettings

from .conftest import CATALOG

C = ServiceCode


def request(**overrides: Any) -> contract.QuoteRequest:
    data: dict[str, Any] = {
        # 2 × 8.50 + 3 × 10.00 + 1 × 150.00 = 197 CNY × 3,500 = 689,500 VND
        "items": [
            {"quantity": 2, "unit_price_cny": "8.50"},
            {"quantity": 3, "unit_price_cny": "10.00"},
            {"quantity": 1, "unit_price_cny": "150.00"},
        ],
        "services": ["tallying", "fast_order", "insurance", "wooden_crate", "bubble_wrap"],
        "exchange_rate": "3500",
    }
    data.update(overrides)
    return contract.QuoteRequest.model_validate(data)


def test_a_quote_prices_the_at_order_fees_and_lists_what_is_priced_on_delivery() -> None:
    result = quote(request(), CATALOG)
    assert result.catalog_version == CATALOG.version
    assert result.goods_total_vnd == 689_500
    assert {line.fee_code: line.amount_vnd for line in result.lines} == {
        C.PURCHASE_FEE: 20_685,  # 3 % of 689,500
        C.TALLYING: 13_000,  # 2 × 1,000 + 3 × 2,000 + 1 × 5,000
        C.FAST_ORDER: 20_000,  # 6,895 → minimum
        C.INSURANCE: 20_685,  # 3 %
    }
    assert result.fees_total_vnd == 74_370
    assert result.total_vnd == 689_500 + 74_370
    assert result.required_deposit_vnd == 482_650  # 70 % of the goods
    assert result.deposit_ratio == DEFAULT_DEPOSIT_RATIO == Decimal("0.70")
    assert result.priced_on_delivery == [C.WOODEN_CRATE, C.BUBBLE_WRAP, C.INTERNATIONAL_SHIPPING]


def test_with_expected_packages_the_on_completion_fees_are_priced_too() -> None:
    packages = [
        {"package_code": "P1", "tracking_number": "T1", "weight_kg": "3.1",
         "length_cm": "30", "width_cm": "20", "height_cm": "10"},  # 3.5 kg
        {"package_code": "P2", "tracking_number": "T2", "weight_kg": "2.0",
         "length_cm": "50", "width_cm": "40", "height_cm": "31"},  # volumetric 10.5 kg
    ]  # fmt: skip
    result = quote(request(packages=packages), CATALOG)
    on_completion = {line.fee_code: line.amount_vnd for line in result.lines if line.on_completion}
    assert on_completion == {
        C.WOODEN_CRATE: 32_500 + 67_500,
        C.BUBBLE_WRAP: 20_000,
        C.INTERNATIONAL_SHIPPING: 392_000,  # 14 kg × 28,000
    }
    assert result.fees_total_vnd == 74_370 + 512_000
    assert result.priced_on_delivery == []


def test_without_services_only_the_mandatory_fees_are_quoted() -> None:
    result = quote(request(services=[]), CATALOG)
    assert [line.fee_code for line in result.lines] == [C.PURCHASE_FEE]
    assert result.priced_on_delivery == [C.INTERNATIONAL_SHIPPING]


def test_a_mandatory_fee_cannot_be_selected() -> None:
    with pytest.raises(ValidationFailed, match="mandatory"):
        quote(request(services=["purchase_fee"]), CATALOG)


def test_amounts_are_decimal_strings_on_the_wire() -> None:
    wire = quote(request(), CATALOG).model_dump(mode="json")
    assert wire["goods_total_vnd"] == "689500"
    assert wire["lines"][0] == {
        "fee_code": "purchase_fee",
        "amount_vnd": "20685",
        "basis": "3 % of goods 689,500 VND (tier ≤ 2,000,000)",
        "on_completion": False,
    }


# --- amounts no money field can carry ----------------------------------------------------

LARGEST_ITEM = {"quantity": 100_000, "unit_price_cny": "9999999999.99"}  # each at its limit


def test_a_quote_too_large_for_the_money_fields_is_refused_with_the_amounts() -> None:
    too_large = request(items=[LARGEST_ITEM], exchange_rate="99999999.9999")
    with pytest.raises(LimitExceeded) as refused:
        quote(too_large, CATALOG)
    assert refused.value.details["limit_vnd"] == MAX_VND
    # 100,000 × 9,999,999,999.99 CNY × 99,999,999.9999 ≈ 10^23 VND: refused at the goods
    assert set(refused.value.details["amounts_vnd"]) == {"goods_total_vnd"}
    assert refused.value.details["amounts_vnd"]["goods_total_vnd"] > MAX_VND


def test_goods_that_fit_but_whose_total_with_fees_does_not_are_refused() -> None:
    # 100,000 × 3,000,000 CNY × 3,300,000 = 9.9 × 10^17 VND of goods: fits; the fees do not
    near_the_limit = request(
        items=[{"quantity": 100_000, "unit_price_cny": "3000000"}], exchange_rate="3300000"
    )
    with pytest.raises(LimitExceeded) as refused:
        quote(near_the_limit, CATALOG)
    over = refused.value.details["amounts_vnd"]
    assert "goods_total_vnd" not in over
    assert over["total_vnd"] > MAX_VND


def test_the_limit_is_the_one_the_contract_holds() -> None:
    """MAX_VND is the largest amount a Quote carries; one dong more it rejects."""
    largest = {"lines": [], "catalog_version": "v", "required_deposit_vnd": 0}
    amounts = {"goods_total_vnd": MAX_VND, "fees_total_vnd": 0, "total_vnd": MAX_VND}
    assert contract.Quote.model_validate({**largest, **amounts}).total_vnd == MAX_VND
    with pytest.raises(ValueError, match="18 digits"):
        contract.Quote.model_validate({**largest, **amounts, "total_vnd": MAX_VND + 1})


def test_goods_an_order_could_not_hold_are_refused_like_orders_refuses_them() -> None:
    # 100,000 × 10,000,000 CNY × 100,000 = 10^17 VND: fits the fields, not an order
    too_large = request(
        items=[{"quantity": 100_000, "unit_price_cny": "10000000"}], exchange_rate="100000"
    )
    with pytest.raises(LimitExceeded) as refused:
        quote(too_large, CATALOG)
    assert refused.value.details == {
        "limit_vnd": MAX_GOODS_TOTAL_VND,
        "amounts_vnd": {"goods_total_vnd": Decimal(10**17)},
    }
    just_below = request(
        items=[{"quantity": 100_000, "unit_price_cny": "10000000"}], exchange_rate="99999.9999"
    )
    assert quote(just_below, CATALOG).goods_total_vnd == 99_999_999_900_000_000


# --- the deposit ratio -------------------------------------------------------------------


def test_the_quote_prices_the_deposit_with_the_one_setting_orders_decides_it_with() -> None:
    """Orders decides the deposit (AZL_DEPOSIT_RATIO, default DEFAULT_DEPOSIT_RATIO); the
    quote estimates it with the same setting, declared once (DepositRatioSetting)."""
    assert issubclass(FeesSettings, DepositRatioSetting)
    assert FeesSettings().deposit_ratio == DEFAULT_DEPOSIT_RATIO


def test_the_quote_says_the_ratio_it_priced_the_deposit_with() -> None:
    result = quote(request(), CATALOG, Decimal("0.50"))
    assert result.deposit_ratio == Decimal("0.50")
    assert result.required_deposit_vnd == 344_750  # 50 % of 689,500
    assert quote(request(), CATALOG).model_dump(mode="json")["deposit_ratio"] == "0.70"
