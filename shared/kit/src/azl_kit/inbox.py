"""The idempotent inbox: a message id is processed once per consumer.

The row is written in the handler's own transaction, last, together with the outcome of a
command (so a duplicate that asks for a reply gets the same reply again).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from . import outbox
from .aggregates import conflict
from .db import driver
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
# The statement with deferred updates, by their SQL: a handful per service, composed once.
_WITH_WRITES: dict[tuple[tuple[str, int], ...], str] = {}


def with_writes(writes: Sequence[tuple[str, int]]) -> str:
    """``_RECORD_AND_STORE`` with each update (its SQL and how many parameters it takes) as
    one more data-modifying CTE, its parameters numbered after the outbox's, and each one's
    count of rows changed as one more column. Any conflict, or a message seen before, rolls
    back the transaction, and with it all of the statement's writes."""
    ctes, counts, first = [], [], _FIRST_WRITE_PARAMETER
    for index, (sql, parameters) in enumerate(writes):
        renumbered = _renumbered(sql, offset=first - 1)
        ctes.append(f", write_{index} AS ({renumbered} RETURNING 1)")
        counts.append(f", (SELECT count(*) FROM write_{index})")
        first += parameters
    head, select_line = _RECORD_AND_STORE.rstrip().rsplit("\n", 1)
    return f"{head}{''.join(ctes)}\n{select_line}{''.join(counts)}\n"


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
    arguments = [consumer, message_id, message_type, outcome, *outbox.row_arrays(messages)]
    if writes:
        key = tuple((w.sql, len(w.arguments)) for w in writes)
        sql = _WITH_WRITES.get(key) or _WITH_WRITES.setdefault(key, with_writes(key))
        for write in writes:
            arguments += write.arguments
    else:
        sql = _RECORD_AND_STORE
    row = await driver(conn).fetchrow(sql, *arguments)
    first_time, row_ids = cast(tuple[bool, list[int]], (row[0], row[1]))
    if not first_time:
        return None
    for write, changed in zip(writes, tuple(row)[2:], strict=True):
        if changed != 1:
            raise conflict(write.kind, write.identity)
    return outbox.stored_rows(row_ids, messages)


async def seen(conn: AsyncConnection, *, consumer: str, message_id: UUID) -> bool:
    return await stored(conn, consumer=consumer, message_id=message_id) is not None


async def stored(
    conn: AsyncConnection, *, consumer: str, message_id: UUID
) -> tuple[dict[str, Any] | None] | None:
    """The stored outcome (wrapped, since the outcome itself may be null), or None if unseen."""
    row = (await conn.execute(_STORED, {"consumer": consumer, "message_id": message_id})).first()
    return None if row is None else (row.outcome,)
