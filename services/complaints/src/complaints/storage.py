"""Complaints tables: its own projection of each order (from orders and fees events)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime, Integer, MetaData, Numeric, Table, Text, Uuid, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from azl_kit.flow import FlowContext
from azl_kit.tables import messaging_tables
from azl_kit.uow import Clock, UnitOfWork, utc_now

metadata = MetaData()
messaging_tables(metadata)

order_states_table = Table(
    "order_states",
    metadata,
    Column("order_id", Uuid, primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("order_code", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("status_version", Integer, nullable=False),
    Column("items", JSONB, nullable=False),
    Column("items_version", Integer, nullable=False),
    Column("paid_vnd", Numeric(18, 0), nullable=False),
    Column("refunded_vnd", Numeric(18, 0), nullable=False),
    Column("ledger_version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

_t = order_states_table


class ComplaintsUnitOfWork(UnitOfWork):
    def __init__(self, connection: AsyncConnection, flow: FlowContext, clock: Clock = utc_now):
        super().__init__(connection, flow, clock)

    async def _upsert(self, base: dict[str, Any], updates: dict[str, Any], newer: Any) -> None:
        row = {
            "status": "awaiting_deposit",
            "status_version": 0,
            "items": [],
            "items_version": 0,
            "paid_vnd": 0,
            "refunded_vnd": 0,
            "ledger_version": 0,
            **base,
            **updates,
            "updated_at": self.now(),
        }
        statement = insert(_t).values(**row)
        statement = statement.on_conflict_do_update(
            index_elements=["order_id"],
            set_={**{k: statement.excluded[k] for k in updates}, "updated_at": self.now()},
            where=newer,
        )
        await self.connection.execute(statement)

    async def record_status(
        self, order_id: UUID, customer_id: str, code: str, status: str, version: int
    ) -> None:
        """Keep the status of the newest order version seen (events may arrive out of order)."""
        await self._upsert(
            {"order_id": order_id, "customer_id": customer_id, "order_code": code},
            {"order_code": code, "status": status, "status_version": version},
            _t.c.status_version <= version,
        )

    async def record_items(
        self, order_id: UUID, customer_id: str, code: str, items: list[dict[str, Any]], version: int
    ) -> None:
        await self._upsert(
            {"order_id": order_id, "customer_id": customer_id, "order_code": code},
            {"order_code": code, "items": items, "items_version": version},
            _t.c.items_version <= version,
        )

    async def record_ledger(
        self, order_id: UUID, customer_id: str, paid: Any, refunded: Any, version: int
    ) -> None:
        await self._upsert(
            {"order_id": order_id, "customer_id": customer_id, "order_code": ""},
            {"paid_vnd": paid, "refunded_vnd": refunded, "ledger_version": version},
            _t.c.ledger_version < version,
        )

    async def order_state(self, order_id: UUID) -> Any:
        return (await self.connection.execute(select(_t).where(_t.c.order_id == order_id))).first()
