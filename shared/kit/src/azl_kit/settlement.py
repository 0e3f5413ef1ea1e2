"""Settling a delivery: dead-lettering what cannot be processed, then acking the delivery
once its outcome is durable, or returning it to the queue when even that failed."""

from __future__ import annotations

import json
from typing import Any

from azl_contracts.outcomes import PROCESSING_FAILED, CommandOutcome

from . import broker
from .broker import Delivery
from .dead_letters import DeadLetterCode, DeadLetters
from .decoding import Poison
from .envelope import Envelope
from .logging import get_logger
from .metrics import Metrics
from .retrying import Exhausted

log = get_logger(__name__)


class DeadLettering:
    """Dead letters of one queue, counted and logged."""

    def __init__(self, dead_letters: DeadLetters, metrics: Metrics, queue_name: str) -> None:
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._queue_name = queue_name

    async def send(
        self,
        envelope: Envelope,
        code: DeadLetterCode,
        reason: str,
        *,
        attempts: int = 1,
        error: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        if details:
            reason = f"{reason} {json.dumps(details, default=str)[:1500]}"
        await self._dead_letters.send(
            envelope, code=code, reason=reason, attempts=attempts, error=error
        )
        self._metrics.dead_lettered.labels(self._queue_name, code.value).inc()
        log.warning("message dead-lettered", code=code.value, reason=reason, attempts=attempts)

    async def poison(self, envelope: Envelope, poison: Poison) -> None:
        await self.send(envelope, poison.code, poison.reason, details=poison.details)

    async def exhausted(self, envelope: Envelope, exhausted: Exhausted) -> None:
        await self.send(
            envelope,
            DeadLetterCode.RETRIES_EXHAUSTED,
            f"retry policy exhausted after {exhausted.attempts} attempts",
            attempts=exhausted.attempts,
            error=repr(exhausted.error),
        )

    async def poison_unrejected(
        self, envelope: Envelope, poison: Poison, exhausted: Exhausted
    ) -> None:
        """A poison command whose rejection could not be recorded (the inbox unreadable)."""
        await self.send(
            envelope,
            poison.code,
            f"{poison.reason}; its rejection is not recorded yet (the inbox could not be "
            f"read after {exhausted.attempts} attempts): replay it to record it",
            attempts=exhausted.attempts,
            error=repr(exhausted.error),
            details=poison.details,
        )


def processing_failed(envelope: Envelope, exhausted: Exhausted) -> CommandOutcome:
    """The reply to a command whose retries ran out: ``failed``, not a business rejection
    (nothing changed; what went wrong stays in the dead letter). Replayed after a fix, the
    command is processed and its real outcome goes to the same ``reply_to``."""
    assert envelope.message_id is not None, "only a command with an id gets an outcome"
    return CommandOutcome(
        status="failed",
        command_id=envelope.message_id,
        command_type=envelope.message_type or "",
        reason_code=PROCESSING_FAILED,
        message="the command could not be processed, even after retrying; it was "
        "dead-lettered for an operator, and its outcome follows once it is replayed",
        details={"attempts": exhausted.attempts, "dead_letter_queue": envelope.queue + ".dlq"},
    )


async def ack(delivery: Delivery) -> None:
    try:
        await broker.ack(delivery)
    except Exception as error:
        # The connection dropped after the outcome was committed: the broker redelivers the
        # message and the inbox recognises it, so nothing is done twice.
        log.warning("ack failed; the message will be redelivered", error=repr(error))


async def return_to_queue(delivery: Delivery) -> None:
    """Back to the queue, counted: RabbitMQ 4.3 counts ``basic.reject`` toward a quorum
    queue's ``x-delivery-limit`` but no longer ``basic.nack``, so a nack could return a
    message that can never be settled forever; 3.x counts both."""
    try:
        await broker.reject(delivery, requeue=True)
    except Exception:
        log.warning("reject failed; the broker returns the message when the channel closes")
