"""The transactional outbox and its relay.

Handlers never publish: what they cause is stored in ``messaging_outbox`` in the same
transaction as the state change. Right after the commit, in the same task and before the
delivery is acked, the stored rows are published — persistently, with publisher confirms —
and deleted afterwards in batches on the relay's own small connection pool. Publishing in
the handling task keeps it in step with handling (a separate publishing task fell seconds
behind the handlers at saturation), and prefetch bounds both.

A sweeper is the safety net: at start-up it publishes whatever is in the outbox (what a
crashed predecessor left), then every poll interval the rows older than a grace period,
which exist only when a process died between commit and confirm or the broker was away.
A row published twice (a crash between confirm and delete, or a sweep racing a slow
publisher) carries the same message id both times, and consumers' inboxes take it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import broker, tracing
from .db import writing
from .logging import get_logger
from .metrics import Metrics
from .outgoing import OutgoingMessage, routed
from .publisher import Publisher
from .retry import Backoff
from .tables import outbox_table
from .uow import UnitOfWork

log = get_logger(__name__)

# Published rows are deleted in batches: a few deletes a second instead of one per message.
# A row still there when the sweeper looks is older than the grace period only if its
# publisher died, so the pace of deleting never causes a re-publish.
DELETE_EVERY_SECONDS = 0.25
# A publish that failed on a connection being restored (a broker node lost) is tried again
# for this long (at most half the sweeper's grace period) before its rows are left to the
# sweeper, which takes them only after that grace period: a failover then delays these
# events by the reconnect, not by the grace. A loaded cluster restored fees' publishing
# connection in 3.5 s once, when this was 3 s: 16 events then waited ~10 s for the sweeper.
REPUBLISH_FOR_SECONDS = 8.0
REPUBLISH_EVERY_SECONDS = 0.05


@dataclass(frozen=True)
class Stored:
    """An outbox row: its id (to delete it once published) and the message."""

    row_id: int
    message: OutgoingMessage


# Column, the element type of its array parameter, the cast into the column.
_COLUMNS = (
    ("message_id", "uuid", ""),
    ("exchange", "text", ""),
    ("routing_key", "text", ""),
    ("message_type", "text", ""),
    ("correlation_id", "text", ""),
    ("causation_id", "uuid", ""),
    ("headers", "text", "::jsonb"),
    ("body", "bytea", ""),
)


ARRAY_PARAMETERS = len(_COLUMNS)  # how many parameters ``insert_rows_sql`` takes


def insert_rows_sql(first_parameter: int, *, where: str = "") -> str:
    """The outbox INSERT for a batch given as one array per column, from parameter
    ``$first_parameter`` on (see ``row_arrays``): one statement, one round trip, rows in
    the batch's order. Sent as driver SQL: it runs for every message."""
    names = ", ".join(name for name, _, _ in _COLUMNS)
    arrays = ", ".join(
        f"${first_parameter + i}::{kind}[]" for i, (_, kind, _) in enumerate(_COLUMNS)
    )
    values = ", ".join(f"m.{name}{cast}" for name, _, cast in _COLUMNS)
    return (
        f"INSERT INTO messaging_outbox ({names}) "
        f"SELECT {values} FROM unnest({arrays}) WITH ORDINALITY AS m({names}, position) "
        f"{where} ORDER BY m.position"
    )


def row_arrays(messages: Sequence[OutgoingMessage]) -> tuple[list[Any], ...]:
    """The rows' headers keep the writer's trace context (when tracing is on): the relay's
    publish of a row, however late, is a span of the trace that wrote it."""
    writer = tracing.context_headers()
    return (
        [m.message_id for m in messages],
        [m.exchange for m in messages],
        [m.routing_key for m in messages],
        [m.message_type for m in messages],
        [m.correlation_id for m in messages],
        [m.causation_id for m in messages],
        [json.dumps(m.headers if writer is None else {**m.headers, **writer}) for m in messages],
        [m.body for m in messages],
    )


def stored_rows(row_ids: Sequence[int], messages: Sequence[OutgoingMessage]) -> list[Stored]:
    """Identities are drawn in insertion order, which follows the messages' order."""
    return [Stored(row_id, m) for row_id, m in zip(sorted(row_ids), messages, strict=True)]


_STORE = insert_rows_sql(1) + " RETURNING id"
_DELETE = "DELETE FROM messaging_outbox WHERE id = ANY($1::bigint[])"


async def collect(uow: UnitOfWork, *, namespace: str) -> list[OutgoingMessage]:
    """The outbox step of a unit of work: write what its repositories hold, then route the
    events it collected, each stamped with its flow. They are stored in the same
    transaction (``store``, or the pipeline's inbox statement)."""
    await uow.flush()
    return [routed(event, namespace=namespace, flow=uow.flow) for event in uow.collect_events()]


