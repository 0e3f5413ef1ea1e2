"""Orders tables, the order repository (``VersionedRepository``) and the unit of work.

An order is stored as one row: the columns the read API filters and sorts on, plus a JSONB
document with the rest of the aggregate (items, services, address, deposits, packages,
history). The row is the consistency boundary, so a command reads and writes one row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    Uuid,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert

from azl_contracts import Actor
from azl_contracts import orders as contract
from azl_contracts.common import (
    DeliveryAddress,
    ItemStatus,
    OrderStatus,
    PaymentMethod,
    ServiceCode,
    Website,
)
from azl_kit.aggregates import VersionedRepository
from azl_kit.db import DriverStatement
from azl_kit.tables import messaging_tables
from azl_kit.uow import DeferredWrite, UnitOfWork, repository

from .domain import HistoryEntry, Item, Order, Payment

metadata = MetaData()
messaging_tables(metadata)

orders_table = Table(
    "orders",
    metadata,
    Column("order_id", Uuid, primary_key=True),
    Column("code", Text, nullable=False, unique=True),
    Column("customer_id", Text, nullable=False),
    Column("website", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("goods_total_vnd", Numeric(18, 0), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("deposited_at", DateTime(timezone=True), nullable=True),  # listed to the customer
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("document", JSONB, nullable=False),
    # The list's order (newest update first, then id) and its filters: each index serves
    # ``ORDER BY updated_at DESC, order_id DESC`` under its equality filter.
    Index("orders_updated", text("updated_at DESC"), text("order_id DESC")),
    Index("orders_customer_updated", "customer_id", text("updated_at DESC"), text("order_id DESC")),
    Index("orders_status_updated", "status", text("updated_at DESC"), text("order_id DESC")),
    Index("orders_code_prefix", "code", postgresql_ops={"code": "text_pattern_ops"}),
    Index(
        "orders_delivered_due",
        "delivered_at",
        postgresql_where=text("status = 'delivered'"),
    ),
)

ledgers_table = Table(
    "order_ledgers",
    metadata,
    Column("order_id", Uuid, primary_key=True),
    Column("ledger_version", Integer, nullable=False),
    Column("balance_due_vnd", Numeric(18, 0), nullable=True),
    Column("snapshot", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

complaints_table = Table(
    "order_complaints",
    metadata,
    Column("complaint_id", Uuid, primary_key=True),
    Column("order_id", Uuid, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("summary", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("order_complaints_order_id", "order_id"),
)


# --- (de)serialisation of the aggregate ------------------------------------------------


def _actor(data: dict[str, Any]) -> Actor:
    return Actor.model_validate(data)


def to_document(order: Order) -> dict[str, Any]:
    return {
        "exchange_rate": str(order.exchange_rate),
        "deposit_ratio": str(order.deposit_ratio),
        "items": [
            {
                "item_id": str(i.item_id),
                "product_url": i.product_url,
                "title": i.title,
                "variant": i.variant,
                "quantity": i.quantity,
                "unit_price_cny": str(i.unit_price_cny),
                "status": i.status.value,
                "pending_quantity": i.pending_quantity,
                "pending_unit_price_cny": None
                if i.pending_unit_price_cny is None
                else str(i.pending_unit_price_cny),
            }
            for i in order.items
        ],
        "services": [s.value for s in order.services],
        "delivery_address": order.delivery_address.model_dump(mode="json"),
        "deposits": [_payment_document(p) for p in order.deposits],
        "payments": [_payment_document(p) for p in order.payments],
        "packages": [p.model_dump(mode="json") for p in order.packages],
        "history": [
            {
                "from_status": None if h.from_status is None else h.from_status.value,
                "to_status": h.to_status.value,
                "actor": h.actor.model_dump(mode="json"),
                "reason": h.reason,
                "at": h.at.isoformat(),
            }
            for h in order.history
        ],
    }


def _payment_document(payment: Payment) -> dict[str, Any]:
    document = {
        "payment_id": payment.payment_id,
        "amount_vnd": str(payment.amount_vnd),
        "at": payment.at.isoformat(),
    }
    if payment.method is not None:
        document["method"] = payment.method.value
    return document


def _payment(document: dict[str, Any]) -> Payment:
    method = document.get("method")
    return Payment(
        document["payment_id"],
        Decimal(document["amount_vnd"]),
        datetime.fromisoformat(document["at"]),
        None if method is None else PaymentMethod(method),
    )


def from_row(row: Mapping[Any, Any]) -> Order:
    """The aggregate from its row: an asyncpg record, or a SQLAlchemy row's ``_mapping``."""
    doc = row["document"]
    return Order(
        order_id=row["order_id"],
        code=row["code"],
        customer_id=row["customer_id"],
        website=Website(row["website"]),
        exchange_rate=Decimal(doc["exchange_rate"]),
        items=[
            Item(
                item_id=UUID(i["item_id"]),
                product_url=i["product_url"],
                title=i["title"],
                variant=i["variant"],
                quantity=i["quantity"],
                unit_price_cny=Decimal(i["unit_price_cny"]),
                status=ItemStatus(i["status"]),
                pending_quantity=i["pending_quantity"],
                pending_unit_price_cny=None
                if i["pending_unit_price_cny"] is None
                else Decimal(i["pending_unit_price_cny"]),
            )
            for i in doc["items"]
        ],
        services=[ServiceCode(s) for s in doc["services"]],
        delivery_address=DeliveryAddress.model_validate(doc["delivery_address"]),
        deposit_ratio=Decimal(doc["deposit_ratio"]),
        status=OrderStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
        deposits=[_payment(p) for p in doc["deposits"]],
        payments=[_payment(p) for p in doc.get("payments", [])],
        packages=[contract.Package.model_validate(p) for p in doc["packages"]],
        history=[
            HistoryEntry(
                from_status=None if h["from_status"] is None else OrderStatus(h["from_status"]),
                to_status=OrderStatus(h["to_status"]),
                actor=_actor(h["actor"]),
                reason=h["reason"],
                at=datetime.fromisoformat(h["at"]),
            )
            for h in doc["history"]
        ],
        deposited_at=row["deposited_at"],
        delivered_at=row["delivered_at"],
    )


