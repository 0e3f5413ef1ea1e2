"""The unit of work: one database transaction per message, and the events it caused.

Each service subclasses it to add its repositories, and states what its handlers use of it
as a port (``<service>/ports.py``, extending ``UnitOfWorkPort``), so that its handlers can be
proven against an in-memory fake. Aggregates record the events they cause
(``aggregate.events``); the unit of work collects them from every aggregate it has seen, so
the pipeline can store them in the outbox in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from azl_contracts import Event

from .flow import FlowContext

Clock = Callable[[], datetime]


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


class UnitOfWork:
    def __init__(self, connection: AsyncConnection, flow: FlowContext, clock: Clock = utc_now):
        self.connection = connection
        self.flow = flow
        self._clock = clock
        self._published: list[Event] = []
        self._seen: list[RecordsEvents] = []

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

    def collect_events(self) -> list[Event]:
        events = list(self._published)
        self._published.clear()
        for aggregate in self._seen:
            events.extend(aggregate.events)
            aggregate.events.clear()
        return events
