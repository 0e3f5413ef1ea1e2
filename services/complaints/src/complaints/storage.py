"""Complaints tables: the complaints themselves (optimistic version check) and the service's
own projection of each order, from orders and fees events.

A complaint is one row: the columns the read API filters and sorts on, plus a JSONB document
with the rest of the aggregate (items, attachments, steps, thread). The order's row in
``order_states`` is locked by every command whose rule depends on the order (opening a
complaint, resolving one) and by the projection when it records a completion, so a rule and
the order fact it reads are never decided on both sides of a concurrent change.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
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
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from azl_contracts import Actor, ReasonCode
from azl_contracts.common import OrderStatus
from azl_contracts.complaints import ComplaintStatus, ComplaintType, Resolution
from azl_kit.aggregates import VersionedRepository
from azl_kit.errors import ConcurrencyConflict
from azl_kit.tables import messaging_tables
from azl_kit.uow import UnitOfWork, repository

from .domain import ACTIVE, ApprovedRefund, Complaint, OrderFacts, Step, ThreadEntry, ThreadKind
from .ports import Ledger

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
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("shipping_charged_vnd", Numeric(18, 0), nullable=False, server_default="0"),
    Column("shipping_deducted_vnd", Numeric(18, 0), nullable=False, server_default="0"),
    Column("ledger_refunds", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("deducts_shipping", Boolean, nullable=False, server_default=text("false")),
)

complaints_table = Table(
    "complaints",
    metadata,
    Column("complaint_id", Uuid, primary_key=True),
    Column("order_id", Uuid, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("order_code", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("resolution", Text, nullable=True),
    Column("resolved_amount_vnd", Numeric(18, 0), nullable=True),
    Column("shipping_deducted_vnd", Numeric(18, 0), nullable=True),
    Column("version", Integer, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("document", JSONB, nullable=False),
    Index("complaints_order", "order_id"),
    Index("complaints_updated", text("updated_at DESC"), "complaint_id"),
    Index("complaints_customer_updated", "customer_id", text("updated_at DESC")),
    Index("complaints_status_updated", "status", text("updated_at DESC")),
)

_t = order_states_table
_c = complaints_table


# --- (de)serialisation of the aggregate ------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def to_document(complaint: Complaint) -> dict[str, Any]:
    return {
        "item_ids": [str(i) for i in complaint.item_ids],
        "description": complaint.description,
        "attachments": complaint.attachments,
        "requested_amount_vnd": None
        if complaint.requested_amount_vnd is None
        else str(complaint.requested_amount_vnd),
        "resolution_note": complaint.resolution_note,
        "closed_reason": None if complaint.closed_reason is None else complaint.closed_reason.value,
        "history": [
            {
                "event": s.event,
                "from_status": None if s.from_status is None else s.from_status.value,
                "to_status": s.to_status.value,
                "actor": s.actor.model_dump(mode="json"),
                "at": s.at.isoformat(),
                "note": s.note,
            }
            for s in complaint.history
        ],
        "thread": [
            {
                "entry_id": str(e.entry_id),
                "kind": e.kind.value,
                "actor": e.actor.model_dump(mode="json"),
                "body": e.body,
                "attachments": list(e.attachments),
                "at": e.at.isoformat(),
            }
            for e in complaint.thread
        ],
    }


def from_row(row: Any) -> Complaint:
    doc = row.document
    return Complaint(
        complaint_id=row.complaint_id,
        order_id=row.order_id,
        customer_id=row.customer_id,
        order_code=row.order_code,
        type=ComplaintType(row.type),
        item_ids=[UUID(i) for i in doc["item_ids"]],
        description=doc["description"],
        attachments=list(doc["attachments"]),
        requested_amount_vnd=_decimal(doc["requested_amount_vnd"]),
        status=ComplaintStatus(row.status),
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        version=row.version,
        resolution=None if row.resolution is None else Resolution(row.resolution),
        resolved_amount_vnd=_decimal(row.resolved_amount_vnd),
        shipping_deducted_vnd=_decimal(row.shipping_deducted_vnd),
        resolution_note=doc["resolution_note"],
        closed_reason=None if doc["closed_reason"] is None else ReasonCode(doc["closed_reason"]),
        history=[
            Step(
                event=s["event"],
                from_status=None if s["from_status"] is None else ComplaintStatus(s["from_status"]),
                to_status=ComplaintStatus(s["to_status"]),
                actor=Actor.model_validate(s["actor"]),
                at=datetime.fromisoformat(s["at"]),
                note=s["note"],
            )
            for s in doc["history"]
        ],
        thread=[
            ThreadEntry(
                entry_id=UUID(e["entry_id"]),
                kind=ThreadKind(e["kind"]),
                actor=Actor.model_validate(e["actor"]),
                body=e["body"],
                attachments=tuple(e["attachments"]),
                at=datetime.fromisoformat(e["at"]),
            )
            for e in doc["thread"]
        ],
    )


def _columns(complaint: Complaint) -> dict[str, Any]:
    return {
        "order_id": complaint.order_id,
        "customer_id": complaint.customer_id,
        "order_code": complaint.order_code,
        "type": complaint.type.value,
        "status": complaint.status.value,
        "resolution": None if complaint.resolution is None else complaint.resolution.value,
        "resolved_amount_vnd": complaint.resolved_amount_vnd,
        "shipping_deducted_vnd": complaint.shipping_deducted_vnd,
        "version": complaint.version,
        "opened_at": complaint.opened_at,
        "updated_at": complaint.updated_at,
        "document": to_document(complaint),
    }


def order_facts(row: Any, approved_refunds: list[ApprovedRefund]) -> OrderFacts:
    return OrderFacts(
        order_id=row.order_id,
        customer_id=row.customer_id,
        code=row.order_code,
        status=OrderStatus(row.status),
        item_ids=frozenset(UUID(i["item_id"]) for i in row.items),
        paid_vnd=Decimal(row.paid_vnd),
        ledger_refunds={k: Decimal(v) for k, v in row.ledger_refunds.items()},
        shipping_charged_vnd=Decimal(row.shipping_charged_vnd),
        shipping_deducted_vnd=Decimal(row.shipping_deducted_vnd),
        approved_refunds=approved_refunds,
        completed_at=row.completed_at,
        deducts_shipping=row.deducts_shipping,
    )


async def approved_refunds(conn: AsyncConnection, order_id: UUID) -> list[ApprovedRefund]:
    rows = (
        await conn.execute(
            select(_c.c.complaint_id, _c.c.resolved_amount_vnd, _c.c.shipping_deducted_vnd).where(
                _c.c.order_id == order_id, _c.c.resolution == Resolution.REFUND.value
            )
        )
    ).all()
    return [
        ApprovedRefund(r.complaint_id, Decimal(r.resolved_amount_vnd), Decimal(r[2] or 0))
        for r in rows
    ]


async def read_order_facts(
    conn: AsyncConnection, order_id: UUID, *, lock: bool = False
) -> OrderFacts | None:
    query = select(_t).where(_t.c.order_id == order_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return order_facts(row, await approved_refunds(conn, order_id))


# --- repository and unit of work -------------------------------------------------------


class ComplaintRepository(VersionedRepository[Complaint]):
    kind = "complaint"

    async def get(self, complaint_id: UUID) -> Complaint | None:
        query = select(_c).where(_c.c.complaint_id == complaint_id)
        row = (await self._conn.execute(query)).first()
        return None if row is None else self._track(from_row(row))

    async def exists(self, complaint_id: UUID) -> bool:
        query = select(_c.c.complaint_id).where(_c.c.complaint_id == complaint_id)
        return (await self._conn.execute(query)).first() is not None

    async def active_on_order(self, order_id: UUID) -> list[Complaint]:
        rows = (
            await self._conn.execute(
                select(_c).where(
                    _c.c.order_id == order_id, _c.c.status.in_([s.value for s in ACTIVE])
                )
            )
        ).all()
        return [self._track(from_row(r)) for r in rows]

    async def active_opened_after(self, order_id: UUID, moment: datetime) -> list[Complaint]:
        rows = (
            await self._conn.execute(
                select(_c).where(
                    _c.c.order_id == order_id,
                    _c.c.status.in_([s.value for s in ACTIVE]),
                    _c.c.opened_at > moment,
                )
            )
        ).all()
        return [self._track(from_row(r)) for r in rows]

    async def ensure_current(self, complaint: Complaint) -> None:
        """Raise ``ConcurrencyConflict`` if the complaint changed since it was loaded (e.g.
        while the handler waited for a lock): the handler runs again on the new state."""
        query = select(_c.c.version).where(_c.c.complaint_id == complaint.complaint_id)
        if (await self._conn.execute(query)).scalar() != complaint.version:
            raise ConcurrencyConflict(f"complaint {complaint.complaint_id} changed underneath")

    def _identity(self, complaint: Complaint) -> UUID:
        return complaint.complaint_id

    async def _insert(self, complaint: Complaint, now: datetime) -> None:
        await self._conn.execute(
            insert(_c).values(complaint_id=complaint.complaint_id, **_columns(complaint))
        )

    async def _update(self, complaint: Complaint, expected_version: int, now: datetime) -> bool:
        result = await self._conn.execute(
            update(_c)
            .where(_c.c.complaint_id == complaint.complaint_id, _c.c.version == expected_version)
            .values(**_columns(complaint))
        )
        return result.rowcount == 1


class ComplaintsUnitOfWork(UnitOfWork):
    complaints = repository(ComplaintRepository)

    async def order_facts(self, order_id: UUID, *, lock: bool = False) -> OrderFacts | None:
        """What is known of the order; ``lock`` holds its row until the transaction ends, so
        the projection cannot change it under a rule that depends on it."""
        return await read_order_facts(self.connection, order_id, lock=lock)

    # --- the order projection -------------------------------------------------------------

    async def _upsert(self, base: dict[str, Any], updates: dict[str, Any], newer: Any) -> None:
        row = {
            "status": "awaiting_deposit",
            "status_version": 0,
            "items": [],
            "items_version": 0,
            "paid_vnd": 0,
            "refunded_vnd": 0,
            "ledger_version": 0,
            "shipping_charged_vnd": 0,
            "shipping_deducted_vnd": 0,
            "ledger_refunds": {},
            "deducts_shipping": False,
            **base,
            **updates,
            "updated_at": self.now(),
        }
        statement = pg_insert(_t).values(**row)
        statement = statement.on_conflict_do_update(
            index_elements=["order_id"],
            set_={**{k: statement.excluded[k] for k in updates}, "updated_at": self.now()},
            where=newer,
        )
        await self.connection.execute(statement)

    async def record_status(
        self,
        order_id: UUID,
        customer_id: str,
        code: str,
        status: str,
        version: int,
        completed_at: datetime | None = None,
    ) -> None:
        """Keep the status of the newest order version seen (events may arrive out of order),
        and when the order was completed."""
        await self._upsert(
            {"order_id": order_id, "customer_id": customer_id, "order_code": code},
            {
                "order_code": code,
                "status": status,
                "status_version": version,
                "completed_at": completed_at,
            },
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

    async def record_ledger(self, order_id: UUID, customer_id: str, ledger: Ledger) -> None:
        """The newest ledger snapshot: what was paid, refunded (per complaint), what
        international shipping was charged and already deducted from refunds, and whether
        the ledger deducts it."""
        await self._upsert(
            {"order_id": order_id, "customer_id": customer_id, "order_code": ""},
            {
                "paid_vnd": ledger.paid,
                "refunded_vnd": ledger.refunded,
                "shipping_charged_vnd": ledger.shipping_charged,
                "shipping_deducted_vnd": ledger.shipping_deducted,
                "deducts_shipping": ledger.deducts_shipping,
                "ledger_refunds": ledger.refunds,
                "ledger_version": ledger.version,
            },
            _t.c.ledger_version < ledger.version,
        )

    async def order_state(self, order_id: UUID) -> Any:
        return (await self.connection.execute(select(_t).where(_t.c.order_id == order_id))).first()
