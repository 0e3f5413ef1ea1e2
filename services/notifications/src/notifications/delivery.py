"""The delivery worker: sends due emails and webhooks, retries, gives up, and says so.

Each round (safe with several instances):

1. claim — in a short transaction, due deliveries are locked ``FOR UPDATE SKIP LOCKED``,
   their attempt counted and leased (``next_attempt_at = now + lease``), then committed;
2. send — outside any transaction, each with its own time limit (``senders``);
3. record — each result in a transaction of its own, guarded by the attempt number so a
   late result never overwrites a newer attempt: the attempt is logged, the delivery is
   sent, rescheduled with exponential backoff, or failed — and a failure publishes
   ``notifications.delivery.failed`` through the outbox in that same transaction.

An instance that dies mid-send leaves its claim behind; once the lease has passed the
delivery is claimed again (the lost attempt is logged as ``interrupted``). Emails carry a
``Message-ID`` and webhooks an ``X-AZL-Delivery-Id`` that stay the same across attempts,
so a receiver can recognise the rare repeat of an attempt whose answer was lost.

Every attempt is logged, and a failure published, in the flow of the message that caused
the delivery (its correlation id; that message as the cause), kept on the delivery row.
The rows are read and written by ``storage``; the senders are built in ``app.py``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from azl_contracts import notifications as contract
from azl_contracts.notifications import Channel
from azl_kit import tracing
from azl_kit.logging import get_logger, log_context
from azl_kit.outbox import Stored
from azl_kit.service import ServiceRuntime
from azl_kit.uow import Clock, utc_now

from . import storage
from .domain import Claimed, DeliveryPolicy, DeliveryStatus, SendResult, failure_reason
from .senders import Sender, describe
from .settings import NotificationsSettings
from .storage import NotificationsUnitOfWork

log = get_logger(__name__)

NotificationsRuntime = ServiceRuntime[NotificationsSettings, NotificationsUnitOfWork]


class DeliveryWorker:
    def __init__(
        self,
        runtime: NotificationsRuntime,
        settings: NotificationsSettings,
        senders: Mapping[Channel, Sender],
        *,
        jitter: Callable[[], float] = random.random,
        clock: Clock = utc_now,
    ) -> None:
        self._runtime = runtime
        self._settings = settings
        self._senders = senders
        self._jitter = jitter
        self._clock = clock
        # sends run side by side; their results are written a few at a time, so a batch
        # never takes more than a couple of the pool's connections
        self._writers = asyncio.Semaphore(2)
        self.policy = DeliveryPolicy(
            max_attempts=settings.delivery_max_attempts,
            base_delay=settings.delivery_base_delay,
            max_delay=settings.delivery_max_delay,
        )

    async def run_once(self) -> int:
        """Claim what is due, send it, record it; returns how many were claimed."""
        claimed = await self.claim()
        if claimed:
            await asyncio.gather(*(self.deliver(c) for c in claimed))
        return len(claimed)

    async def claim(self) -> list[Claimed]:
        async with self._runtime.database().begin() as conn:
            return await storage.claim_due(
                conn,
                now=self._clock(),
                batch_size=self._settings.delivery_batch_size,
                lease=timedelta(seconds=self._settings.delivery_lease),
            )

    async def deliver(self, delivery: Claimed) -> None:
        """One attempt, logged in the flow of the event that caused the delivery."""
        with (
            log_context(
                correlation_id=delivery.correlation_id,
                causation_id=str(delivery.causation_id),
                delivery_id=str(delivery.delivery_id),
            ),
            tracing.delivering(
                delivery.trace_context, channel=delivery.channel.value, attempt=delivery.attempt
            ),
        ):
            await self._attempt(delivery)

    async def _attempt(self, delivery: Claimed) -> None:
        started = self._clock()
        try:
            result = await self._senders[delivery.channel].send(delivery)
        except Exception as error:  # a bug in a sender must not stop the worker
            log.exception("delivery attempt crashed")
            result = SendResult.transient(f"unexpected: {describe(error)}")
        try:
            async with self._writers:
                await self.record(delivery, result, started)
        except Exception:
            log.exception("could not record a delivery attempt; the lease will bring it back")

    async def record(self, delivery: Claimed, result: SendResult, started: datetime) -> None:
        stored: list[Stored] = []
        async with self._runtime.transaction() as conn:
            uow = self._runtime.new_unit_of_work(conn, delivery.flow)
            now = self._clock()
            decision = self.policy.after(delivery.attempt, result, now, self._jitter)
            last_error = (
                None if result.ok else failure_reason(result, delivery.attempt, self.policy)
            )
            current = await storage.record_attempt(
                conn, delivery, result, decision, last_error, started=started, now=now
            )
            if current and decision.status is DeliveryStatus.FAILED:
                uow.publish(_failed(delivery, now, last_error or ""))
                stored = await self._runtime.commit_events(conn, uow)
        if not current:
            log.warning(
                "a delivery attempt finished after its claim was taken over or cancelled",
                attempt=delivery.attempt,
            )
        await self._runtime.publish_committed(stored)
        tracing.annotate(delivery_outcome=decision.outcome.value, status_code=result.status_code)
        log.info(
            "delivery attempt",
            channel=delivery.channel.value,
            target=delivery.target,
            attempt=delivery.attempt,
            outcome=decision.outcome.value,
            status_code=result.status_code,
            error=result.error,
            next_attempt_at=None
            if decision.next_attempt_at is None
            else decision.next_attempt_at.isoformat(),
        )


def _failed(delivery: Claimed, now: datetime, last_error: str) -> contract.DeliveryFailed:
    return contract.DeliveryFailed(
        occurred_at=now,
        notification_id=delivery.notification_id,
        delivery_id=delivery.delivery_id,
        channel=delivery.channel,
        target=delivery.target,
        attempts=delivery.attempt,
        last_error=last_error,
        recipient=delivery.recipient,
        subscription_id=delivery.subscription_id,
        order_id=delivery.order_id,
        source_event_id=delivery.source_event_id,
        source_event_type=delivery.source_event_type,
    )


async def delivery_loop(runtime: NotificationsRuntime, senders: Mapping[Channel, Sender]) -> None:
    """The background job: rounds until the service stops."""
    settings = runtime.settings
    worker = DeliveryWorker(runtime, settings, senders)
    failures = 0
    while True:
        try:
            claimed = await worker.run_once()
            failures = 0
        except Exception as error:
            failures += 1
            claimed = 0
            log.warning("delivery round failed; will retry", error=repr(error)[:500])
            await asyncio.sleep(min(0.2 * 2**failures, 5.0))
        if claimed < settings.delivery_batch_size:
            await asyncio.sleep(settings.delivery_poll_interval)
