"""What the orders handlers use of the outside world: the orders, the read models kept of
other services' facts, and the unit of work.

``storage`` implements them on PostgreSQL; the unit tests' fakes keep them in memory.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from azl_kit.uow import UnitOfWorkPort

from .domain import Order


class Orders(Protocol):
    async def get(self, order_id: UUID) -> Order | None: ...

    async def exists(self, order_id: UUID) -> bool: ...

    def add(self, order: Order) -> None: ...


class UnitOfWork(UnitOfWorkPort, Protocol):
    @property
    def orders(self) -> Orders: ...

    async def save_ledger(
        self,
        order_id: UUID,
        ledger_version: int,
        balance_due_vnd: Decimal,
        snapshot: dict[str, Any],
    ) -> bool:
        """Keep the newest ledger snapshot; False when a newer one is already kept."""
        ...

    async def complaint_view(self, complaint_id: UUID) -> dict[str, Any] | None:
        """A complaint's view, locked until the transaction ends (its events serialise)."""
        ...

    async def save_complaint(
        self, complaint_id: UUID, customer_id: str, view: dict[str, Any], *, new: bool
    ) -> None: ...
