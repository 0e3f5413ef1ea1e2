"""The idempotent inbox: a message id is processed once per consumer.

The row is written in the handler's own transaction, last, together with the outcome of a
command (so a duplicate that asks for a reply gets the same reply again).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from .outbox import Stored
from .outgoing import OutgoingMessage
from .tables import inbox_table

# Built once: SQLAlchemy memoizes its cache key and reuses the compiled SQL.
_STORED = select(inbox_table.c.outcome).where(
    inbox_table.c.consumer == bindparam("consumer"),
    inbox_table.c.message_id == bindparam("message_id"),
)


# The inbox row and the outbox rows in one statement, one round trip: the outbox rows are
# written only when the inbox row is new. Sent as the driver's own SQL (no compilation, no
# per-parameter processing): it runs for every message.
_RECORD_AND_STORE = """
WITH first_time AS (
    INSERT INTO messaging_inbox (consumer, message_id, message_type, outcome)
    VALUES ($1, $2, $3, $4::text::jsonb)
    ON CONFLICT (consumer, message_id) DO NOTHING
    RETURNING message_id
), stored AS (
    INSERT INTO messaging_outbox (message_id, exchange, routing_key, message_type,
                                  correlation_id, causation_id, headers, body)
    SELECT m.message_id, m.exchange, m.routing_key, m.message_type,
           m.correlation_id, m.causation_id, m.headers::jsonb, m.body
    FROM unnest($5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[], $10::uuid[],
                $11::text[], $12::bytea[])
         WITH ORDINALITY AS m(message_id, exchange, routing_key, message_type,
                              correlation_id, causation_id, headers, body, position)
    WHERE EXISTS (SELECT FROM first_time)
    ORDER BY m.position
    RETURNING id
)
SELECT EXISTS (SELECT FROM first_time), ARRAY(SELECT id FROM stored ORDER BY id)
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
    result = await conn.exec_driver_sql(
        _RECORD_AND_STORE,
        (
            consumer,
            message_id,
            message_type,
            outcome,
            [m.message_id for m in messages],
            [m.exchange for m in messages],
            [m.routing_key for m in messages],
            [m.message_type for m in messages],
            [m.correlation_id for m in messages],
            [m.causation_id for m in messages],
            [json.dumps(m.headers) for m in messages],
            [m.body for m in messages],
        ),
    )
    first_time, row_ids = cast(tuple[bool, list[int]], tuple(result.one()))
    if not first_time:
        return None
    # identities are drawn in insertion order, which follows the messages' order
    return [Stored(row_id, m) for row_id, m in zip(row_ids, messages, strict=True)]


async def seen(conn: AsyncConnection, *, consumer: str, message_id: UUID) -> bool:
    return await stored(conn, consumer=consumer, message_id=message_id) is not None


async def stored(
    conn: AsyncConnection, *, consumer: str, message_id: UUID
) -> tuple[dict[str, Any] | None] | None:
    """The stored outcome (wrapped, since the outcome itself may be null), or None if unseen."""
    row = (await conn.execute(_STORED, {"consumer": consumer, "message_id": message_id})).first()
    return None if row is None else (row.outcome,)
