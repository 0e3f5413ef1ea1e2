"""The pause switch's state machine and its use by the retry loop, without I/O."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from azl_kit.errors import DomainError
from azl_kit.pausing import PauseSettings, PauseSwitch, State, Stopping, is_outage
from azl_kit.retry import FailureKind, RetryPolicy
from azl_kit.retrying import Exhausted, retrying

FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.002, unexpected_max_attempts=3)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _switch(**settings: float) -> PauseSwitch:
    return PauseSwitch(PauseSettings(**settings), clock=_Clock())  # type: ignore[arg-type]


def _too_many() -> Exception:
    error: Exception = asyncpg.TooManyConnectionsError("sorry, too many clients already")
    return error


@pytest.mark.parametrize(
    "error",
    [
        _too_many(),
        ConnectionRefusedError(111, "Connect call failed"),
        asyncpg.InterfaceError("cannot call Transaction.__aexit__(): the connection is closed"),
        sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "refused")),
        sa_exc.TimeoutError("QueuePool limit of size 3 overflow 0 reached"),
        TimeoutError(),  # asyncpg's connect to a server that drops packets
    ],
)
def test_outages_are_told_by_their_kind(error: Exception) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bug"),
        KeyError("missing"),
        DomainError("invalid_state"),
        sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
    ],
)
def test_a_message_s_own_failure_is_no_outage(error: Exception) -> None:
    assert not is_outage(error)


def test_the_switch_trips_after_consecutive_outage_failures_only() -> None:
    switch = _switch(trip_after=3)
    assert not switch.failed(_too_many(), consecutive=1)
    assert not switch.failed(_too_many(), consecutive=2)
    assert not switch.paused
    assert switch.failed(_too_many(), consecutive=3)
    assert switch.paused
    assert switch.reason.startswith("TooManyConnectionsError: sorry, too many clients")
    # once paused, any outage failure of another message is held at once
    assert switch.failed(_too_many(), consecutive=1)
    assert switch.pauses == 1


def test_probes_slow_down_then_a_success_resumes() -> None:
    seen: list[State] = []
    switch = _switch(trip_after=1, probe_base=1.0, probe_max=5.0)
    switch.on_change(seen.append)
    switch.failed(_too_many(), consecutive=1)
    delays = []
    for _ in range(5):
        delays.append(switch.next_probe_in())
        switch.probe_result(False)
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert switch.paused
    switch.probe_result(True)
    assert switch.state is State.RUNNING
    assert (switch.reason, switch.probes, switch.generation) == ("", 0, 1)
    assert switch.next_probe_in() == 1.0  # the next outage starts from the first interval
    assert seen == [State.PAUSED, State.RUNNING]


def test_a_probe_result_while_running_changes_nothing() -> None:
    switch = _switch()
    switch.probe_result(False)
    switch.probe_result(True)
    assert (switch.state, switch.probes, switch.generation) == (State.RUNNING, 0, 0)


async def test_a_held_message_is_tried_again_on_resume_without_spending_attempts() -> None:
    switch = _switch(trip_after=2)
    calls = 0

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if switch.generation == 0:
            raise _too_many()
        return "applied"

    held = asyncio.create_task(
        retrying(attempt, FAST, classify=FAST.classify, on_retry=_ignore, switch=switch)
    )
    await asyncio.wait_for(switch.wait_paused(), timeout=5)
    for _ in range(20):  # paused: held, no further attempts
        await asyncio.sleep(0)
    assert calls == 2
    assert not held.done()
    switch.probe_result(True)
    assert await held == "applied"
    assert calls == 3


async def test_a_long_outage_never_exhausts_the_policy() -> None:
    """More failed rounds than max_attempts, each interrupted by a pause: still applied."""
    switch = _switch(trip_after=1, max_pauses_per_message=100)
    failures = 3 * FAST.max_attempts

    async def attempt() -> str:
        nonlocal failures
        if failures:
            failures -= 1
            raise ConnectionRefusedError(111, "refused")
        return "applied"

    async def probe_until_done(task: asyncio.Task[object]) -> None:
        while not task.done():
            switch.probe_result(True)
            await asyncio.sleep(0)

    task = asyncio.create_task(
        retrying(attempt, FAST, classify=FAST.classify, on_retry=_ignore, switch=switch)
    )
    await probe_until_done(task)
    assert task.result() == "applied"
    assert switch.pauses == 3 * FAST.max_attempts


async def test_a_bad_message_goes_its_way_and_leaves_the_switch_alone() -> None:
    switch = _switch(trip_after=1)

    async def attempt() -> None:
        raise ValueError("a bug")

    result = await retrying(attempt, FAST, classify=FAST.classify, on_retry=_ignore, switch=switch)
    assert isinstance(result, Exhausted)
    assert result.attempts == 3
    assert switch.state is State.RUNNING
    assert switch.pauses == 0


async def test_a_message_that_is_its_own_outage_is_not_held_forever() -> None:
    switch = _switch(trip_after=1, max_pauses_per_message=2)

    async def attempt() -> None:
        raise ConnectionRefusedError(111, "only this message's target refuses")

    task = asyncio.create_task(
        retrying(attempt, FAST, classify=FAST.classify, on_retry=_ignore, switch=switch)
    )
    while not task.done():
        switch.probe_result(True)  # the service's own probe succeeds every time
        await asyncio.sleep(0.001)
    result = task.result()
    assert isinstance(result, Exhausted)
    assert result.attempts == FAST.max_attempts
    assert switch.pauses == 2


async def test_stopping_lets_a_held_message_go_unsettled() -> None:
    switch = _switch(trip_after=1)

    async def attempt() -> None:
        raise _too_many()

    task = asyncio.create_task(
        retrying(attempt, FAST, classify=FAST.classify, on_retry=_ignore, switch=switch)
    )
    await asyncio.wait_for(switch.wait_paused(), timeout=5)
    switch.stop()
    with pytest.raises(Stopping):
        await task


async def test_stopping_cuts_a_retry_pause_short() -> None:
    switch = _switch()
    sleeping = asyncio.create_task(switch.sleep(60))
    await asyncio.sleep(0)
    switch.stop()
    with pytest.raises(Stopping):
        await asyncio.wait_for(sleeping, timeout=1)


def _ignore(kind: FailureKind, attempt: int, delay: float, error: BaseException) -> None:
    return None
