from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc

from azl_kit.errors import ConcurrencyConflict, RetryLater
from azl_kit.retry import FailureKind, RetryPolicy

POLICY = RetryPolicy(max_attempts=5, base_delay=0.1, max_delay=2.0, conflict_max_attempts=40)


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _dbapi(orig: Exception, cls: type[sa_exc.DBAPIError] = sa_exc.DBAPIError) -> sa_exc.DBAPIError:
    return cls("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConcurrencyConflict("v"), FailureKind.CONFLICT),
        (_dbapi(_PgError("40001")), FailureKind.CONFLICT),
        (_dbapi(_PgError("40P01")), FailureKind.CONFLICT),
        (_dbapi(_PgError("08006")), FailureKind.TRANSIENT),
        (_dbapi(_PgError("57P01")), FailureKind.TRANSIENT),
        (_dbapi(ConnectionRefusedError(), sa_exc.OperationalError), FailureKind.TRANSIENT),
        (ConnectionRefusedError(), FailureKind.TRANSIENT),
        (TimeoutError(), FailureKind.TRANSIENT),
        (RetryLater("not yet"), FailureKind.WAITING),
        (_dbapi(_PgError("22P02")), FailureKind.UNEXPECTED),
        (KeyError("bug"), FailureKind.UNEXPECTED),
    ],
)
def test_failures_are_classified(error: Exception, kind: FailureKind) -> None:
    assert POLICY.classify(error) is kind


def test_backoff_grows_and_is_capped() -> None:
    delays = [POLICY.delay(FailureKind.TRANSIENT, attempt) for attempt in range(1, 9)]
    assert delays[0] <= 0.1
    assert max(delays) <= 2.0
    assert delays[5] >= 1.0  # 0.1 × 2^5 = 3.2 → capped at 2.0, at least half of it


def test_limits_by_kind() -> None:
    assert POLICY.limit(FailureKind.TRANSIENT) == 5
    assert POLICY.limit(FailureKind.CONFLICT) == 40
    assert POLICY.limit(FailureKind.UNEXPECTED) == 3


def test_waiting_for_another_message_is_bounded_by_time_not_attempts() -> None:
    policy = RetryPolicy(max_attempts=5, waiting_timeout=60.0, waiting_base_delay=0.02)
    assert not policy.exhausted(FailureKind.WAITING, attempts=500, elapsed=59.9)
    assert policy.exhausted(FailureKind.WAITING, attempts=3, elapsed=60.0)
    assert policy.exhausted(FailureKind.TRANSIENT, attempts=5, elapsed=0.1)
    first = [policy.delay(FailureKind.WAITING, 1) for _ in range(20)]
    assert max(first) <= 0.02  # the usual race resolves in milliseconds: look again soon
    assert policy.delay(FailureKind.WAITING, 30) <= policy.max_delay
