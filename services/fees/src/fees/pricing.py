"""Pricing: pure functions over Decimal, whole VND rounded half-up, no float anywhere.

Each fee is priced by the shape of its catalog rule, so the catalog stays data:

- ``goods_total_tiers`` / ``rate`` (+ ``minimum_vnd``): a share of the goods total
  (purchase_fee, fast_order, insurance);
- ``unit_price_tiers``: per unit, by the unit price in CNY (tallying);
- ``per_package_vnd`` (+ ``per_extra_kg_vnd`` above ``included_kg``): per package
  (wooden_crate, bubble_wrap);
- ``per_kg_vnd``: per chargeable kg, summed over the packages (international_shipping).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from azl_contracts import fees as contract
from azl_contracts.common import ServiceCode, ServiceTiming
from azl_contracts.money import (
    DEFAULT_DEPOSIT_RATIO,
    MAX_GOODS_TOTAL_VND,
    MAX_VND,
    PricedLine,
    goods_total_vnd,
    required_deposit_vnd,
    round_vnd,
)
from azl_kit.errors import LimitExceeded, ValidationFailed

from .catalog import Catalog, FeeRule

C = ServiceCode
ZERO = Decimal(0)

AT = ServiceTiming.AT_ORDER
ON = ServiceTiming.ON_COMPLETION
GOODS_DEPENDENT = (C.PURCHASE_FEE, C.TALLYING, C.FAST_ORDER, C.INSURANCE)


@dataclass(frozen=True)
class Price:
    fee_code: ServiceCode
    amount_vnd: Decimal
    basis: str


@dataclass(frozen=True)
class GoodsLine:
    quantity: int
    unit_price_cny: Decimal


@dataclass(frozen=True)
class GoodsToPrice:
    """The active items of an order (or a quote) and their total in VND."""

    total_vnd: Decimal
    lines: tuple[GoodsLine, ...]

    @classmethod
    def of(cls, lines: Iterable[PricedLine], exchange_rate: Decimal) -> GoodsToPrice:
        kept = tuple(GoodsLine(line.quantity, line.unit_price_cny) for line in lines)
        return cls(goods_total_vnd(kept, exchange_rate), kept)


@dataclass(frozen=True)
class PackageSize:
    weight_kg: Decimal
    length_cm: Decimal
    width_cm: Decimal
    height_cm: Decimal
    package_code: str = ""


def number(amount: Decimal) -> str:
    """1234567 → ``1,234,567``; 3.50 → ``3.5`` (for the human-readable basis of a charge)."""
    if amount == amount.to_integral_value():
        return f"{int(amount):,}"
    return f"{amount.normalize():f}"


def percent(rate: Decimal) -> str:
    return f"{number(rate * 100)} %"


# --- goods-dependent fees ------------------------------------------------------------


def share_of_goods(code: ServiceCode, goods_total: Decimal, catalog: Catalog) -> Price:
    rule = catalog.rule(code)
    if rule.goods_total_tiers:
        tier = next(t for t in rule.goods_total_tiers if t.covers(goods_total))
        rate = tier.rate
        where = "" if tier.up_to_vnd is None else f" (tier ≤ {number(tier.up_to_vnd)})"
    else:
        rate = catalog.value(code, "rate")
        where = ""
    amount = round_vnd(goods_total * rate)
    basis = f"{percent(rate)} of goods {number(goods_total)} VND{where}"
    if rule.minimum_vnd is not None and amount < rule.minimum_vnd:
        amount = rule.minimum_vnd
        basis += f", minimum {number(rule.minimum_vnd)}"
    return Price(code, amount, basis)


def per_unit(code: ServiceCode, lines: Iterable[PricedLine], catalog: Catalog) -> Price:
    tiers = catalog.rule(code).unit_price_tiers
    if not tiers:
        raise ValueError(f"catalog {catalog.version}: {code.value} has no unit price tiers")
    units: dict[Decimal, int] = {}
    for line in lines:
        per = next(t for t in tiers if t.covers(line.unit_price_cny)).per_unit_vnd
        units[per] = units.get(per, 0) + line.quantity
    amount = round_vnd(sum((per * count for per, count in units.items()), ZERO))
    parts = [f"{count} × {number(per)}" for per, count in sorted(units.items())]
    return Price(code, amount, " + ".join(parts) + " VND per unit" if parts else "no units")


def purchase_fee(goods_total: Decimal, catalog: Catalog) -> Price:
    return share_of_goods(C.PURCHASE_FEE, goods_total, catalog)


def fast_order(goods_total: Decimal, catalog: Catalog) -> Price:
    return share_of_goods(C.FAST_ORDER, goods_total, catalog)


def insurance(goods_total: Decimal, catalog: Catalog) -> Price:
    return share_of_goods(C.INSURANCE, goods_total, catalog)


def tallying(lines: Iterable[PricedLine], catalog: Catalog) -> Price:
    return per_unit(C.TALLYING, lines, catalog)


# --- on-completion fees --------------------------------------------------------------


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


def _package_price(rule: FeeRule, kg: Decimal) -> Decimal:
    assert rule.per_package_vnd is not None
    amount = rule.per_package_vnd
    if rule.per_extra_kg_vnd is not None:
        included = rule.included_kg if rule.included_kg is not None else ZERO
        amount += rule.per_extra_kg_vnd * max(ZERO, kg - included)
    return round_vnd(amount)


def per_package(code: ServiceCode, packages: Sequence[PackageSize], catalog: Catalog) -> Price:
    rule = catalog.rule(code)
    if rule.per_package_vnd is None:
        raise ValueError(f"catalog {catalog.version}: {code.value} is not priced per package")
    parts, amount = [], ZERO
    for package in packages:
        kg = chargeable_weight(package, catalog)
        price = _package_price(rule, kg)
        amount += price
        parts.append(f"{package.package_code or 'package'} {number(kg)} kg: {number(price)}")
    return Price(code, amount, "; ".join(parts) if parts else "no packages")


def per_chargeable_kg(
    code: ServiceCode, packages: Sequence[PackageSize], catalog: Catalog
) -> Price:
    per_kg = catalog.value(code, "per_kg_vnd")
    weights = [chargeable_weight(p, catalog) for p in packages]
    total_kg = sum(weights, ZERO)
    amount = round_vnd(per_kg * total_kg)
    listed = " + ".join(number(w) for w in weights) or "0"
    return Price(code, amount, f"{number(per_kg)} VND × {number(total_kg)} kg ({listed})")


def wooden_crate(packages: Sequence[PackageSize], catalog: Catalog) -> Price:
    return per_package(C.WOODEN_CRATE, packages, catalog)


def bubble_wrap(packages: Sequence[PackageSize], catalog: Catalog) -> Price:
    return per_package(C.BUBBLE_WRAP, packages, catalog)


def international_shipping(packages: Sequence[PackageSize], catalog: Catalog) -> Price:
    return per_chargeable_kg(C.INTERNATIONAL_SHIPPING, packages, catalog)


# --- by code ---------------------------------------------------------------------------


def price_at_order(code: ServiceCode, goods: GoodsToPrice, catalog: Catalog) -> Price:
    rule = catalog.rule(code)
    if rule.unit_price_tiers:
        return per_unit(code, goods.lines, catalog)
    return share_of_goods(code, goods.total_vnd, catalog)


def price_on_completion(
    code: ServiceCode, packages: Sequence[PackageSize], catalog: Catalog
) -> Price:
    rule = catalog.rule(code)
    if rule.per_package_vnd is not None:
        return per_package(code, packages, catalog)
    return per_chargeable_kg(code, packages, catalog)


def charged_codes(selected: Iterable[ServiceCode], timing: ServiceTiming) -> list[ServiceCode]:
    """The mandatory fees and the selected services of one timing, in catalog order."""
    chosen = set(selected)
    return [c for c in ServiceCode if c.timing is timing and (c.mandatory or c in chosen)]


def total(prices: Sequence[Price]) -> Decimal:
    return sum((p.amount_vnd for p in prices), ZERO)


# --- the quote -------------------------------------------------------------------------


def quote(
    request: contract.QuoteRequest,
    catalog: Catalog,
    deposit_ratio: Decimal = DEFAULT_DEPOSIT_RATIO,
) -> contract.Quote:
    """The price of a prospective order: at-order fees on its goods, on-completion fees on
    the expected packages when given (otherwise listed as priced on delivery), and the
    deposit it will owe (``deposit_ratio``: the ``AZL_DEPOSIT_RATIO`` orders applies)."""
    mandatory = [s.value for s in request.services if s.mandatory]
    if mandatory:
        raise ValidationFailed(
            "mandatory fees are always charged and cannot be selected", services=mandatory
        )
    goods = GoodsToPrice.of(request.items, request.exchange_rate)
    within_money_fields({"goods_total_vnd": goods.total_vnd})  # the totals only grow from it
    at_order = [price_at_order(c, goods, catalog) for c in charged_codes(request.services, AT)]
    on_completion = charged_codes(request.services, ON)
    packages = [
        PackageSize(p.weight_kg, p.length_cm, p.width_cm, p.height_cm, p.package_code)
        for p in request.packages
    ]
    on_delivery = [price_on_completion(c, packages, catalog) for c in on_completion if packages]
    fees_total = total(at_order + on_delivery)
    deposit = required_deposit_vnd(goods.total_vnd, deposit_ratio)
    within_money_fields(
        {
            **{f"lines.{p.fee_code.value}": p.amount_vnd for p in at_order + on_delivery},
            "fees_total_vnd": fees_total,
            "total_vnd": goods.total_vnd + fees_total,
            "required_deposit_vnd": deposit,
        }
    )
    within_an_order(goods.total_vnd)
    lines = [_quote_line(p, on_completion=False) for p in at_order] + [
        _quote_line(p, on_completion=True) for p in on_delivery
    ]
    return contract.Quote(
        catalog_version=catalog.version,
        goods_total_vnd=goods.total_vnd,
        lines=lines,
        fees_total_vnd=fees_total,
        total_vnd=goods.total_vnd + fees_total,
        required_deposit_vnd=deposit,
        deposit_ratio=deposit_ratio,
        priced_on_delivery=[] if packages else on_completion,
    )


def _quote_line(price: Price, *, on_completion: bool) -> contract.QuoteLine:
    return contract.QuoteLine(
        fee_code=price.fee_code,
        amount_vnd=price.amount_vnd,
        basis=price.basis,
        on_completion=on_completion,
    )


def within_money_fields(amounts: dict[str, Decimal]) -> None:
    """Refuse, with the amounts that do not fit, what no money field could carry: each
    item's quantity and price may be at their limits, but not all together."""
    over = {name: amount for name, amount in amounts.items() if amount > MAX_VND}
    if over:
        raise LimitExceeded(
            f"the quote comes to more than {number(MAX_VND)} VND, the most an amount can be",
            limit_vnd=MAX_VND,
            amounts_vnd=over,
        )


def within_an_order(goods_total_vnd: Decimal) -> None:
    """Goods the orders service would refuse to take as an order are refused here too."""
    if goods_total_vnd > MAX_GOODS_TOTAL_VND:
        raise LimitExceeded(
            f"the goods come to more than {number(MAX_GOODS_TOTAL_VND)} VND, the most an order "
            "may hold",
            limit_vnd=MAX_GOODS_TOTAL_VND,
            amounts_vnd={"goods_total_vnd": goods_total_vnd},
        )
