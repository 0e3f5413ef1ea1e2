"""The idempotent inbox: a message id is processed once per consumer.

The row is written in the handler's own transaction, last, together with the outcome of a
command (so a duplicate that asks for a reply gets the same reply again).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import inbox_table

# Built once: SQLAlchemy memoizes their cache keys and reuses the compiled SQL, which on the
# per-message path costs far less than building and compiling a statement every time.
_RECORD = (
    insert(inbox_table)
    .values(
        consumer=bindparam("consumer"),
        message_id=bindparam("message_id"),
        message_type=bindparam("message_type"),
        outcome=bindparam("outcome", type_=inbox_table.c.outcome.type),
    )
    .on_conflict_do_nothing(index_elements=["consumer", "message_id"])
    .returning(inbox_table.c.message_id)
)
_STORED = select(inbox_table.c.outcome).where(
    inbox_table.c.consumer == bindparam("consumer"),
    inbox_table.c.message_id == bindparam("message_id"),
)


async def record(
    conn: AsyncConnection,
    *,
    consumer: str,
    message_id: UUID,
    message_type: str,
    outcome: dict[str, Any] | None,
) -> bool:
    """True when this is the first time; False when the message was processed before."""
    parameters = {
        "consumer": consumer,
        "message_id": message_id,
        "message_type": message_type,
        "outcome": outcome,
    }
    return (await conn.execute(_RECORD, parameters)).first() is not None


async def seen(conn: AsyncConnection, *, consumer: str, message_id: UUID) -> bool:
    return await stored(conn, consumer=consumer, message_id=message_id) is not None


async def stored(
    conn: AsyncConnection, *, consumer: str, message_id: UUID
) -> tuple[dict[str, Any] | None] | None:
    """The stored outcome (wrapped, since the outcome itself may be null), or None if unseen."""
    row = (await conn.execute(_STORED, {"consumer": consumer, "message_id": message_id})).first()
    return None if row is None else (row.outcome,)