def _columns(order: Order) -> dict[str, Any]:
    return {
        "code": order.code,
        "customer_id": order.customer_id,
        "website": order.website.value,
        "status": order.status.value,
        "goods_total_vnd": order.goods_total_vnd,
        "version": order.version,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "deposited_at": order.deposited_at,
        "delivered_at": order.delivered_at,
        "document": json.dumps(to_document(order)),  # the driver takes JSONB as JSON text
    }


# --- repository and unit of work -------------------------------------------------------


# Every command reads and writes its order's row: compiled once, run on the driver.
_SELECT_ORDER = DriverStatement(
    select(orders_table).where(orders_table.c.order_id == bindparam("order_id"))
)
_ORDER_EXISTS = DriverStatement(
    select(orders_table.c.order_id).where(orders_table.c.order_id == bindparam("order_id"))
)
_INSERT_ORDER = DriverStatement(
    insert(orders_table).values({c.name: bindparam(c.name) for c in orders_table.c})
)
_UPDATE_ORDER = DriverStatement(
    update(orders_table)
    .where(
        orders_table.c.order_id == bindparam("b_order_id"),
        orders_table.c.version == bindparam("b_expected_version"),
    )
    .values({c.name: bindparam(c.name) for c in orders_table.c if c.name != "order_id"})
)


class OrderRepository(VersionedRepository[Order]):
    kind = "order"

    async def get(self, order_id: UUID) -> Order | None:
        row = await _SELECT_ORDER.fetchrow(self._conn, order_id=order_id)
        return None if row is None else self._track(from_row(row))

    async def exists(self, order_id: UUID) -> bool:
        return await _ORDER_EXISTS.fetchrow(self._conn, order_id=order_id) is not None

    def _identity(self, order: Order) -> UUID:
        return order.order_id

    async def _insert(self, order: Order, now: datetime) -> None:
        await _INSERT_ORDER.execute(self._conn, order_id=order.order_id, **_columns(order))

    def _deferred_update(self, order: Order, expected_version: int, now: datetime) -> DeferredWrite:
        arguments = _UPDATE_ORDER.arguments(
            {
                "b_order_id": order.order_id,
                "b_expected_version": expected_version,
                **_columns(order),
            }
        )
        return DeferredWrite(_UPDATE_ORDER.sql, arguments, self.kind, order.order_id)

    async def _update(self, order: Order, expected_version: int, now: datetime) -> bool:
        status = await _UPDATE_ORDER.execute(
            self._conn,
            b_order_id=order.order_id,
            b_expected_version=expected_version,
            **_columns(order),
        )
        return status == "UPDATE 1"


class OrdersUnitOfWork(UnitOfWork):
    orders = repository(OrderRepository)

    async def save_ledger(
        self,
        order_id: UUID,
        ledger_version: int,
        balance_due_vnd: Decimal,
        snapshot: dict[str, Any],
    ) -> bool:
        """Keep the newest ledger snapshot; False when a newer one is already stored."""
        statement = (
            pg_insert(ledgers_table)
            .values(
                order_id=order_id,
                ledger_version=ledger_version,
                balance_due_vnd=balance_due_vnd,
                snapshot=snapshot,
                updated_at=self.now(),
            )
            .on_conflict_do_update(
                index_elements=["order_id"],
                set_={
                    "ledger_version": ledger_version,
                    "balance_due_vnd": balance_due_vnd,
                    "snapshot": snapshot,
                    "updated_at": self.now(),
                },
                where=ledgers_table.c.ledger_version < ledger_version,
            )
            .returning(ledgers_table.c.order_id)
        )
        return (await self.connection.execute(statement)).first() is not None

    async def complaint_view(self, complaint_id: UUID) -> dict[str, Any] | None:
        """A complaint's view, locked until the transaction ends (its events serialise)."""
        query = (
            select(complaints_table.c.summary)
            .where(complaints_table.c.complaint_id == complaint_id)
            .with_for_update()
        )
        view: dict[str, Any] | None = (await self.connection.execute(query)).scalar()
        return view

    async def save_complaint(
        self, complaint_id: UUID, customer_id: str, view: dict[str, Any], *, new: bool
    ) -> None:
        """Insert a new complaint's view (two first events racing: one insert fails on the
        key and its message runs again) or update the locked one."""
        values = {
            "order_id": UUID(view["order_id"]),
            "customer_id": customer_id,
            "type": view["type"] or "",
            "status": view["status"],
            "summary": view,
            "updated_at": datetime.fromisoformat(view["updated_at"]),
        }
        if new:
            await self.connection.execute(
                insert(complaints_table).values(complaint_id=complaint_id, **values)
            )
        else:
            await self.connection.execute(
                update(complaints_table)
                .where(complaints_table.c.complaint_id == complaint_id)
                .values(**values)
            )
