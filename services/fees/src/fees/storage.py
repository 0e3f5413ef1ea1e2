"""Fees tables, the ledger repository (optimistic version check) and the unit of work."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
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

from azl_contracts.common import ServiceCode
from azl_contracts.fees import LedgerEntryKind
from azl_kit.errors import ConcurrencyConflict
from azl_kit.flow import FlowContext
from azl_kit.tables import messaging_tables
from azl_kit.uow import Clock, UnitOfWork, utc_now

from .domain import Entry, Ledger

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
)

entries_table = Table(
    "ledger_entries",
    metadata,
    Column("entry_id", Uuid, primary_key=True),
    Column("order_id", Uuid, ForeignKey("ledgers.order_id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("amount_vnd", Numeric(18, 0), nullable=False),
    Column("fee_code", Text, nullable=True),
    Column("catalog_version", Text, nullable=True),
    Column("description", Text, nullable=False),
    Column("reference", Text, nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ledger_entries_order", "order_id", "recorded_at"),
    Index(
        "ledger_entries_one_payment",
        "order_id",
        "reference",
        unique=True,
        postgresql_where=text("kind = 'payment'"),
    ),
)


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


class LedgerRepository:
    def __init__(self, conn: AsyncConnection, uow: UnitOfWork) -> None:
        self._conn = conn
        self._uow = uow
        self._new: list[Ledger] = []
        self._loaded: list[Ledger] = []

    async def get(self, order_id: UUID) -> Ledger | None:
        row = (
            await self._conn.execute(
                select(ledgers_table).where(ledgers_table.c.order_id == order_id)
            )
        ).first()
        if row is None:
            return None
        entries = (
            await self._conn.execute(
                select(entries_table)
                .where(entries_table.c.order_id == order_id)
                .order_by(entries_table.c.recorded_at, entries_table.c.entry_id)
            )
        ).all()
        ledger = Ledger(
            order_id=row.order_id,
            customer_id=row.customer_id,
            goods_total_vnd=Decimal(row.goods_total_vnd),
            services=[ServiceCode(s) for s in row.services],
            version=row.version,
            entries=[_entry(e) for e in entries],
        )
        self._loaded.append(ledger)
        self._uow.track(ledger)
        return ledger

    def add(self, ledger: Ledger) -> None:
        self._new.append(ledger)
        self._uow.track(ledger)

    async def flush(self) -> None:
        now = self._uow.now()
        for ledger in self._new:
            await self._conn.execute(insert(ledgers_table).values(**_columns(ledger, now)))
        for ledger in self._loaded:
            if not ledger.changed:
                continue
            result = await self._conn.execute(
                update(ledgers_table)
                .where(
                    ledgers_table.c.order_id == ledger.order_id,
                    ledgers_table.c.version == ledger.version - 1,
                )
                .values(**_columns(ledger, now))
            )
            if result.rowcount != 1:
                raise ConcurrencyConflict(f"ledger {ledger.order_id} changed underneath")
        for ledger in self._new + self._loaded:
            entries = ledger.new_entries
            if entries:
                await self._conn.execute(
                    insert(entries_table),
                    [
                        {
                            "entry_id": e.entry_id,
                            "order_id": ledger.order_id,
                            "kind": e.kind.value,
                            "amount_vnd": e.amount_vnd,
                            "fee_code": None if e.fee_code is None else e.fee_code.value,
                            "catalog_version": e.catalog_version,
                            "description": e.description,
                            "reference": e.reference,
                            "recorded_at": e.recorded_at,
                        }
                        for e in entries
                    ],
                )
            ledger.close(now)
        self._new.clear()
        self._loaded.clear()


def _columns(ledger: Ledger, now: Any) -> dict[str, Any]:
    return {
        "order_id": ledger.order_id,
        "customer_id": ledger.customer_id,
        "goods_total_vnd": ledger.goods_total_vnd,
        "services": [s.value for s in ledger.services],
        "version": ledger.version,
        "updated_at": now,
    }


class FeesUnitOfWork(UnitOfWork):
    def __init__(self, connection: AsyncConnection, flow: FlowContext, clock: Clock = utc_now):
        super().__init__(connection, flow, clock)
        self.ledgers = LedgerRepository(connection, self)

    async def flush(self) -> None:
        await self.ledgers.flush()
