"""The fee catalog: prices as data, in a versioned file; each charge records the version."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict

from azl_contracts.common import ServiceCode, ServiceTiming


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GoodsTotalTier(_Frozen):
    up_to_vnd: Decimal | None
    rate: Decimal


class UnitPriceTier(_Frozen):
    below_cny: Decimal | None = None
    up_to_cny: Decimal | None = None
    per_unit_vnd: Decimal


class FeeRule(_Frozen):
    timing: ServiceTiming
    mandatory: bool
    description: str
    goods_total_tiers: list[GoodsTotalTier] | None = None
    unit_price_tiers: list[UnitPriceTier] | None = None
    rate: Decimal | None = None
    minimum_vnd: Decimal | None = None
    per_package_vnd: Decimal | None = None
    per_extra_kg_vnd: Decimal | None = None
    included_kg: Decimal | None = None
    per_kg_vnd: Decimal | None = None


class Catalog(_Frozen):
    version: str
    currency: str
    deposit_ratio: Decimal
    volumetric_divisor_cm3_per_kg: Decimal
    weight_step_kg: Decimal
    fees: dict[ServiceCode, FeeRule]

    def rule(self, code: ServiceCode) -> FeeRule:
        return self.fees[code]

    def value(self, code: ServiceCode, field: str) -> Decimal:
        amount: Any = getattr(self.fees[code], field)
        if amount is None:
            raise ValueError(f"catalog {self.version}: {code.value} has no {field}")
        return Decimal(amount)


def load_catalog(text: str | None = None) -> Catalog:
    """The catalog shipped with the service (or the given JSON text)."""
    if text is None:
        text = resources.files("fees").joinpath("catalog.json").read_text(encoding="utf-8")
    return Catalog.model_validate_json(text)
