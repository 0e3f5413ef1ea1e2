"""The kit's units of work against a real PostgreSQL: SQLAlchemy Core and driver statements
commit together or not at all, and a unit of work cut short leaves no transaction behind in
the pool for the next one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from azl_testing.infra import Infra
from sqlalchemy import Column, Integer, MetaData, Table, Text, bindparam, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from azl_kit.db import DriverStatement, create_engine, driver_of, ensure_database, transaction

metadata = MetaData()
notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("body", Text))
_INSERT_NOTE = DriverStatement(insert(notes).values(id=bindparam("id"), body=bindparam("body")))


@pytest_asyncio.fixture
async def engine(fresh_infra: Infra) -> AsyncIterator[AsyncEngine]:
    url = fresh_infra.database_url("orders")  # a database the run's clean-up knows
    await ensure_database(url)
    engine = create_engine(url, pool_size=1, max_overflow=0)  # one connection: reuse is sure
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _bodies(fresh_infra: Infra) -> list[str]:
    """What another session sees: only committed rows."""
    dsn = fresh_infra.database_url("orders").replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(dsn)
    try:
        return [r["body"] for r in await conn.fetch("SELECT body FROM notes ORDER BY id")]
    finally:
        await conn.close()


async def test_sqlalchemy_and_driver_statements_commit_together(
    engine: AsyncEngine, fresh_infra: Infra
) -> None:
    async with transaction(engine) as conn:
        await conn.execute(insert(notes).values(id=1, body="through SQLAlchemy"))
        await _INSERT_NOTE.execute(conn, id=2, body="through the driver")
        assert await _bodies(fresh_infra) == []  # not yet committed
    assert await _bodies(fresh_infra) == ["through SQLAlchemy", "through the driver"]


async def test_an_error_rolls_back_both(engine: AsyncEngine, fresh_infra: Infra) -> None:
    async def failing_handler() -> None:
        async with transaction(engine) as conn:
            await conn.execute(insert(notes).values(id=1, body="through SQLAlchemy"))
            await _INSERT_NOTE.execute(conn, id=2, body="through the driver")
            raise RuntimeError("the handler failed")

    with pytest.raises(RuntimeError, match="the handler failed"):
        await failing_handler()
    assert await _bodies(fresh_infra) == []


async def test_a_unit_of_work_cancelled_mid_commit_leaves_no_transaction_behind(
    engine: AsyncEngine, fresh_infra: Infra
) -> None:
    """A handler cancelled while its COMMIT runs (a consumer stopped, a broker cut) leaves
    the connection inside a transaction: it must not go back into the pool like that, or
    the next unit of work on it would run inside the dead one."""
    async with engine.begin() as conn:  # a commit that takes a while: a deferred trigger
        await conn.execute(
            text(
                "CREATE FUNCTION slow() RETURNS trigger AS $$ "
                "BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$ LANGUAGE plpgsql"
            )
        )
        await conn.execute(
            text(
                "CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON notes "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                "WHEN (NEW.body = 'slow') EXECUTE FUNCTION slow()"
            )
        )

    async def committing_slowly() -> None:
        async with transaction(engine) as conn:
            await _INSERT_NOTE.execute(conn, id=1, body="slow")

    task = asyncio.create_task(committing_slowly())
    await asyncio.sleep(0.5)  # inside the COMMIT
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    # the pool's only connection serves the next units of work, outside any old transaction
    async with transaction(engine) as conn:
        await _INSERT_NOTE.execute(conn, id=2, body="next")
    async with engine.begin() as conn:  # and a SQLAlchemy-managed transaction, too
        await conn.execute(text("INSERT INTO notes VALUES (3, 'after')"))
    assert (await _bodies(fresh_infra))[-2:] == ["next", "after"]


async def test_a_unit_of_work_cancelled_while_it_begins_leaves_nothing_behind(
    engine: AsyncEngine, fresh_infra: Infra
) -> None:
    """A handler cancelled while its BEGIN is on the wire (aiormq cancels a consumer's
    handlings when its channel closes) left asyncpg holding that BEGIN as the connection's
    transaction, and the server ran it: the next unit of work on the connection became a
    savepoint inside it, "committed" without committing, and its events went out for rows
    that never existed (a cluster failover run: placed orders that then were not found).

    The cancellation lands at every few turns of the event loop after the unit of work
    starts, 48 times: before the fix most of them fell inside the BEGIN."""

    async def waiting_inside_a_transaction() -> None:
        async with transaction(engine):
            await asyncio.sleep(60)

    committed: list[str] = []
    for attempt in range(48):
        task = asyncio.create_task(waiting_inside_a_transaction())
        for _ in range(1 + attempt % 8):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        body = f"after cancellation {attempt}"
        async with transaction(engine) as conn:  # the pool's only connection
            await _INSERT_NOTE.execute(conn, id=attempt, body=body)
        committed.append(body)

    assert await _bodies(fresh_infra) == committed


_SELECT_NOTE = DriverStatement(select(notes.c.body).where(notes.c.id == bindparam("id")))


async def test_a_lazy_unit_of_work_begins_before_its_first_write(
    engine: AsyncEngine, fresh_infra: Infra
) -> None:
    """A plain read runs alone; a driver write, or any SQLAlchemy statement, begins the
    transaction first, so the unit of work stays all or nothing."""

    async def failing_after(write: str) -> None:
        async with transaction(engine, lazy=True) as conn:
            assert await _SELECT_NOTE.fetchrow(conn, id=1) is None
            assert not driver_of(conn).is_in_transaction()
            if write == "driver":
                await _INSERT_NOTE.execute(conn, id=1, body="through the driver")
            else:
                await conn.execute(insert(notes).values(id=1, body="through SQLAlchemy"))
            assert driver_of(conn).is_in_transaction()
            raise RuntimeError("the handler failed")

    for write in ("driver", "sqlalchemy"):
        with pytest.raises(RuntimeError, match="the handler failed"):
            await failing_after(write)
    assert await _bodies(fresh_infra) == []

    async with transaction(engine, lazy=True) as conn:
        await conn.execute(insert(notes).values(id=1, body="through SQLAlchemy"))
        await _INSERT_NOTE.execute(conn, id=2, body="through the driver")
    assert await _bodies(fresh_infra) == ["through SQLAlchemy", "through the driver"]


async def test_driver_statements_refuse_to_run_outside_a_unit_of_work(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        await conn.commit()
        with pytest.raises(RuntimeError, match="only inside"):
            await _INSERT_NOTE.execute(conn, id=1, body="autocommitted?")
