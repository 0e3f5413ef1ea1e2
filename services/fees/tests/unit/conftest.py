from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar
from uuid import uuid4

from azl_contracts import Event
from azl_contracts import fees as contract
from azl_contracts.common import ServiceCode
from azl_contracts.money import DEFAULT_DEPOSIT_RATIO, required_deposit_vnd
from fees.catalog import load_catalog
from fees.domain import Ledger
from fees.pricing import GoodsLine, GoodsToPrice

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
CATALOG = load_catalog()
RATE = Decimal(3500)
C = ServiceCode
E = TypeVar("E", bound=Event)


def goods(*lines: tuple[int, str], rate: Decimal = RATE) -> GoodsToPrice:
    return GoodsToPrice.of([GoodsLine(q, Decimal(p)) for q, p in lines], rate)


def settled(ledger: Ledger) -> Ledger:
    """As if saved: the unit of work closed it and its events were published."""
    ledger.close(NOW)
    ledger.events.clear()
    return ledger


def new_ledger(placed: GoodsToPrice, services: Sequence[ServiceCode] = ()) -> Ledger:
    ledger = Ledger.open(
        uuid4(),
        "cust-1",
        placed,
        services,
        order_version=1,
        catalog_version=CATALOG.version,
    )
    return settled(ledger)


def deposited(
    placed: GoodsToPrice, services: Sequence[ServiceCode] = (), paid: Decimal | None = None
) -> Ledger:
    """A ledger whose order paid its deposit (70 % unless ``paid``) and became deposited."""
    ledger = new_ledger(placed, services)
    amount = required_deposit_vnd(placed.total_vnd, DEFAULT_DEPOSIT_RATIO) if paid is None else paid
    ledger.record_payment("deposit-1", amount, "deposit", NOW)
    ledger.order_deposited(placed, services, order_version=2, catalog=CATALOG, now=NOW)
    return settled(ledger)


def of_type(events: list[Event], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def charges(events: list[Event]) -> dict[ServiceCode, Decimal]:
    return {e.fee_code: e.amount_vnd for e in events if isinstance(e, contract.FeeCharged)}


def voids(events: list[Event]) -> dict[ServiceCode, Decimal]:
    return {e.fee_code: e.amount_vnd for e in events if isinstance(e, contract.FeeVoided)}


def entries_sum(ledger: Ledger) -> Decimal:
    return sum((e.signed_vnd for e in ledger.entries), Decimal(0))
