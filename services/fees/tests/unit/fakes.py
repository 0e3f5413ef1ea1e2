"""In-memory stand-ins for the fees ports (``fees.ports``): the handlers' rules proven
without a broker or a database, as cosmicpython's ``FakeUnitOfWork`` does."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from azl_testing.fakes import FakeUnitOfWorkBase

from azl_contracts import Event
from fees.domain import Ledger

from .conftest import NOW


class FakeLedgers:
    def __init__(self) -> None:
        self.stored: dict[UUID, Ledger] = {}
        self.seen: list[Ledger] = []

    async def get(self, order_id: UUID) -> Ledger | None:
        ledger = self.stored.get(order_id)
        if ledger is not None:
            self.seen.append(ledger)
        return ledger

    def add(self, ledger: Ledger) -> None:
        self.stored[ledger.order_id] = ledger
        self.seen.append(ledger)


class FakeUnitOfWork(FakeUnitOfWorkBase):
    def __init__(self, now: datetime = NOW) -> None:
        super().__init__(now)
        self.ledgers = FakeLedgers()

    def commit(self) -> list[Event]:
        """What the storage's flush does at the end of a message: each changed ledger is
        closed (its ``fees.ledger.updated``), and the events are handed over once."""
        events = self.take_published()
        for ledger in {id(ledger): ledger for ledger in self.ledgers.seen}.values():
            ledger.close(self.clock)
            events.extend(ledger.events)
            ledger.events.clear()
        self.ledgers.seen.clear()
        return events
