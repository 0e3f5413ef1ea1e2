"""The bounded wait for a fact on another queue (``azl_kit.waiting``), on a fake clock."""

from __future__ import annotations

from uuid import uuid4

import pytest

from azl_kit.errors import NotFound, RetryLater
from azl_kit.waiting import Waits


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_message_waits_within_its_bound_then_gets_the_error() -> None:
    clock = Clock()
    waits = Waits(5.0, clock=clock)
    message = uuid4()
    with pytest.raises(RetryLater):
        waits.until(message, NotFound("order x does not exist"))
    clock.now += 4.9
    with pytest.raises(RetryLater):
        waits.until(message, NotFound("order x does not exist"))
    clock.now += 0.1
    with pytest.raises(NotFound):
        waits.until(message, NotFound("order x does not exist"))
    assert waits.waiting() == 0


def test_each_message_has_its_own_wait_and_done_forgets_it() -> None:
    clock = Clock()
    waits = Waits(5.0, clock=clock)
    first, second = uuid4(), uuid4()
    with pytest.raises(RetryLater):
        waits.until(first, NotFound("no"))
    clock.now += 4.0
    with pytest.raises(RetryLater):
        waits.until(second, NotFound("no"))
    waits.done(first)
    assert waits.waiting() == 1
    clock.now += 4.0  # second has waited 4 s of its 5
    with pytest.raises(RetryLater):
        waits.until(second, NotFound("no"))


def test_no_wait_or_no_message_id_raises_the_error_at_once() -> None:
    with pytest.raises(NotFound):
        Waits(0).until(uuid4(), NotFound("no"))
    with pytest.raises(NotFound):
        Waits(5.0).until(None, NotFound("no"))
    with pytest.raises(ValueError, match="negative"):
        Waits(-1)


def test_messages_never_finished_are_forgotten_well_past_the_bound() -> None:
    clock = Clock()
    waits = Waits(1.0, clock=clock)
    for _ in range(1100):
        with pytest.raises(RetryLater):
            waits.until(uuid4(), NotFound("no"))
    clock.now += 60.0
    with pytest.raises(RetryLater):
        waits.until(uuid4(), NotFound("no"))
    assert waits.waiting() == 1
