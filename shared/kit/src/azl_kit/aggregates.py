"""A versioned aggregate and its repository: optimistic concurrency, written once for every
service.

An aggregate (``Aggregate``) records the events it causes and moves its version on once per
unit of work, at its first change. Its repository (``VersionedRepository``) remembers what
a unit of work added and loaded, and at the unit of work's flush inserts the new ones and
updates the changed ones *at the version they were loaded at*: a row whose version moved
underneath (another transaction changed it meanwhile) is a ``ConcurrencyConflict``, and the
message is handled again on the new state. A service's repository says only how one
aggregate is inserted and updated.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from azl_contracts import Event

from .errors import ConcurrencyConflict
from .uow import DeferredWrite, UnitOfWork


@dataclass(kw_only=True)
class Aggregate:
    """The bookkeeping of a versioned aggregate: its version, whether this unit of work
    changed it, and the events it recorded since the last flush."""

    version: int = 0
    events: list[Event] = field(default_factory=list, repr=False, compare=False)
    _changed: bool = field(default=False, repr=False, compare=False)

    @property
    def changed(self) -> bool:
        return self._changed

    def _touch(self) -> None:
        """The first change in a unit of work moves the version on, once."""
        if not self._changed:
            self.version += 1
            self._changed = True


A = TypeVar("A", bound=Aggregate)


class VersionedRepository(ABC, Generic[A]):
    kind: ClassVar[str]
    """What the aggregate is called in a conflict's message (``order``, ``ledger``)."""

    def __init__(self, conn: AsyncConnection, uow: UnitOfWork) -> None:
        self._conn = conn
        self._uow = uow
        self._new: list[A] = []
        self._loaded: list[A] = []

    def add(self, aggregate: A) -> None:
        self._new.append(aggregate)
        self._uow.track(aggregate)

    def _track(self, aggregate: A) -> A:
        """A loaded aggregate: written back at the flush if it changed, its events collected."""
        self._loaded.append(aggregate)
        self._uow.track(aggregate)
        return aggregate

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        overrides = VersionedRepository.__dict__
        if cls._written is not overrides["_written"] and (
            cls._deferred_update is not overrides["_deferred_update"]
        ):
            # the row's lock, taken by the UPDATE, is what orders concurrent units of work
            # before they write the aggregate's other rows: that UPDATE cannot come last
            raise TypeError(f"{cls.__name__}: an aggregate with _written cannot defer its update")

    async def flush(self) -> None:
        """Write new and changed aggregates; a version moved underneath is a conflict.
        A unit of work that defers writes gets the updates a repository can defer."""
        now = self._uow.now()
        for aggregate in self._new:
            await self._insert(aggregate, now)
        for aggregate in self._loaded:
            if not aggregate.changed:
                continue
            expected_version = aggregate.version - 1
            if self._uow.defers_writes:
                deferred = self._deferred_update(aggregate, expected_version, now)
                if deferred is not None:
                    self._uow.defer(deferred)
                    continue
            if not await self._update(aggregate, expected_version, now):
                raise conflict(self.kind, self._identity(aggregate))
        for aggregate in self._new + self._loaded:
            await self._written(aggregate, now)
        self._new.clear()
        self._loaded.clear()

    @abstractmethod
    def _identity(self, aggregate: A) -> object: ...

    @abstractmethod
    async def _insert(self, aggregate: A, now: datetime) -> None: ...

    @abstractmethod
    async def _update(self, aggregate: A, expected_version: int, now: datetime) -> bool:
        """Write the aggregate over its row if the row is still at ``expected_version``;
        False if it is not (a conflict)."""

    def _deferred_update(
        self, aggregate: A, expected_version: int, now: datetime
    ) -> DeferredWrite | None:
        """The update of ``_update`` as a statement to send later, with the inbox row (see
        ``DeferredWrite``); None (the default) runs ``_update`` at the flush."""
        return None

    async def _written(self, aggregate: A, now: datetime) -> None:
        """After the rows: what else the aggregate writes (e.g. its new child rows)."""


def conflict(kind: str, identity: object) -> ConcurrencyConflict:
    return ConcurrencyConflict(f"{kind} {identity} changed underneath")
