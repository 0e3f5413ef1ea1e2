"""The transactional outbox and its relay.

Handlers never publish: what they cause is stored in ``messaging_outbox`` in the same
transaction as the state change. The relay publishes stored rows persistently with publisher
confirms right after the commit (it is woken by the pipeline) and, on a timer, whatever a
crash or a broker outage left behind. Rows are deleted once the broker confirmed them; a
crash between confirm and delete publishes a row twice, which consumers' inboxes absorb.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .logging import get_logger
from .metrics import Metrics
from .outgoing import OutgoingMessage
from .publisher import Publisher
from .tables import outbox_table

log = get_logger(__name__)


async def store(conn: AsyncConnection, messages: Sequence[OutgoingMessage]) -> None:
    if not messages:
        return
    await conn.execute(
        insert(outbox_table),
        [
            {
                "message_id": m.message_id,
                "exchange": m.exchange,
                "routing_key": m.routing_key,
                "message_type": m.message_type,
                "correlation_id": m.correlation_id,
                "causation_id": m.causation_id,
                "headers": m.headers,
                "body": m.body,
            }
            for m in messages
        ],
    )


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        publisher: Publisher,
        metrics: Metrics,
        *,
        batch_size: int,
        poll_interval: float,
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._metrics = metrics
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        """Something was committed: publish it now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Publish what is left (best effort), then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        failures = 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval)
            self._wake.clear()
            try:
                await self.drain()
                failures = 0
            except Exception as error:
                failures += 1
                log.warning("outbox relay could not publish; will retry", error=repr(error))
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))
            if self._stopping:
                return

    async def drain(self) -> int:
        """Publish until the outbox is empty; returns how many messages were published."""
        total = 0
        while True:
            published = await self.publish_batch()
            total += published
            if published < self._batch_size:
                return total

    async def publish_batch(self) -> int:
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(outbox_table)
                    .order_by(outbox_table.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                self._metrics.outbox_backlog.set(0)
                return 0
            await asyncio.gather(*(self._publisher.publish(_from_row(row)) for row in rows))
            await conn.execute(
                delete(outbox_table).where(outbox_table.c.id.in_([r.id for r in rows]))
            )
            if len(rows) == self._batch_size:
                backlog = await conn.scalar(select(func.count()).select_from(outbox_table))
                self._metrics.outbox_backlog.set(max(0, (backlog or 0) - len(rows)))
            else:
                self._metrics.outbox_backlog.set(0)
        self._metrics.outbox_published.inc(len(rows))
        return len(rows)


def _from_row(row: object) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=row.message_id,  # type: ignore[attr-defined]
        exchange=row.exchange,  # type: ignore[attr-defined]
        routing_key=row.routing_key,  # type: ignore[attr-defined]
        message_type=row.message_type,  # type: ignore[attr-defined]
        correlation_id=row.correlation_id,  # type: ignore[attr-defined]
        causation_id=row.causation_id,  # type: ignore[attr-defined]
        headers=row.headers,  # type: ignore[attr-defined]
        body=row.body,  # type: ignore[attr-defined]
    )
