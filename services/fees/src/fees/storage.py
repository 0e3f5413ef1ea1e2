"""Fees tables, the ledger repository (``VersionedRepository``) and the unit of work."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    Uuid,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from azl_contracts.common import OrderStatus, ServiceCode
from azl_contracts.fees import LedgerEntryKind
from azl_kit.aggregates import VersionedRepository
from azl_kit.tables import messaging_tables
from azl_kit.uow import UnitOfWork, repository

from .domain import Entry, Ledger
from .pricing import GoodsLine, GoodsToPrice, PackageSize

metadata = MetaData()
messaging_tables(metadata)

ledgers_table = Table(
    "ledgers",
    metadata,
    Column("order_id", Uuid, primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("goods_total_vnd", Numeric(18, 0), nullable=False),
    Column("services", JSONB, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("catalog_version", Text, nullable=False),
    Column("goods", JSONB, nullable=False),
    Column("goods_version", Integer, nullable=False),
    Column("services_version", Integer, nullable=False),
    Column("deposited", Boolean, nullable=False),
    Column("cancelled_from", Text, nullable=True),
    Column("delivered", Boolean, nullable=False),
    Column("packages", JSONB, nullable=False),
    Column("shipping_deducted_vnd", Numeric(18, 0), nullable=False),
    Column("refund_due_vnd", Numeric(18, 0), nullable=True),
)

entries_table = Table(
    "ledger_entries",
    metadata,
    Column("entry_id", Uuid, primary_key=True),
    Column("order_id", Uuid, ForeignKey("ledgers.order_id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", Text, nullable=False),
    Column("amount_vnd", Numeric(18, 0), nullable=False),
    Column("fee_code", Text, nullable=True),
    Column("catalog_version", Text, nullable=True),
    Column("description", Text, nullable=False),
    Column("reference", Text, nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ledger_entries_position", "order_id", "position", unique=True),
    Index(
        "ledger_entries_one_payment",
        "order_id",
        "reference",
        unique=True,
        postgresql_where=text("kind = 'payment'"),
    ),
    Index(
        "ledger_entries_one_refund",
        "order_id",
        "reference",
        unique=True,
        postgresql_where=text("kind = 'refund'"),
    ),
    Index(
        "ledger_entries_one_payout",
        "order_id",
        "reference",
        unique=True,
        postgresql_where=text("kind = 'payout'"),
    ),
)


# --- (de)serialisation ----------------------------------------------------------------


def _entry(row: Any) -> Entry:
    return Entry(
        entry_id=row.entry_id,
        kind=LedgerEntryKind(row.kind),
        amount_vnd=Decimal(row.amount_vnd),
        description=row.description,
        recorded_at=row.recorded_at,
        fee_code=None if row.fee_code is None else ServiceCode(row.fee_code),
        catalog_version=row.catalog_version,
        reference=row.reference,
    )


def _goods_document(goods: GoodsToPrice) -> dict[str, Any]:
    return {
        "total_vnd": str(goods.total_vnd),
        "lines": [
            {"quantity": line.quantity, "unit_price_cny": str(line.unit_price_cny)}
            for line in goods.lines
        ],
    }


def _goods(document: dict[str, Any]) -> GoodsToPrice:
    return GoodsToPrice(
        Decimal(document["total_vnd"]),
        tuple(GoodsLine(li["quantity"], Decimal(li["unit_price_cny"])) for li in document["lines"]),
    )


def _packages_document(packages: list[PackageSize]) -> list[dict[str, str]]:
    return [
        {
            "package_code": p.package_code,
            "weight_kg": str(p.weight_kg),
            "length_cm": str(p.length_cm),
            "width_cm": str(p.width_cm),
            "height_cm": str(p.height_cm),
        }
        for p in packages
    ]


def _packages(document: list[dict[str, str]]) -> list[PackageSize]:
    return [
        PackageSize(
            weight_kg=Decimal(p["weight_kg"]),
            length_cm=Decimal(p["length_cm"]),
            width_cm=Decimal(p["width_cm"]),
            height_cm=Decimal(p["height_cm"]),
            package_code=p["package_code"],
        )
        for p in document
    ]


def _columns(ledger: Ledger, now: datetime) -> dict[str, Any]:
    return {
        "order_id": ledger.order_id,
        "customer_id": ledger.customer_id,
        "goods_total_vnd": ledger.goods.total_vnd,
        "services": [s.value for s in ledger.services],
        "version": ledger.version,
        "updated_at": now,
        "catalog_version": ledger.catalog_version,
        "goods": _goods_document(ledger.goods),
        "goods_version": ledger.goods_version,
        "services_version": ledger.services_version,
        "deposited": ledger.deposited,
        "cancelled_from": None if ledger.cancelled_from is None else ledger.cancelled_from.value,
        "delivered": ledger.delivered,
        "packages": _packages_document(ledger.packages),
        "shipping_deducted_vnd": ledger.shipping_deducted_vnd,
        "refund_due_vnd": ledger.refund_due_vnd,
    }


async def read_ledger(conn: AsyncConnection, order_id: UUID) -> Ledger | None:
    """An order's ledger with its entries in the order they were recorded."""
    row = (
        await conn.execute(select(ledgers_table).where(ledgers_table.c.order_id == order_id))
    ).first()
    if row is None:
        return None
    entries = (
        await conn.execute(
            select(entries_table)
            .where(entries_table.c.order_id == order_id)
            .order_by(entries_table.c.position)
        )
    ).all()
    return Ledger(
        order_id=row.order_id,
        customer_id=row.customer_id,
        catalog_version=row.catalog_version,
        goods=_goods(row.goods),
        services=[ServiceCode(s) for s in row.services],
        goods_version=row.goods_version,
        services_version=row.services_version,
        deposited=row.deposited,
        cancelled_from=None if row.cancelled_from is None else OrderStatus(row.cancelled_from),
        delivered=row.delivered,
        packages=_packages(row.packages),
        shipping_deducted_vnd=Decimal(row.shipping_deducted_vnd),
        refund_due_vnd=None if row.refund_due_vnd is None else Decimal(row.refund_due_vnd),
        version=row.version,
        entries=[_entry(e) for e in entries],
    )