async def store(conn: AsyncConnection, messages: Sequence[OutgoingMessage]) -> list[Stored]:
    """Store messages in the outbox within ``conn``'s transaction."""
    if not messages:
        return []
    rows = await (await writing(conn)).fetch(_STORE, *row_arrays(messages))
    return stored_rows([row[0] for row in rows], messages)


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        publisher: Publisher,
        metrics: Metrics,
        *,
        batch_size: int,
        poll_interval: float,
        grace: float,
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._metrics = metrics
        self._batch_size = batch_size
        # every poll interval, slowing down to every 30 s while sweeps keep failing
        self._pace = Backoff(poll_interval, maximum=30.0)
        self._grace = timedelta(seconds=grace)
        self._republish_for = min(REPUBLISH_FOR_SECONDS, grace / 2)
        self._published: list[int] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._finishing: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def publish_committed(self, stored: list[Stored]) -> None:
        """These rows are committed: publish them now. On failure they stay in the outbox
        and the sweeper publishes them later; the caller's work is done either way.

        A handling cancelled meanwhile (aiormq cancels a consumer's tasks when its channel
        closes: the node it was connected to was lost) hands its committed rows to a task
        of their own, which publishes them on the publishing connection, instead of leaving
        them to the sweeper's grace period."""
        if not stored:
            return
        try:
            await self._publish_committed(stored)
        except asyncio.CancelledError:
            if not self._stopping:
                finishing = asyncio.create_task(self._publish_committed(stored))
                self._finishing.add(finishing)
                finishing.add_done_callback(self._finishing.discard)
            raise

    async def _publish_committed(self, stored: list[Stored]) -> None:
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self._republish_for
        while True:
            try:
                await self._publish(stored)
                break
            except Exception as error:
                if not broker.reconnecting(error) or loop.time() >= give_up_at:
                    log.warning("publishing committed messages failed", error=repr(error)[:300])
                    return
            await asyncio.sleep(REPUBLISH_EVERY_SECONDS)
        self._published.extend(s.row_id for s in stored)
        self._metrics.outbox_published.inc(len(stored))

    async def _publish(self, stored: list[Stored]) -> None:
        if len(stored) == 1:  # the common case: no task and no gather for one message
            await self._publisher.publish(stored[0].message)
        else:
            await asyncio.gather(*(self._publisher.publish(s.message) for s in stored))

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._delete_published_rows(), name="outbox-deleter"),
            asyncio.create_task(self._sweep_forever(), name="outbox-sweeper"),
        ]

    async def stop(self, timeout: float = 3.0) -> None:
        """The sweeper and deleter first (whatever their connection is doing), then one
        bounded attempt to delete what was published: rows left behind are published again
        by the next start and recognised by their consumers' inboxes."""
        self._stopping = True
        tasks = [*self._tasks, *self._finishing]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._delete_published(), timeout=timeout)

    async def _delete_published_rows(self) -> None:
        while True:
            await asyncio.sleep(DELETE_EVERY_SECONDS)
            try:
                await self._delete_published()
            except Exception as error:
                log.warning("deleting published outbox rows failed", error=repr(error)[:300])
                await asyncio.sleep(1.0)

    async def _delete_published(self) -> None:
        if not self._published:
            return
        ids, self._published = self._published, []
        try:
            async with self._engine.begin() as conn:
                await conn.exec_driver_sql(_DELETE, (ids,))
        except Exception:
            self._published.extend(ids)
            raise

    # --- the safety net -----------------------------------------------------------------

    async def _sweep_forever(self) -> None:
        failures = 0
        grace = timedelta(0)  # at start-up: everything a crashed predecessor left
        while True:
            try:
                await self.sweep(grace)
                grace = self._grace
                failures = 0
            except Exception as error:
                failures += 1
                log.warning("outbox sweep could not publish; will retry", error=repr(error)[:300])
            await asyncio.sleep(self._pace.delay(failures))

    async def sweep(self, older_than: timedelta) -> int:
        """Publish every row older than ``older_than``; returns how many."""
        total = 0
        while True:
            published = await self._sweep_batch(older_than)
            total += published
            if published < self._batch_size:
                return total

    async def _sweep_batch(self, older_than: timedelta) -> int:
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(outbox_table)
                    .where(outbox_table.c.created_at <= func.now() - older_than)
                    .order_by(outbox_table.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            backlog = await conn.scalar(select(func.count()).select_from(outbox_table))
            self._metrics.outbox_backlog.set(backlog or 0)
            if not rows:
                return 0
            log.info("publishing outbox rows left behind", count=len(rows))
            await asyncio.gather(*(self._publisher.publish(_from_row(row)) for row in rows))
            await conn.execute(
                delete(outbox_table).where(outbox_table.c.id.in_([r.id for r in rows]))
            )
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
