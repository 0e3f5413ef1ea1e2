"""The idempotent inbox: a message id is processed once per consumer.

The row is written in the handler's own transaction, last, together with the outcome of a
command (so a duplicate that asks for a reply gets the same reply again).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from . import outbox
from .db import driver
from .outbox import Stored
from .outgoing import OutgoingMessage
from .tables import inbox_table

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


async def record_and_store(
    conn: AsyncConnection,
    *,
    consumer: str,
    message_id: UUID,
    message_type: str,
    outcome: str | None,
    messages: Sequence[OutgoingMessage],
) -> list[Stored] | None:
    """Record the message as processed and store what it caused in the outbox, in the
    caller's transaction. None when it was processed before (nothing is stored then).

    ``outcome`` is the command's outcome as JSON, kept for a duplicate asking again."""
    row = await driver(conn).fetchrow(
        _RECORD_AND_STORE, consumer, message_id, message_type, outcome, *outbox.row_arrays(messages)
    )
    first_time, row_ids = cast(tuple[bool, list[int]], tuple(row))
    if not first_time:
        return None
    return outbox.stored_rows(row_ids, messages)


async def seen(conn: AsyncConnection, *, consumer: str, message_id: UUID) -> bool:
    return await stored(conn, consumer=consumer, message_id=message_id) is not None


async def stored(
    conn: AsyncConnection, *, consumer: str, message_id: UUID
) -> tuple[dict[str, Any] | None] | None:
    """The stored outcome (wrapped, since the outcome itself may be null), or None if unseen."""
    row = (await conn.execute(_STORED, {"consumer": consumer, "message_id": message_id})).first()
    return None if row is None else (row.outcome,)
