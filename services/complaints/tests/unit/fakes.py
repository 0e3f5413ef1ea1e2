"""In-memory stand-ins for the complaints ports (``complaints.ports``): the handlers' rules
proven without a broker or a database, as cosmicpython's ``FakeUnitOfWork`` does.

Like the database, the fake hands out copies of what was committed, writes them back with
the version check at ``commit`` and counts the order locks a handler takes, so a rule that
depends on a lock or on a concurrent change can be pinned."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from azl_testing.fakes import FakeUnitOfWorkBase, FakeVersionedRepository

from azl_contracts import Event
from azl_contracts.common import OrderStatus
from azl_contracts.complaints import Resolution
from azl_kit.errors import ConcurrencyConflict
from complaints.domain import ApprovedRefund, Complaint, OrderFacts
from complaints.ports import Ledger

from .conftest import NOW


class FakeComplaints(FakeVersionedRepository[Complaint]):
    kind = "complaint"

    def _identity(self, aggregate: Complaint) -> UUID:
        return aggregate.complaint_id

    async def get(self, complaint_id: UUID) -> Complaint | None:
        stored = self.committed.get(complaint_id)
        return None if stored is None else self._load(stored)

    async def exists(self, complaint_id: UUID) -> bool:
        return complaint_id in self.committed

    async def active_on_order(self, order_id: UUID) -> list[Complaint]:
        return [
            self._load(c) for c in self.committed.values() if c.order_id == order_id and c.active
        ]

    async def active_opened_after(self, order_id: UUID, moment: datetime) -> list[Complaint]:
        return [
            self._load(c)
            for c in self.committed.values()
            if c.order_id == order_id and c.active and c.opened_at > moment
        ]

    async def ensure_current(self, complaint: Complaint) -> None:
        if self.committed[complaint.complaint_id].version != complaint.version:
            raise ConcurrencyConflict(f"complaint {complaint.complaint_id} changed underneath")


@dataclass
class OrderRow:
    """An ``order_states`` row: each part kept from the newest version of its source."""

    order_id: UUID
    customer_id: str
    code: str
    status: str = "awaiting_deposit"
    status_version: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)
    items_version: int = 0
    paid: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    shipping_charged: Decimal = Decimal(0)
    shipping_deducted: Decimal = Decimal(0)
    refunds: dict[str, str] = field(default_factory=dict)
    ledger_version: int = 0
    completed_at: datetime | None = None
    deducts_shipping: bool = False


class FakeUnitOfWork(FakeUnitOfWorkBase):
    def __init__(self, now: datetime = NOW) -> None:
        super().__init__(now)
        self.complaints = FakeComplaints()
        self.orders: dict[UUID, OrderRow] = {}
        self.locks: list[UUID] = []
        self.while_locking: Callable[[], None] | None = None
        """Runs as a lock is taken: what another transaction committed meanwhile."""

    def commit(self) -> list[Event]:
        events = [*self.take_published(), *self.complaints.commit()]
        self.locks.clear()
        return events

    async def order_facts(self, order_id: UUID, *, lock: bool = False) -> OrderFacts | None:
        if lock:
            self.locks.append(order_id)
            if self.while_locking is not None:
                self.while_locking()
        row = self.orders.get(order_id)
        if row is None:
            return None
        approved = [
            ApprovedRefund(
                c.complaint_id, c.resolved_amount_vnd, c.shipping_deducted_vnd or Decimal(0)
            )
            for c in self.complaints.committed.values()
            if c.order_id == order_id
            and c.resolution is Resolution.REFUND
            and c.resolved_amount_vnd is not None
        ]
        return OrderFacts(
            order_id=row.order_id,
            customer_id=row.customer_id,
            code=row.code,
            status=OrderStatus(row.status),
            item_ids=frozenset(UUID(i["item_id"]) for i in row.items),
            paid_vnd=row.paid,
            ledger_refunds={k: Decimal(v) for k, v in row.refunds.items()},
            shipping_charged_vnd=row.shipping_charged,
            shipping_deducted_vnd=row.shipping_deducted,
            approved_refunds=approved,
            completed_at=row.completed_at,
            deducts_shipping=row.deducts_shipping,
        )

    def _row(self, order_id: UUID, customer_id: str, code: str) -> OrderRow:
        return self.orders.setdefault(order_id, OrderRow(order_id, customer_id, code))

    async def record_status(
        self,
        order_id: UUID,
        customer_id: str,
        code: str,
        status: str,
        version: int,
        completed_at: datetime | None = None,
    ) -> None:
        row = self._row(order_id, customer_id, code)
        if row.status_version <= version:
            row.code, row.status, row.status_version = code, status, version
            row.completed_at = completed_at

    async def record_items(
        self, order_id: UUID, customer_id: str, code: str, items: list[dict[str, Any]], version: int
    ) -> None:
        row = self._row(order_id, customer_id, code)
        if row.items_version <= version:
            row.code, row.items, row.items_version = code, items, version

    async def record_ledger(self, order_id: UUID, customer_id: str, ledger: Ledger) -> None:
        row = self._row(order_id, customer_id, "")
        if row.ledger_version < ledger.version:
            row.paid, row.refunded, row.refunds = ledger.paid, ledger.refunded, ledger.refunds
            row.shipping_charged = ledger.shipping_charged
            row.shipping_deducted = ledger.shipping_deducted
            row.deducts_shipping, row.ledger_version = ledger.deducts_shipping, ledger.version