# --- repository and unit of work -------------------------------------------------------


class LedgerRepository(VersionedRepository[Ledger]):
    kind = "ledger"

    async def get(self, order_id: UUID) -> Ledger | None:
        ledger = await read_ledger(self._conn, order_id)
        return None if ledger is None else self._track(ledger)

    def _identity(self, ledger: Ledger) -> UUID:
        return ledger.order_id

    async def _insert(self, ledger: Ledger, now: datetime) -> None:
        await self._conn.execute(insert(ledgers_table).values(**_columns(ledger, now)))

    async def _update(self, ledger: Ledger, expected_version: int, now: datetime) -> bool:
        result = await self._conn.execute(
            update(ledgers_table)
            .where(
                ledgers_table.c.order_id == ledger.order_id,
                ledgers_table.c.version == expected_version,
            )
            .values(**_columns(ledger, now))
        )
        return result.rowcount == 1

    async def _written(self, ledger: Ledger, now: datetime) -> None:
        """The ledger's new entries, then its one ``fees.ledger.updated``."""
        new = ledger.new_entries
        if new:
            first = len(ledger.entries) - len(new)
            await self._conn.execute(
                insert(entries_table),
                [_entry_columns(ledger, e, first + offset) for offset, e in enumerate(new)],
            )
        ledger.close(now)


def _entry_columns(ledger: Ledger, entry: Entry, position: int) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "order_id": ledger.order_id,
        "position": position,
        "kind": entry.kind.value,
        "amount_vnd": entry.amount_vnd,
        "fee_code": None if entry.fee_code is None else entry.fee_code.value,
        "catalog_version": entry.catalog_version,
        "description": entry.description,
        "reference": entry.reference,
        "recorded_at": entry.recorded_at,
    }


class FeesUnitOfWork(UnitOfWork):
    ledgers = repository(LedgerRepository)
