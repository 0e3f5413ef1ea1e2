from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import exc as sa_exc

from azl_kit.errors import ConcurrencyConflict, RetryLater
from azl_kit.retry import Backoff, FailureKind, RetryPolicy
from azl_kit.retrying import Exhausted, retrying

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


def test_a_plain_backoff_doubles_from_its_base_up_to_its_maximum() -> None:
    backoff = Backoff(0.5, maximum=30.0)
    assert [backoff.delay(failures) for failures in range(8)] == [
        0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0
    ]  # fmt: skip


def test_a_jittered_backoff_stays_in_the_upper_half() -> None:
    backoff = Backoff(1.0, maximum=10.0, jitter=True)
    assert all(2.0 <= backoff.delay(2) <= 4.0 for _ in range(50))


def _attempts(*outcomes: BaseException | str) -> tuple[list[int], Callable[[], Awaitable[str]]]:
    calls: list[int] = []
    pending = list(outcomes)

    async def attempt() -> str:
        calls.append(len(calls) + 1)
        outcome = pending.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return calls, attempt


FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001, unexpected_max_attempts=2)


def test_retrying_tries_again_until_the_attempt_succeeds() -> None:
    calls, attempt = _attempts(ConnectionRefusedError(), TimeoutError(), "done")
    retried: list[tuple[FailureKind, int]] = []

    result = asyncio.run(
        retrying(
            attempt,
            FAST,
            classify=FAST.classify,
            on_retry=lambda kind, n, delay, error: retried.append((kind, n)),
        )
    )

    assert result == "done"
    assert calls == [1, 2, 3]
    assert retried == [(FailureKind.TRANSIENT, 1), (FailureKind.TRANSIENT, 2)]


def test_retrying_gives_up_as_the_policy_says_and_hands_back_the_last_error() -> None:
    bug = KeyError("bug")
    calls, attempt = _attempts(KeyError("first"), bug, "never")

    result = asyncio.run(retrying(attempt, FAST, classify=FAST.classify, on_retry=lambda *_: None))

    assert result == Exhausted(bug, attempts=FAST.unexpected_max_attempts)
    assert calls == [1, 2]


def test_retrying_raises_what_its_classification_says_cannot_clear_up() -> None:
    calls, attempt = _attempts(ValueError("refused"), "never")

    with pytest.raises(ValueError, match="refused"):
        asyncio.run(retrying(attempt, FAST, classify=lambda error: None, on_retry=lambda *_: None))
    assert calls == [1]
