"""In-memory stand-ins for the orders ports (``orders.ports``): the handlers' rules proven
without a broker or a database, as cosmicpython's ``FakeUnitOfWork`` does.

Like the database, the fake hands out copies of what was committed and writes them back
with the version check at ``commit``; the read models keep the newest ledger snapshot and
each complaint's view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from azl_testing.fakes import FakeUnitOfWorkBase, FakeVersionedRepository

from azl_contracts import Event
from azl_kit.errors import ConcurrencyConflict
from orders.domain import Order

from .conftest import NOW


class FakeOrders(FakeVersionedRepository[Order]):
    kind = "order"

    def _identity(self, aggregate: Order) -> UUID:
        return aggregate.order_id

    async def get(self, order_id: UUID) -> Order | None:
        stored = self.committed.get(order_id)
        return None if stored is None else self._load(stored)

    async def exists(self, order_id: UUID) -> bool:
        return order_id in self.committed


@dataclass(frozen=True)
class KeptLedger:
    ledger_version: int
    balance_due_vnd: Decimal
    snapshot: dict[str, Any]


class FakeUnitOfWork(FakeUnitOfWorkBase):
    def __init__(self, now: datetime = NOW) -> None:
        super().__init__(now)
        self.orders = FakeOrders()
        self.ledgers: dict[UUID, KeptLedger] = {}
        self.complaints: dict[UUID, tuple[str, dict[str, Any]]] = {}

    def commit(self) -> list[Event]:
        return [*self.take_published(), *self.orders.commit()]

    async def save_ledger(
        self,
        order_id: UUID,
        ledger_version: int,
        balance_due_vnd: Decimal,
        snapshot: dict[str, Any],
    ) -> bool:
        kept = self.ledgers.get(order_id)
        if kept is not None and kept.ledger_version >= ledger_version:
            return False
        self.ledgers[order_id] = KeptLedger(ledger_version, balance_due_vnd, snapshot)
        return True

    async def complaint_view(self, complaint_id: UUID) -> dict[str, Any] | None:
        kept = self.complaints.get(complaint_id)
        return None if kept is None else kept[1]

    async def save_complaint(
        self, complaint_id: UUID, customer_id: str, view: dict[str, Any], *, new: bool
    ) -> None:
        if new and complaint_id in self.complaints:
            raise ConcurrencyConflict(f"complaint {complaint_id} was inserted meanwhile")
        self.complaints[complaint_id] = (customer_id, view)
