"""The idempotent inbox: a message id is processed once per consumer.

The row is written in the handler's own transaction, last, together with the outcome of a
command (so a duplicate that asks for a reply gets the same reply again).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import inbox_table


async def record(
    conn: AsyncConnection,
    *,
    consumer: str,
    message_id: UUID,
    message_type: str,
    outcome: dict[str, Any] | None,
) -> bool:
    """True when this is the first time; False when the message was processed before."""
    statement = (
        insert(inbox_table)
        .values(
            consumer=consumer,
            message_id=message_id,
            message_type=message_type,
            outcome=outcome,
        )
        .on_conflict_do_nothing(index_elements=["consumer", "message_id"])
        .returning(inbox_table.c.message_id)
    )
    return (await conn.execute(statement)).first() is not None


async def seen(conn: AsyncConnection, *, consumer: str, message_id: UUID) -> bool:
    return await stored(conn, consumer=consumer, message_id=message_id) is not None


async def stored(
    conn: AsyncConnection, *, consumer: str, message_id: UUID
) -> tuple[dict[str, Any] | None] | None:
    """The stored outcome (wrapped, since the outcome itself may be null), or None if unseen."""
    row = (
        await conn.execute(
            select(inbox_table.c.outcome).where(
                inbox_table.c.consumer == consumer, inbox_table.c.message_id == message_id
            )
        )
    ).first()
    return None if row is None else (row.outcome,)
