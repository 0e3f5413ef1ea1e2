"""What the complaints handlers use of the outside world: the complaints, the service's own
projection of each order, and the unit of work.

``storage`` implements them on PostgreSQL; the unit tests' fakes keep them in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from azl_kit.uow import UnitOfWorkPort

from .domain import Complaint, OrderFacts


@dataclass(frozen=True)
class Ledger:
    """What complaints keeps of an order's newest ``fees.ledger.updated``: what was paid
    and refunded (per complaint), the international shipping charged and already deducted
    from refunds, and whether the ledger deducts it."""

    paid: Decimal
    refunded: Decimal
    shipping_charged: Decimal
    shipping_deducted: Decimal
    deducts_shipping: bool
    refunds: dict[str, str]
    version: int


class Complaints(Protocol):
    async def get(self, complaint_id: UUID) -> Complaint | None: ...

    async def exists(self, complaint_id: UUID) -> bool: ...

    async def active_on_order(self, order_id: UUID) -> list[Complaint]: ...

    async def active_opened_after(self, order_id: UUID, moment: datetime) -> list[Complaint]: ...

    async def ensure_current(self, complaint: Complaint) -> None:
        """Raise ``ConcurrencyConflict`` if the complaint changed since it was loaded."""
        ...

    def add(self, complaint: Complaint) -> None: ...


class UnitOfWork(UnitOfWorkPort, Protocol):
    @property
    def complaints(self) -> Complaints: ...

    async def order_facts(self, order_id: UUID, *, lock: bool = False) -> OrderFacts | None:
        """What is known of the order; ``lock`` holds it until the transaction ends, so the
        projection cannot change it under a rule that depends on it."""
        ...

    async def record_status(
        self,
        order_id: UUID,
        customer_id: str,
        code: str,
        status: str,
        version: int,
        completed_at: datetime | None = None,
    ) -> None: ...

    async def record_items(
        self, order_id: UUID, customer_id: str, code: str, items: list[dict[str, Any]], version: int
    ) -> None: ...

    async def record_ledger(self, order_id: UUID, customer_id: str, ledger: Ledger) -> None:
        """Keep the newest ledger snapshot (by its version)."""
        ...
