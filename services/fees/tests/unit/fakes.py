"""In-memory stand-ins for the fees ports (``fees.ports``): the handlers' rules proven
without a broker or a database, as cosmicpython's ``FakeUnitOfWork`` does."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from azl_contracts import Event, Message, MessageKind, Reply
from azl_kit.flow import FlowContext
from azl_kit.handlers import Handlers
from fees import ports
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


class FakeUnitOfWork:
    def __init__(self, now: datetime = NOW) -> None:
        self.ledgers = FakeLedgers()
        self.flow = FlowContext(correlation_id="test", causation_id=uuid4())
        self.clock = now
        self.published: list[Event] = []

    def now(self) -> datetime:
        return self.clock

    def publish(self, *events: Event) -> None:
        self.published.extend(events)

    def commit(self) -> list[Event]:
        """What the storage's flush does at the end of a message: each changed ledger is
        closed (its ``fees.ledger.updated``), and the events are handed over once."""
        events = list(self.published)
        self.published.clear()
        for ledger in {id(ledger): ledger for ledger in self.ledgers.seen}.values():
            ledger.close(self.clock)
            events.extend(ledger.events)
            ledger.events.clear()
        self.ledgers.seen.clear()
        return events


async def handle(
    handlers: Handlers[ports.UnitOfWork], message: Message, uow: ports.UnitOfWork
) -> Reply | None:
    """The message through the service's own table, as the pipeline routes it (a query is
    answered without a unit of work)."""
    route = handlers.route(message.message_type())
    assert route is not None, message.message_type()
    if route.kind is MessageKind.QUERY:
        return await route.handler(message)
    return await route.handler(message, uow)
