"""The versioned aggregate and its repository, without a database: the version moves once
per unit of work, new aggregates are inserted, changed ones updated at the version they were
loaded at, and a row that moved underneath is a conflict."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from azl_contracts import Event
from azl_kit.aggregates import Aggregate, VersionedRepository
from azl_kit.errors import ConcurrencyConflict
from azl_kit.flow import FlowContext
from azl_kit.uow import UnitOfWork, repository

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@dataclass
class Counter(Aggregate):
    name: str
    count: int = 0

    def add(self) -> None:
        self._touch()
        self.count += 1


class Counters(VersionedRepository[Counter]):
    """Rows in a dict: name → (version, count); ``moved`` names rows another transaction
    changed meanwhile."""

    kind = "counter"
    rows: dict[str, tuple[int, int]] = {}
    moved: set[str] = set()
    written: list[str] = []

    def load(self, name: str) -> Counter:
        version, count = self.rows[name]
        return self._track(Counter(name, count, version=version))

    def _identity(self, counter: Counter) -> str:
        return counter.name

    async def _insert(self, counter: Counter, now: datetime) -> None:
        self.rows[counter.name] = (counter.version, counter.count)

    async def _update(self, counter: Counter, expected_version: int, now: datetime) -> bool:
        if counter.name in self.moved or self.rows[counter.name][0] != expected_version:
            return False
        self.rows[counter.name] = (counter.version, counter.count)
        return True

    async def _written(self, counter: Counter, now: datetime) -> None:
        self.written.append(counter.name)


class CountersUnitOfWork(UnitOfWork):
    counters = repository(Counters)


def unit_of_work() -> CountersUnitOfWork:
    connection = cast(AsyncConnection, object())  # the fake repository never touches it
    return CountersUnitOfWork(connection, FlowContext.new(), clock=lambda: NOW)


@pytest.fixture(autouse=True)
def empty() -> None:
    Counters.rows, Counters.moved, Counters.written = {}, set(), []


def test_the_version_moves_once_per_unit_of_work() -> None:
    counter = Counter("a", version=3)
    counter.add()
    counter.add()
    assert (counter.version, counter.count, counter.changed) == (4, 2, True)


async def test_new_ones_are_inserted_and_changed_ones_updated_at_their_loaded_version() -> None:
    uow = unit_of_work()
    fresh = Counter("a")
    fresh.add()
    uow.counters.add(fresh)
    await uow.flush()
    assert Counters.rows == {"a": (1, 1)}
    again = unit_of_work()
    loaded = again.counters.load("a")
    loaded.add()
    Counters.rows["b"] = (7, 0)
    Counters.moved.add("b")  # an update of b would conflict: an unchanged one is not written
    untouched = again.counters.load("b")
    await again.flush()
    assert Counters.rows == {"a": (2, 2), "b": (7, 0)}
    assert Counters.written == ["a", "a", "b"]  # every one it holds, changed or not
    assert untouched.version == 7


async def test_a_row_that_moved_underneath_is_a_conflict() -> None:
    Counters.rows["a"] = (1, 1)
    uow = unit_of_work()
    uow.counters.load("a").add()
    Counters.moved.add("a")
    with pytest.raises(ConcurrencyConflict, match="counter a changed underneath"):
        await uow.flush()


def test_a_repository_is_made_once_per_unit_of_work_and_not_shared() -> None:
    first, second = unit_of_work(), unit_of_work()
    assert first.counters is first.counters
    assert first.counters is not second.counters
    assert isinstance(CountersUnitOfWork.counters, repository)


async def test_the_events_of_what_the_repository_holds_are_collected() -> None:
    uow = unit_of_work()
    counter = Counter("a")
    event = cast(Event, object())
    counter.events.append(event)
    uow.counters.add(counter)
    assert uow.collect_events() == [event]
    assert counter.events == []
