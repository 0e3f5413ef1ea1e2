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

from .pausing import PauseSwitch, is_outage
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
    switch: PauseSwitch | None = None,
) -> T | Exhausted:
    """``attempt()``'s result, or ``Exhausted`` once the policy allows no further attempt.
    An error ``classify`` maps to None is raised at once.

    With a ``switch``, failures of the outage kind do not spend the policy's attempts once
    they trip it: the attempt waits for the service to resume and starts over (at most
    ``max_pauses_per_message`` times, so a message that is its own outage is not held
    forever); while the switch is stopping, ``pausing.Stopping`` is raised instead."""
    tries = 0
    outages = 0  # consecutive outage failures of this message
    held = 0  # pauses this message waited through
    started = time.monotonic()
    while True:
        if switch is not None:
            await switch.wait_running()
        tries += 1
        try:
            result = await attempt()
        except Exception as error:
            kind = classify(error)
            if kind is None:
                raise
            if switch is not None and is_outage(error):
                outages += 1
                if held < switch.settings.max_pauses_per_message and switch.failed(error, outages):
                    held += 1
                    on_retry(kind, tries, 0.0, error)
                    await switch.wait_running()
                    tries, outages, started = 0, 0, time.monotonic()
                    continue
            else:
                outages = 0
            if policy.exhausted(kind, tries, time.monotonic() - started):
                return Exhausted(error, tries)
            delay = policy.delay(kind, tries)
            on_retry(kind, tries, delay, error)
            await (asyncio.sleep(delay) if switch is None else switch.sleep(delay))
        else:
            if switch is not None:
                switch.succeeded()
            return result


@dataclass(frozen=True)
class Retrier:
    """``retrying`` with its policy, classification and reporting bound."""

    policy: RetryPolicy
    classify: Classify
    on_retry: OnRetry
    switch: PauseSwitch | None = None

    async def __call__(self, attempt: Callable[[], Awaitable[T]]) -> T | Exhausted:
        return await retrying(
            attempt,
            self.policy,
            classify=self.classify,
            on_retry=self.on_retry,
            switch=self.switch,
        )
