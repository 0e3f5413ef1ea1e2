"""What every service's in-memory unit of work shares (``services/<name>/tests/unit/fakes.py``):
the kit's port (``azl_kit.uow.UnitOfWorkPort``: the flow, a clock, events published), the
kit's versioned repository in memory, and a message sent through a service's own handler
table, as the pipeline routes it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from copy import deepcopy
from datetime import datetime
from typing import ClassVar, Generic, TypeVar
from uuid import UUID, uuid4

from azl_contracts import Event, Message, MessageKind, Reply
from azl_kit.aggregates import Aggregate
from azl_kit.errors import ConcurrencyConflict
from azl_kit.flow import FlowContext
from azl_kit.handlers import Handlers

U = TypeVar("U")
A = TypeVar("A", bound=Aggregate)


class FakeUnitOfWorkBase:
    def __init__(self, now: datetime) -> None:
        self.clock = now
        self.published: list[Event] = []
        self.flow = FlowContext(correlation_id="test", causation_id=uuid4())

    def message(self) -> None:
        """The next message: a flow of its own (the pipeline names the message handled)."""
        self.flow = FlowContext(correlation_id="test", causation_id=uuid4())

    def now(self) -> datetime:
        return self.clock

    def publish(self, *events: Event) -> None:
        self.published.extend(events)

    def take_published(self) -> list[Event]:
        events = list(self.published)
        self.published.clear()
        return events


class FakeVersionedRepository(ABC, Generic[A]):
    """``azl_kit.aggregates.VersionedRepository`` in memory. Like the database, it hands out
    copies of what was committed (``_load``) and writes them back with the version check at
    ``commit``: an aggregate whose committed version moved since it was loaded is a
    ``ConcurrencyConflict``."""

    kind: ClassVar[str]
    """What the aggregate is called in a conflict's message (``order``, ``complaint``)."""

    def __init__(self) -> None:
        self.committed: dict[UUID, A] = {}
        self._new: list[A] = []
        self._loaded: list[A] = []

    @abstractmethod
    def _identity(self, aggregate: A) -> UUID: ...

    def _load(self, stored: A) -> A:
        copy = deepcopy(stored)
        self._loaded.append(copy)
        return copy

    def add(self, aggregate: A) -> None:
        self._new.append(aggregate)

    def commit(self) -> list[Event]:
        """Write new and changed aggregates; a version moved underneath is a conflict."""
        for aggregate in self._loaded:
            key = self._identity(aggregate)
            if aggregate.changed and self.committed[key].version != aggregate.version - 1:
                raise ConcurrencyConflict(f"{self.kind} {key} changed underneath")
        events: list[Event] = []
        for aggregate in self._new + self._loaded:
            if aggregate.changed:
                events.extend(aggregate.events)
                aggregate.events.clear()
                aggregate._changed = False
                self.committed[self._identity(aggregate)] = deepcopy(aggregate)
        self._new.clear()
        self._loaded.clear()
        return events


async def handle(handlers: Handlers[U], message: Message, uow: U) -> Reply | None:
    """The message through the service's own table (a query is answered without a unit of
    work); mypy holds the fake to the port the handlers are typed against."""
    route = handlers.route(message.message_type())
    assert route is not None, message.message_type()
    if route.kind is MessageKind.QUERY:
        return await route.handler(message)
    return await route.handler(message, uow)
