"""The fee catalog: prices as data, in a versioned file; each charge records the version.

``catalog.json`` is the catalog in force. When it changes, the previous file is kept as
``catalog-<version>.json`` so that orders priced under it keep being re-priced (goods
changes, delivery) with the prices they were placed under: a ledger pins the catalog
version it was opened with. If that file is missing, the order is priced with the catalog in
force rather than left stuck, an error is logged naming the order and both versions, and
each charge records the version that actually priced it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from typing import Any, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, model_validator

from azl_contracts.common import ServiceCode, ServiceTiming
from azl_kit.logging import get_logger

CURRENT_FILE = "catalog.json"
PREVIOUS_PREFIX = "catalog-"

log = get_logger(__name__)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GoodsTotalTier(_Frozen):
    """Applies to goods totals up to ``up_to_vnd`` inclusive (the last tier: any total)."""

    up_to_vnd: Decimal | None
    rate: Decimal

    def covers(self, goods_total_vnd: Decimal) -> bool:
        return self.up_to_vnd is None or goods_total_vnd <= self.up_to_vnd


class UnitPriceTier(_Frozen):
    """Applies to unit prices below ``below_cny`` (exclusive) and/or up to ``up_to_cny``
    (inclusive); a tier with neither takes every price the earlier tiers left."""

    below_cny: Decimal | None = None
    up_to_cny: Decimal | None = None
    per_unit_vnd: Decimal

    def covers(self, unit_price_cny: Decimal) -> bool:
        if self.below_cny is not None and not unit_price_cny < self.below_cny:
            return False
        return self.up_to_cny is None or unit_price_cny <= self.up_to_cny


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
    volumetric_divisor_cm3_per_kg: Decimal
    weight_step_kg: Decimal
    fees: dict[ServiceCode, FeeRule]

    @model_validator(mode="after")
    def _complete(self) -> Self:
        missing = [code.value for code in ServiceCode if code not in self.fees]
        if missing:
            raise ValueError(f"catalog {self.version} has no rule for {', '.join(missing)}")
        for code, rule in self.fees.items():
            if rule.timing is not code.timing or rule.mandatory is not code.mandatory:
                raise ValueError(
                    f"catalog {self.version}: {code.value} must be {code.timing.value}"
                    f"{' and mandatory' if code.mandatory else ''}, as the contracts say"
                )
        return self

    def rule(self, code: ServiceCode) -> FeeRule:
        return self.fees[code]

    def value(self, code: ServiceCode, field: str) -> Decimal:
        amount: Any = getattr(self.fees[code], field)
        if amount is None:
            raise ValueError(f"catalog {self.version}: {code.value} has no {field}")
        return Decimal(amount)


def load_catalog(text: str | None = None) -> Catalog:
    """The catalog in force shipped with the service (or the given JSON text)."""
    if text is None:
        text = resources.files("fees").joinpath(CURRENT_FILE).read_text(encoding="utf-8")
    return Catalog.model_validate_json(text)


class Catalogs:
    """Every catalog version the service knows, and the one in force for new orders."""

    def __init__(self, current: Catalog, previous: Mapping[str, Catalog] | None = None) -> None:
        self.current = current
        self._by_version = {**(previous or {}), current.version: current}

    def for_version(self, version: str | None, *, order_id: UUID | None = None) -> Catalog:
        """The catalog an order was priced with. An unknown version (its file is missing) is
        priced with the one in force, so the order is not stuck; but then its fees are priced
        at other prices than it was placed under, which an operator has to hear of."""
        if version is None:
            return self.current
        catalog = self._by_version.get(version)
        if catalog is None:
            log.error(
                "catalog version missing: priced with the catalog in force instead",
                order_id=None if order_id is None else str(order_id),
                missing_version=version,
                used_version=self.current.version,
                known_versions=self.versions,
            )
            return self.current
        return catalog

    @property
    def versions(self) -> list[str]:
        return sorted(self._by_version)


def load_catalogs() -> Catalogs:
    package = resources.files("fees")
    previous = {}
    for entry in package.iterdir():
        if entry.name.startswith(PREVIOUS_PREFIX) and entry.name.endswith(".json"):
            catalog = Catalog.model_validate_json(entry.read_text(encoding="utf-8"))
            previous[catalog.version] = catalog
    return Catalogs(load_catalog(), previous)
