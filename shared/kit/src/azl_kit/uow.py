"""The unit of work: one database transaction per message, and the events it caused.

Each service subclasses it to add its repositories, and states what its handlers use of it
as a port (``<service>/ports.py``, extending ``UnitOfWorkPort``), so that its handlers can be
proven against an in-memory fake. Aggregates record the events they cause
(``aggregate.events``); the unit of work collects them from every aggregate it has seen, so
the pipeline can store them in the outbox in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar, overload

from sqlalchemy.ext.asyncio import AsyncConnection

from azl_contracts import Event

from .flow import FlowContext

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class DeferredWrite:
    """An aggregate's UPDATE that must change exactly its one row, sent with the inbox and
    outbox rows as one statement at the end of the unit of work: one round trip fewer per
    message. ``kind`` and ``identity`` name the aggregate in the conflict raised when the
    row had moved on (its version changed underneath)."""

    sql: str
    arguments: list[Any]
    kind: str
    identity: object


def utc_now() -> datetime:
    return datetime.now(UTC)


class RecordsEvents(Protocol):
    events: list[Event]


class UnitOfWorkPort(Protocol):
    """What every handler may use of its unit of work, whatever the service: the flow of the
    message being handled, the clock, and events that no aggregate records."""

    @property
    def flow(self) -> FlowContext: ...

    def now(self) -> datetime: ...

    def publish(self, *events: Event) -> None: ...


class Flushes(Protocol):
    async def flush(self) -> None: ...


R = TypeVar("R", bound=Flushes)


class repository(Generic[R]):  # noqa: N801 - used like a field declaration
    """Declares a repository of a unit of work: ``orders = repository(OrderRepository)``.
    It is made on first use, from the unit of work's connection and the unit of work, and
    written when the unit of work flushes."""

    def __init__(self, factory: Callable[[AsyncConnection, UnitOfWork], R]) -> None:
        self._factory = factory
        self._name = ""

    def __set_name__(self, owner: type[UnitOfWork], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, uow: None, owner: Any) -> repository[R]: ...

    @overload
    def __get__(self, uow: UnitOfWork, owner: Any) -> R: ...

    def __get__(self, uow: UnitOfWork | None, owner: Any) -> R | repository[R]:
        if uow is None:
            return self
        made: R = self._factory(uow.connection, uow)
        uow.__dict__[self._name] = made  # from now on the attribute is the repository itself
        uow._repositories.append(made)
        return made


class UnitOfWork:
    def __init__(self, connection: AsyncConnection, flow: FlowContext, clock: Clock = utc_now):
        self.connection = connection
        self.flow = flow
        self._clock = clock
        self._published: list[Event] = []
        self._seen: list[RecordsEvents] = []
        self._repositories: list[Flushes] = []
        # Set by the pipeline, which sends ``take_deferred()`` with its inbox statement;
        # anyone else flushing gets every write executed at the flush.
        self.defers_writes = False
        self._deferred: list[DeferredWrite] = []

    def now(self) -> datetime:
        return self._clock()

    def track(self, aggregate: RecordsEvents) -> None:
        if not any(seen is aggregate for seen in self._seen):
            self._seen.append(aggregate)

    def publish(self, *events: Event) -> None:
        """For events not recorded by an aggregate (e.g. a projection's own facts)."""
        self._published.extend(events)

    async def flush(self) -> None:
        """Write what the repositories hold; called by the pipeline before committing."""
        for made in self._repositories:
            await made.flush()

    def defer(self, write: DeferredWrite) -> None:
        self._deferred.append(write)

    def take_deferred(self) -> list[DeferredWrite]:
        writes, self._deferred = self._deferred, []
        return writes

    def collect_events(self) -> list[Event]:
        events = list(self._published)
        self._published.clear()
        for aggregate in self._seen:
            events.extend(aggregate.events)
            aggregate.events.clear()
        return events
