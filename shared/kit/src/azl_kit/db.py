"""The service's database: create it if asked, connect, migrate it to head, and run units
of work in transactions the kit owns.

Migrations run under a PostgreSQL advisory lock, so several instances starting together
(``--scale orders=3``) apply them once.

A unit of work's transaction is begun and ended on the asyncpg connection itself, beneath a
SQLAlchemy connection in autocommit mode: every statement — SQLAlchemy Core through
``connection`` or plain SQL on ``driver`` — runs in that one transaction. The per-message
statements (inbox, outbox, an aggregate's row) go to the driver directly (``reading``,
``writing``): SQLAlchemy's async execution path costs several times what asyncpg itself
does per statement, and on the message path that was the largest share of a service's CPU.
"""

from __future__ import annotations

import asyncio
import weakref
import zlib
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Select, event, text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import await_only

from . import tracing
from .logging import get_logger

log = get_logger(__name__)


def create_engine(url: str, *, pool_size: int = 5, max_overflow: int = 5) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping (a round trip before every transaction): a connection that died is
        # invalidated when used, and the pipeline retries the message on a fresh one.
        pool_recycle=600,
        pool_timeout=10,
    )


async def ensure_database(url: str) -> None:
    """Create the service's database on its server when it does not exist yet."""
    target = make_url(url)
    name = target.database
    if not name:
        raise ValueError("the database URL names no database")
    admin = create_async_engine(
        target.set(database="postgres"), isolation_level="AUTOCOMMIT", pool_size=1
    )
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                try:
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
                    log.info("database created", database=name)
                except DBAPIError as error:  # another instance created it meanwhile
                    if "already exists" not in str(error):
                        raise
    finally:
        await admin.dispose()


async def migrate(engine: AsyncEngine, script_location: Path) -> None:
    lock_key = zlib.crc32(str(script_location.name).encode()) + 0x617A6C  # "azl"
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
        await conn.run_sync(_upgrade_to_head, script_location)


def _upgrade_to_head(connection: Connection, script_location: Path) -> None:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class transaction:  # noqa: N801 — used as ``async with transaction(engine)``, like a function
    """A connection whose every statement runs in one transaction, committed when the block
    ends and rolled back when it raises. Its asyncpg connection is ``writing(conn)``.

    ``lazy`` (the pipeline's units of work) sends the BEGIN only before the first statement
    that needs it: a plain SELECT of a driver statement runs before it, on its own, and a
    unit of work that then writes only with its inbox statement (an aggregate's update
    deferred into it, ``inbox.record_and_store``) is that one atomic statement, with no
    BEGIN and no COMMIT: two round trips fewer. Any SQLAlchemy statement, and any driver
    statement that writes or locks, begins the transaction first.

    A class rather than ``@asynccontextmanager``: every message runs one, and the
    generator-based form costs a generator and its frames per message on top."""

    __slots__ = ("_broken", "_conn", "_driver", "_engine", "_lazy", "_span", "_transaction")

    def __init__(self, engine: AsyncEngine, *, lazy: bool = False) -> None:
        self._engine = engine
        self._lazy = lazy
        self._transaction: Any = None
        self._broken = False

    async def __aenter__(self) -> AsyncConnection:
        self._conn = conn = await _autocommit(self._engine).connect().start()
        # read off the connection just checked out: no second hop into SQLAlchemy's greenlet
        # as ``get_raw_connection()`` takes
        self._driver = raw = driver_of(conn)
        self._span = tracing.transaction()
        self._span.__enter__()
        if self._lazy:
            _PENDING[id(raw)] = self
            return conn
        try:
            await self.begin()
        except BaseException as error:
            await self._release(error)
            raise
        return conn

    @property
    def begun(self) -> bool:
        return self._transaction is not None

    async def begin(self) -> None:
        transaction = self._driver.transaction()
        try:
            await transaction.__aenter__()
        except BaseException:
            # A BEGIN cut short (cancelled, failed) leaves asyncpg holding it as the
            # connection's open transaction, and the server may still run it after the
            # cancellation: the next unit of work on that connection would become a
            # savepoint inside it, "commit" without committing, and publish its events.
            self._broken = True
            raise
        self._transaction = transaction

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._transaction is not None:
            try:
                await self._transaction.__aexit__(kind, error, traceback)
            except BaseException as failed:
                await self._release(failed)
                raise
        await self._release(error)

    async def _release(self, error: BaseException | None) -> None:
        """Give the connection back; one that failed under the driver, was cut off by a
        cancellation, or still holds a transaction (cancelled mid-commit), must never serve
        another unit of work: SQLAlchemy resets nothing on an autocommit connection it
        takes back."""
        if error is None:
            self._span.__exit__(None, None, None)
        else:
            self._span.__exit__(type(error), error, error.__traceback__)
        raw, conn = self._driver, self._conn
        _PENDING.pop(id(raw), None)
        cut_off = error is not None and (connection_lost(error) or _cancellation(error))
        try:
            if self._broken or cut_off or raw.is_closed() or raw.is_in_transaction():
                await conn.invalidate()
        finally:
            await asyncio.shield(conn.close())  # as SQLAlchemy's own ``async with`` does


