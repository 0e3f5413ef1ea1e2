"""The delivery worker: sends due emails and webhooks, retries, gives up, and says so.

Each round (safe with several instances):

1. claim — in a short transaction, due deliveries are locked ``FOR UPDATE SKIP LOCKED``,
   their attempt counted and leased (``next_attempt_at = now + lease``), then committed;
2. send — outside any transaction, each with its own time limit;
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
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol
from uuid import UUID

import aiosmtplib
import httpx
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from azl_contracts import notifications as contract
from azl_contracts.notifications import Channel
from azl_kit import tracing
from azl_kit.flow import FlowContext
from azl_kit.logging import get_logger, log_context
from azl_kit.outbox import Stored
from azl_kit.service import ServiceRuntime
from azl_kit.uow import Clock, utc_now

from . import signing, targets
from .domain import (
    AttemptOutcome,
    DeliveryPolicy,
    DeliveryStatus,
    SendResult,
    failure_reason,
    http_result,
    smtp_result,
)
from .settings import NotificationsSettings
from .storage import (
    NotificationsUnitOfWork,
    deliveries_table,
    delivery_attempts_table,
    subscriptions_table,
)

log = get_logger(__name__)


@dataclass(frozen=True)
class Claimed:
    """A delivery this instance holds for one attempt."""

    delivery_id: UUID
    notification_id: UUID | None
    channel: Channel
    recipient: str
    target: str
    subscription_id: UUID | None
    order_id: UUID | None
    source_event_id: UUID
    source_event_type: str
    correlation_id: str
    causation_id: UUID
    payload: dict[str, Any]
    attempt: int
    secret: str | None
    trace_context: dict[str, str] | None = None

    @property
    def flow(self) -> FlowContext:
        """The flow of the message that caused the delivery: what its attempt logs and its
        failure publishes carry on."""
        return FlowContext(correlation_id=self.correlation_id, causation_id=self.causation_id)


class Sender(Protocol):
    async def send(self, delivery: Claimed) -> SendResult: ...


# --- email ------------------------------------------------------------------------------------


class SmtpSender:
    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings

    def message(self, delivery: Claimed) -> EmailMessage:
        payload = delivery.payload
        message = EmailMessage()
        message["From"] = self._settings.smtp_from
        message["To"] = payload["to"]
        message["Subject"] = payload["subject"]
        message["Date"] = format_datetime(datetime.now().astimezone())
        message["Message-ID"] = f"<{delivery.delivery_id}@notifications.azl>"
        message["Auto-Submitted"] = "auto-generated"
        message["X-AZL-Delivery-Id"] = str(delivery.delivery_id)
        message["X-AZL-Template"] = payload["template"]
        if delivery.order_id is not None:
            message["X-AZL-Order-Id"] = str(delivery.order_id)
        message.set_content(payload["text"])
        message.add_alternative(payload["html"], subtype="html")
        message["Content-Language"] = payload["language"]  # after set_content, which drops it
        return message

    async def send(self, delivery: Claimed) -> SendResult:
        settings = self._settings
        try:
            async with asyncio.timeout(settings.smtp_timeout):
                await aiosmtplib.send(
                    self.message(delivery),
                    hostname=settings.smtp_host,
                    port=settings.smtp_port,
                    username=settings.smtp_username,
                    password=(
                        None
                        if settings.smtp_password is None
                        else settings.smtp_password.get_secret_value()
                    ),
                    use_tls=settings.smtp_tls,
                    start_tls=settings.smtp_starttls,
                    timeout=settings.smtp_timeout,
                )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            worst = max(r.code for r in refused.recipients)
            return smtp_result(worst, "; ".join(r.message for r in refused.recipients))
        except aiosmtplib.SMTPResponseException as error:
            return smtp_result(error.code, error.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            return SendResult.transient(f"SMTP unreachable: {_describe(error)}")
        return SendResult.sent()


# --- webhooks ---------------------------------------------------------------------------------


class WebhookSender:
    def __init__(
        self, client: httpx.AsyncClient, timeout: float, *, allow_private_targets: bool = False
    ) -> None:
        self._client = client
        self._timeout = timeout
        self._allow_private_targets = allow_private_targets

    async def send(self, delivery: Claimed) -> SendResult:
        if delivery.secret is None:
            return SendResult.permanent("the subscription has no secret")
        if not self._allow_private_targets:
            # checked again at each delivery: DNS may have changed since the subscription
            refused = await targets.refusal(delivery.target)
            if refused is not None:
                return SendResult.permanent(refused)
        body = delivery.payload["body"].encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "azl-notifications/1",
            "X-AZL-Delivery-Id": str(delivery.delivery_id),
            "X-AZL-Event-Id": str(delivery.source_event_id),
            "X-AZL-Event-Type": delivery.source_event_type,
            "X-AZL-Attempt": str(delivery.attempt),
            signing.TIMESTAMP_HEADER: timestamp,
            signing.SIGNATURE_HEADER: signing.signature(delivery.secret, timestamp, body),
        }
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client.post(delivery.target, content=body, headers=headers)
        except (httpx.HTTPError, OSError, TimeoutError) as error:
            return SendResult.transient(f"unreachable: {_describe(error)}")
        return http_result(response.status_code)


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}"[:500] if text else type(error).__name__


# --- the rounds -------------------------------------------------------------------------------


class DeliveryWorker:
    def __init__(
        self,
        runtime: ServiceRuntime[NotificationsSettings, NotificationsUnitOfWork],
        settings: NotificationsSettings,
        senders: dict[Channel, Sender],
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
        settings = self._settings
        async with self._runtime.database().begin() as conn:
            now = self._clock()
            due = (
                await conn.execute(
                    select(deliveries_table, subscriptions_table.c.secret)
                    .outerjoin(
                        subscriptions_table,
                        subscriptions_table.c.subscription_id == deliveries_table.c.subscription_id,
                    )
                    .where(
                        deliveries_table.c.status.in_(
                            [DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value]
                        ),
                        deliveries_table.c.next_attempt_at <= now,
                    )
                    .order_by(deliveries_table.c.next_attempt_at)
                    .limit(settings.delivery_batch_size)
                    .with_for_update(of=deliveries_table, skip_locked=True)
                )
            ).all()
            if not due:
                return []
            interrupted = [r for r in due if r.status == DeliveryStatus.SENDING.value]
            if interrupted:
                await conn.execute(
                    insert(delivery_attempts_table)
                    .values(
                        [
                            {
                                "delivery_id": r.delivery_id,
                                "attempt": r.attempts,
                                "started_at": r.updated_at,
                                "finished_at": now,
                                "outcome": AttemptOutcome.INTERRUPTED.value,
                                "error": "no result before the lease ran out "
                                "(the instance stopped or died mid-send)",
                            }
                            for r in interrupted
                        ]
                    )
                    .on_conflict_do_nothing()
                )
            lease_until = now + timedelta(seconds=settings.delivery_lease)
            await conn.execute(
                update(deliveries_table)
                .where(deliveries_table.c.delivery_id.in_([r.delivery_id for r in due]))
                .values(
                    status=DeliveryStatus.SENDING.value,
                    attempts=deliveries_table.c.attempts + 1,
                    next_attempt_at=lease_until,
                    updated_at=now,
                )
            )
        return [
            Claimed(
                delivery_id=r.delivery_id,
                notification_id=r.notification_id,
                channel=Channel(r.channel),
                recipient=r.recipient,
                target=r.target,
                subscription_id=r.subscription_id,
                order_id=r.order_id,
                source_event_id=r.source_event_id,
                source_event_type=r.source_event_type,
                correlation_id=r.correlation_id,
                causation_id=r.causation_id,
                payload=r.payload,
                attempt=r.attempts + 1,
                secret=r.secret,
                trace_context=r.trace_context,
            )
            for r in due
        ]

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
            result = SendResult.transient(f"unexpected: {_describe(error)}")
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
            changed = await conn.execute(
                update(deliveries_table)
                .where(
                    deliveries_table.c.delivery_id == delivery.delivery_id,
                    deliveries_table.c.status == DeliveryStatus.SENDING.value,
                    deliveries_table.c.attempts == delivery.attempt,
                )
                .values(
                    status=decision.status.value,
                    next_attempt_at=decision.next_attempt_at,
                    # a success keeps the last failure for the record; the log has them all
                    last_error=deliveries_table.c.last_error if result.ok else last_error,
                    updated_at=now,
                    sent_at=now if result.ok else None,
                )
                .returning(deliveries_table.c.delivery_id)
            )
            stale = changed.first() is None
            await conn.execute(
                insert(delivery_attempts_table)
                .values(
                    delivery_id=delivery.delivery_id,
                    attempt=delivery.attempt,
                    started_at=started,
                    finished_at=now,
                    outcome=decision.outcome.value,
                    status_code=result.status_code,
                    error=result.error,
                )
                .on_conflict_do_nothing()
            )
            if not stale and decision.status is DeliveryStatus.FAILED:
                uow.publish(
                    contract.DeliveryFailed(
                        occurred_at=now,
                        notification_id=delivery.notification_id,
                        delivery_id=delivery.delivery_id,
                        channel=delivery.channel,
                        target=delivery.target,
                        attempts=delivery.attempt,
                        last_error=last_error or "",
                        recipient=delivery.recipient,
                        subscription_id=delivery.subscription_id,
                        order_id=delivery.order_id,
                        source_event_id=delivery.source_event_id,
                        source_event_type=delivery.source_event_type,
                    )
                )
                stored = await self._runtime.commit_events(conn, uow)
        if stale:
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


async def delivery_loop(
    runtime: ServiceRuntime[NotificationsSettings, NotificationsUnitOfWork],
) -> None:
    """The background job: rounds until the service stops."""
    settings = runtime.settings
    async with httpx.AsyncClient(
        timeout=settings.webhook_timeout, follow_redirects=False
    ) as client:
        worker = DeliveryWorker(
            runtime,
            settings,
            {
                Channel.EMAIL: SmtpSender(settings),
                Channel.WEBHOOK: WebhookSender(
                    client,
                    settings.webhook_timeout,
                    allow_private_targets=settings.webhook_allow_private_targets,
                ),
            },
        )
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
