"""Which failures are worth another attempt, how many, and how long to wait between them."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import exc as sa_exc

from .db import connection_lost
from .errors import ConcurrencyConflict, RetryLater

# SQLSTATE classes and codes that clear up by themselves: connection problems, server
# shutting down or overloaded, serialization failures and deadlocks.
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57P", "58")
_CONFLICT_SQLSTATES = {"40001", "40P01", "23505"}


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: the pause after ``failures`` consecutive failures is
    ``base × 2^failures``, capped at ``maximum``; with ``jitter``, a random point in the
    upper half of that (so instances that failed together do not retry together)."""

    base: float
    maximum: float
    jitter: bool = False

    def delay(self, failures: int) -> float:
        ceiling = min(self.maximum, self.base * 2**failures)
        return random.uniform(ceiling / 2, ceiling) if self.jitter else ceiling


class FailureKind(StrEnum):
    CONFLICT = "conflict"
    TRANSIENT = "transient"
    WAITING = "waiting"  # for a message that arrives on another queue (RetryLater)
    UNEXPECTED = "unexpected"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 0.2
    max_delay: float = 10.0
    conflict_max_attempts: int = 50
    unexpected_max_attempts: int = 3
    # An event that comes before the one it builds on (they travel on different queues)
    # usually waits milliseconds, but behind a backlog it may wait minutes: a time budget,
    # starting with short pauses.
    waiting_timeout: float = 300.0
    waiting_base_delay: float = 0.02

    def classify(self, error: BaseException) -> FailureKind:
        if isinstance(error, ConcurrencyConflict):
            return FailureKind.CONFLICT
        if isinstance(error, RetryLater):
            return FailureKind.WAITING
        sqlstate = _sqlstate(error)
        if sqlstate in _CONFLICT_SQLSTATES:
            return FailureKind.CONFLICT
        if sqlstate is not None and sqlstate.startswith(_TRANSIENT_SQLSTATE_PREFIXES):
            return FailureKind.TRANSIENT
        if isinstance(error, TimeoutError | OSError | asyncio.TimeoutError):
            return FailureKind.TRANSIENT
        if connection_lost(error):
            return FailureKind.TRANSIENT
        if isinstance(error, sa_exc.DBAPIError) and (
            error.connection_invalidated
            or isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError)
        ):
            return FailureKind.TRANSIENT
        if isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError):
            return FailureKind.TRANSIENT
        if _caused_by_connection_error(error):
            return FailureKind.TRANSIENT
        return FailureKind.UNEXPECTED

    def limit(self, kind: FailureKind) -> int:
        return {
            FailureKind.CONFLICT: self.conflict_max_attempts,
            FailureKind.TRANSIENT: self.max_attempts,
            FailureKind.WAITING: 1_000_000,  # bounded by waiting_timeout instead
            FailureKind.UNEXPECTED: self.unexpected_max_attempts,
        }[kind]

    def exhausted(self, kind: FailureKind, attempts: int, elapsed: float) -> bool:
        """No further attempt after ``attempts`` made over ``elapsed`` seconds."""
        if kind is FailureKind.WAITING:
            return elapsed >= self.waiting_timeout
        return attempts >= self.limit(kind)

    def delay(self, kind: FailureKind, attempt: int) -> float:
        """Exponential backoff with full jitter; conflicts retry almost at once."""
        if kind is FailureKind.CONFLICT:
            return random.uniform(0.001, min(0.05, 0.002 * attempt))
        base = self.waiting_base_delay if kind is FailureKind.WAITING else self.base_delay
        return Backoff(base, self.max_delay, jitter=True).delay(attempt - 1)


def _sqlstate(error: BaseException) -> str | None:
    current: BaseException | None = error
    while current is not None:
        for candidate in (current, getattr(current, "orig", None)):
            code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
            if isinstance(code, str):
                return code
        current = current.__cause__
    return None


def _caused_by_connection_error(error: BaseException) -> bool:
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, OSError | ConnectionError):
            return True
        current = current.__cause__ or current.__context__
    return False
