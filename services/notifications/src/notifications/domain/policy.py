"""The delivery policy: which failures of an email or a webhook are worth another attempt,
when that attempt is due, and when to give up. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from azl_kit.flow import FlowContext

from .plan import Delivery


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class AttemptOutcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, kw_only=True)
class Claimed(Delivery):
    """A delivery this instance holds for one attempt: what to send, which attempt it is,
    the subscription's secret (a webhook), and the flow of the message that caused it."""

    payload: dict[str, Any]
    attempt: int
    secret: str | None
    correlation_id: str
    causation_id: UUID
    # the trace context of the handling that queued it (W3C headers); None when tracing is off
    trace_context: dict[str, str] | None = None

    @property
    def flow(self) -> FlowContext:
        """The flow of the message that caused the delivery: what its attempt logs and its
        failure publishes carry on."""
        return FlowContext(correlation_id=self.correlation_id, causation_id=self.causation_id)


@dataclass(frozen=True)
class SendResult:
    """What one attempt gave: sent, or an error that is worth retrying or not."""

    ok: bool
    retryable: bool = False
    error: str | None = None
    status_code: int | None = None

    @classmethod
    def sent(cls, status_code: int | None = None) -> SendResult:
        return cls(ok=True, status_code=status_code)

    @classmethod
    def transient(cls, error: str, status_code: int | None = None) -> SendResult:
        return cls(ok=False, retryable=True, error=error, status_code=status_code)

    @classmethod
    def permanent(cls, error: str, status_code: int | None = None) -> SendResult:
        return cls(ok=False, retryable=False, error=error, status_code=status_code)


def http_result(status_code: int) -> SendResult:
    """2xx delivered; 408, 429 and 5xx are worth another attempt; any other answer is final."""
    if 200 <= status_code < 300:
        return SendResult.sent(status_code)
    error = f"HTTP {status_code}"
    if status_code >= 500 or status_code in (408, 429):
        return SendResult.transient(error, status_code)
    return SendResult.permanent(error, status_code)


def smtp_result(code: int, message: str) -> SendResult:
    """RFC 5321: a 4yz reply is transient (try again later), a 5yz reply is permanent."""
    error = f"SMTP {code} {message}".strip()[:500]
    if 400 <= code < 500:
        return SendResult.transient(error, code)
    if code >= 500:
        return SendResult.permanent(error, code)
    return SendResult.transient(error, code)


@dataclass(frozen=True)
class Decision:
    status: DeliveryStatus
    outcome: AttemptOutcome
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int
    base_delay: float
    max_delay: float

    def delay(self, attempt: int, jitter: float) -> timedelta:
        """Exponential backoff after attempt ``attempt`` (1-based); ``jitter`` in [0, 1)
        spreads it over the upper half, so many failures do not retry in step."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return timedelta(seconds=ceiling * (0.5 + jitter / 2))

    def after(
        self, attempt: int, result: SendResult, now: datetime, jitter: Callable[[], float]
    ) -> Decision:
        if result.ok:
            return Decision(DeliveryStatus.SENT, AttemptOutcome.SENT, None)
        if result.retryable and attempt < self.max_attempts:
            return Decision(
                DeliveryStatus.PENDING, AttemptOutcome.RETRY, now + self.delay(attempt, jitter())
            )
        return Decision(DeliveryStatus.FAILED, AttemptOutcome.FAILED, None)


def failure_reason(result: SendResult, attempt: int, policy: DeliveryPolicy) -> str:
    error = result.error or "unknown error"
    if result.retryable and attempt >= policy.max_attempts:
        return f"gave up after {attempt} attempts: {error}"
    return error
