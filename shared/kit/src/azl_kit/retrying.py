"""The one retry loop of the kit: try, classify the failure, wait per the policy, try again.

The pipeline runs every database step of a message through it, and start-up runs its
connection steps through it (``service.when_reachable``). Periodic loops (the outbox sweeper)
pace themselves with ``retry.Backoff`` instead: they never give up, they only slow down.

Why not tenacity: the policy is per failure kind (conflicts retry at once and often, a
missing predecessor is bounded by time, not attempts, a bug three times), which tenacity
would take as custom ``stop``/``wait`` callables reading the outcome of each attempt — the
same code as this loop, behind a dependency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from .retry import FailureKind, RetryPolicy

T = TypeVar("T")

# Which kind of failure an error is, or None when trying again cannot help (raise it).
Classify = Callable[[BaseException], FailureKind | None]
# Told of every failed attempt that is retried: kind, attempt number, pause, error.
OnRetry = Callable[[FailureKind, int, float, BaseException], None]


@dataclass(frozen=True)
class Exhausted:
    """The policy gave up: the last error, after how many attempts."""

    error: BaseException
    attempts: int


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    classify: Classify,
    on_retry: OnRetry,
) -> T | Exhausted:
    """``attempt()``'s result, or ``Exhausted`` once the policy allows no further attempt.
    An error ``classify`` maps to None is raised at once."""
    tries = 0
    started = time.monotonic()
    while True:
        tries += 1
        try:
            return await attempt()
        except Exception as error:
            kind = classify(error)
            if kind is None:
                raise
            if policy.exhausted(kind, tries, time.monotonic() - started):
                return Exhausted(error, tries)
            delay = policy.delay(kind, tries)
            on_retry(kind, tries, delay, error)
            await asyncio.sleep(delay)


@dataclass(frozen=True)
class Retrier:
    """``retrying`` with its policy, classification and reporting bound."""

    policy: RetryPolicy
    classify: Classify
    on_retry: OnRetry

    async def __call__(self, attempt: Callable[[], Awaitable[T]]) -> T | Exhausted:
        return await retrying(attempt, self.policy, classify=self.classify, on_retry=self.on_retry)