# The lazy units of work whose BEGIN is not sent yet, by their asyncpg connection's id.
_PENDING: dict[int, transaction] = {}


def _begin_before_sqlalchemy(
    conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
) -> None:
    """SQLAlchemy is about to run a statement (inside its greenlet): a lazy unit of work on
    this connection begins its transaction first."""
    pending = _PENDING.get(id(conn.connection.driver_connection))
    if pending is not None and not pending.begun:
        await_only(pending.begin())


_AUTOCOMMIT: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()


def _autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The engine's pool, with SQLAlchemy beginning no transaction of its own, and a lazy
    unit of work's transaction begun before any SQLAlchemy statement."""
    if engine not in _AUTOCOMMIT:
        if isinstance(engine, AsyncEngine):  # not a stand-in that never connects
            event.listen(engine.sync_engine, "before_cursor_execute", _begin_before_sqlalchemy)
        _AUTOCOMMIT[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return _AUTOCOMMIT[engine]


def driver_of(conn: AsyncConnection) -> Any:
    """The asyncpg connection beneath a started ``conn``."""
    assert conn.sync_connection is not None, "the connection is not started"
    return conn.sync_connection.connection.driver_connection


def reading(conn: AsyncConnection) -> Any:
    """The asyncpg connection beneath ``conn``, for a plain read: inside the transaction of
    ``transaction``, or before a lazy one begins."""
    raw: Any = driver_of(conn)
    if not raw.is_in_transaction() and id(raw) not in _PENDING:
        raise RuntimeError("driver statements run only inside azl_kit.db.transaction()")
    return raw


async def writing(conn: AsyncConnection) -> Any:
    """The asyncpg connection beneath ``conn``, inside the transaction of ``transaction``
    (a lazy one begins now)."""
    raw: Any = driver_of(conn)
    pending = _PENDING.get(id(raw))
    if pending is not None and not pending.begun:
        await pending.begin()
    elif not raw.is_in_transaction():
        raise RuntimeError("driver statements run only inside azl_kit.db.transaction()")
    return raw


def alone(conn: AsyncConnection) -> tuple[Any, bool]:
    """The asyncpg connection beneath ``conn`` for a unit of work's last statement, and
    whether that statement runs alone (a lazy unit of work that did not begin): it must then
    be atomic on its own, and refuse with an error rather than commit half of it."""
    raw: Any = driver_of(conn)
    pending = _PENDING.get(id(raw))
    if pending is not None and not pending.begun:
        return raw, True
    if not raw.is_in_transaction():
        raise RuntimeError("driver statements run only inside azl_kit.db.transaction()")
    return raw, False


def _cancellation(error: BaseException) -> bool:
    """A statement cut off on the client side: the server may still be running it."""
    return not isinstance(error, Exception) or isinstance(error, asyncio.TimeoutError)


def connection_lost(error: BaseException) -> bool:
    """asyncpg's own errors for a connection that is gone (the server or network went away)."""
    if isinstance(error, asyncpg.PostgresConnectionError | OSError):
        return True
    return isinstance(error, asyncpg.InterfaceError) and "closed" in str(error)


_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


class DriverStatement:
    """A SQLAlchemy Core statement compiled once into asyncpg's SQL (``$1``, ``$2`` …), run
    on the driver with its parameters by name. The driver encodes nothing SQLAlchemy would:
    a JSONB parameter is passed as JSON text."""

    def __init__(self, statement: ClauseElement) -> None:
        compiled = statement.compile(dialect=_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        self.sql = str(compiled)
        self._names = tuple(compiled.positiontup or ())
        # a plain SELECT needs no transaction begun (see ``transaction``'s ``lazy``)
        self.reads = isinstance(statement, Select) and statement._for_update_arg is None

    def arguments(self, parameters: Mapping[str, Any]) -> list[Any]:
        return [parameters[name] for name in self._names]

    async def fetchrow(self, conn: AsyncConnection, **parameters: Any) -> Any:
        raw = reading(conn) if self.reads else await writing(conn)
        return await raw.fetchrow(self.sql, *self.arguments(parameters))

    async def execute(self, conn: AsyncConnection, **parameters: Any) -> str:
        raw = reading(conn) if self.reads else await writing(conn)
        status: str = await raw.execute(self.sql, *self.arguments(parameters))
        return status
