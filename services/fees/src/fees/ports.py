"""What the fees handlers use of the outside world: the ledgers and the unit of work.

``storage`` implements them on PostgreSQL; the unit tests' fakes keep them in memory.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from azl_kit.uow import UnitOfWorkPort

from .domain import Ledger


class Ledgers(Protocol):
    async def get(self, order_id: UUID) -> Ledger | None:
        """The order's ledger, or None while its placement has not reached fees."""
        ...

    def add(self, ledger: Ledger) -> None: ...


class UnitOfWork(UnitOfWorkPort, Protocol):
    @property
    def ledgers(self) -> Ledgers: ...
