"""The idempotent inbox: a message id is processed once per consumer.

The row is written in the handler's own transaction, last, together with the outcome of a
command (so a duplicate that asks for a reply gets the same reply again).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

import asyncpg
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from . import outbox
from .aggregates import conflict
from .db import alone
from .outbox import Stored
from .outgoing import OutgoingMessage
from .tables import inbox_table
from .uow import DeferredWrite

# Built once: SQLAlchemy memoizes its cache key and reuses the compiled SQL.
_STORED = select(inbox_table.c.outcome).where(
    inbox_table.c.consumer == bindparam("consumer"),
    inbox_table.c.message_id == bindparam("message_id"),
)


# The inbox row and the outbox rows in one statement, one round trip: the outbox rows are
# written only when the inbox row is new.
_RECORD_AND_STORE = f"""
WITH first_time AS (
    INSERT INTO messaging_inbox (consumer, message_id, message_type, outcome)
    VALUES ($1, $2, $3, $4::text::jsonb)
    ON CONFLICT (consumer, message_id) DO NOTHING
    RETURNING message_id
), stored AS (
    {outbox.insert_rows_sql(5, where="WHERE EXISTS (SELECT FROM first_time)")}
    RETURNING id
)
SELECT EXISTS (SELECT FROM first_time), ARRAY(SELECT id FROM stored)
"""
_FIRST_WRITE_PARAMETER = 5 + outbox.ARRAY_PARAMETERS
_PARAMETER = re.compile(r"\$(\d+)")
# The statement with deferred updates, by their SQL and whether it runs alone: a handful
# per service, composed once.
_COMPOSED: dict[tuple[tuple[tuple[str, int], ...], bool], str] = {}
# What a statement running alone raises to refuse (see ``composed``).
_REFUSED = "azl-refused"


def composed(writes: Sequence[tuple[str, int]], *, alone: bool = False) -> str:
    """``_RECORD_AND_STORE`` with each update (its SQL and how many parameters it takes) as
    one more data-modifying CTE, its parameters numbered after the outbox's, and each one's
    count of rows changed as one more column. In a transaction, a conflict or a message seen
    before rolls the transaction back, and with it all of the statement's writes.

    Run ``alone`` (no transaction begun), the statement must undo itself: a last column
    casts ``azl-refused:<inbox rows>:<rows of each update>`` to an integer when a count is
    not 1, and that error aborts the statement. Built from the counts, it is no constant the
    planner could fold and raise on every run."""
    ctes, counts, first = [], [], _FIRST_WRITE_PARAMETER
    for index, (sql, parameters) in enumerate(writes):
        renumbered = _renumbered(sql, offset=first - 1)
        ctes.append(f", write_{index} AS ({renumbered} RETURNING 1)")
        counts.append(f"(SELECT count(*) FROM write_{index})")
        first += parameters
    head, select_line = _RECORD_AND_STORE.rstrip().rsplit("\n", 1)
    columns = "".join(f", {count}" for count in counts)
    if alone:
        every = ["(SELECT count(*) FROM first_time)", *counts]
        all_one = " AND ".join(f"{count} = 1" for count in every)
        refusal = " || ':' || ".join([f"'{_REFUSED}'", *every])
        columns += f", CASE WHEN {all_one} THEN 0 ELSE ({refusal})::int END"
    return f"{head}{''.join(ctes)}\n{select_line}{columns}\n"


def _statement(writes: Sequence[DeferredWrite], alone: bool) -> str:
    if not writes and not alone:
        return _RECORD_AND_STORE
    key = (tuple((w.sql, len(w.arguments)) for w in writes), alone)
    sql = _COMPOSED.get(key)
    if sql is None:
        sql = _COMPOSED[key] = composed(key[0], alone=alone)
    return sql


def _refused_counts(error: asyncpg.PostgresError) -> list[int] | None:
    """The counts a statement running alone refused with, if that is what ``error`` is."""
    message = str(error)
    if not isinstance(error, asyncpg.InvalidTextRepresentationError) or _REFUSED not in message:
        return None
    refusal = message[message.index(_REFUSED) :].split('"', 1)[0]
    return [int(count) for count in refusal.split(":")[1:]]


def _renumbered(sql: str, *, offset: int) -> str:
    return _PARAMETER.sub(lambda m: f"${int(m.group(1)) + offset}", sql)


async def record_and_store(
    conn: AsyncConnection,
    *,
    consumer: str,
    message_id: UUID,
    message_type: str,
    outcome: str | None,
    messages: Sequence[OutgoingMessage],
    writes: Sequence[DeferredWrite] = (),
) -> list[Stored] | None:
    """Record the message as processed and store what it caused in the outbox, in the
    caller's transaction, with the unit of work's deferred ``writes``. None when it was
    processed before (nothing is stored then, and the caller rolls back); a deferred write
    whose row moved on raises its ``ConcurrencyConflict``.

    ``outcome`` is the command's outcome as JSON, kept for a duplicate asking again."""
    raw, by_itself = alone(conn)
    arguments = [consumer, message_id, message_type, outcome, *outbox.row_arrays(messages)]
    for write in writes:
        arguments += write.arguments
    try:
        row = await raw.fetchrow(_statement(writes, by_itself), *arguments)
    except asyncpg.InvalidTextRepresentationError as error:
        counts = _refused_counts(error)
        if counts is None:
            raise
        _checked(counts[0] == 1, counts[1:], writes)
        if counts[0] == 0:
            return None
        raise  # refused with every count 1: never
    first_time, row_ids = cast(tuple[bool, list[int]], (row[0], row[1]))
    _checked(first_time, tuple(row)[2 : 2 + len(writes)], writes)
    return None if not first_time else outbox.stored_rows(row_ids, messages)


def _checked(first_time: bool, changed: Sequence[int], writes: Sequence[DeferredWrite]) -> None:
    """A message seen before changes nothing (its writes are undone with it); otherwise a
    deferred write that changed no row is a conflict."""
    if first_time:
        for write, rows in zip(writes, changed, strict=True):
            if rows != 1:
                raise conflict(write.kind, write.identity)


async def seen(conn: AsyncConnection, *, consumer: str, message_id: UUID) -> bool:
    return await stored(conn, consumer=consumer, message_id=message_id) is not None


async def stored(
    conn: AsyncConnection, *, consumer: str, message_id: UUID
) -> tuple[dict[str, Any] | None] | None:
    """The stored outcome (wrapped, since the outcome itself may be null), or None if unseen."""
    row = (await conn.execute(_STORED, {"consumer": consumer, "message_id": message_id})).first()
    return None if row is None else (row.outcome,)
