"""The pause switch: during an outage a service holds its messages instead of dead-lettering them.

A database that refuses connections (``too many clients``, connection refused, a dead
connection) or a broker that cannot take a publish fails every message alike; retrying each
one until its policy runs out only moves the whole backlog to the DLQs. Instead:

- ``is_outage`` classifies a failure by its exception kind, never by how often it happens:
  a bug or a poison message raises something else and keeps going to its DLQ promptly.
- A message whose attempts keep failing with an outage (``trip_after`` in a row) trips the
  switch: the service is *paused*. Every message in flight then waits for the switch
  instead of spending its retries, and as each consumer's prefetch window stays full of
  unacknowledged messages, the broker sends no more: the rest stays in the queues. Nothing
  is requeued, so no delivery counter moves (RabbitMQ 3.x counts every return, 4.x a
  ``basic.reject``), and a stop returns the held messages when the channel closes.
- While paused a probe runs at a growing interval (``probe_base`` doubling up to
  ``probe_max``): ``SELECT 1`` on the service's own pool and a broker ping. Probing with a
  message would spend that message's attempts and mix a message's own fault with the
  outage; the probe checks exactly what every message needs. When it succeeds the service
  resumes and every held message is tried again at once.
- A message that fails with an outage although the probe just succeeded may be the cause
  itself: after ``max_pauses_per_message`` such rounds it is handed back to its retry
  policy (and dead-lettered), so the switch never hides a bad message.

The state machine (``PauseSwitch``) is plain: it is driven by ``failed``/``succeeded``/
``probe_result`` and a clock, and tested without I/O; ``ProbeLoop`` runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

import asyncpg
from sqlalchemy import exc as sa_exc

from . import broker
from .db import connection_lost
from .logging import get_logger

log = get_logger(__name__)

# A probe: True when what the service needs is reachable again.
Probe = Callable[[], Awaitable[bool]]


class Stopping(Exception):
    """The service is stopping: a message held by the switch is left unsettled (the broker
    takes it back when the channel closes)."""


class State(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


def is_outage(error: BaseException) -> bool:
    """The database or broker is away for everyone, not this message's own fault."""
    current: BaseException | None = error
    seen = 0
    while current is not None and seen < 10:
        seen += 1
        if isinstance(current, asyncpg.TooManyConnectionsError | asyncpg.CannotConnectNowError):
            return True
        if connection_lost(current) or isinstance(current, ConnectionError | TimeoutError):
            # TimeoutError: a connect to a server that drops packets (asyncpg's connect
            # timeout); a statement timeout is a QueryCanceledError, not this
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa_exc.TimeoutError | sa_exc.DisconnectionError):
            return True  # the pool could not hand out a connection in time
        if isinstance(current, sa_exc.InterfaceError) and "closed" in str(current):
            return True
        if broker.unreachable(current) or "too many clients" in str(current):
            return True
        orig = getattr(current, "orig", None)  # SQLAlchemy's wrapper of a driver error
        following = orig if isinstance(orig, BaseException) and orig is not current else None
        current = following or current.__cause__ or current.__context__
    return False


@dataclass(frozen=True)
class PauseSettings:
    trip_after: int = 3
    probe_base: float = 1.0
    probe_max: float = 30.0
    max_pauses_per_message: int = 10


class PauseSwitch:
    """One per service: every consumer of the service holds its messages while paused."""

    def __init__(
        self, settings: PauseSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self.state = State.RUNNING
        self.reason = ""
        self.paused_at: float | None = None
        self.probes = 0  # failed probes in the current pause
        self.pauses = 0  # pauses since start
        self.generation = 0  # resumptions since start: a message's rounds are counted by it
        self._changed = asyncio.Event()
        self._listeners: list[Callable[[State], None]] = []

    def on_change(self, listener: Callable[[State], None]) -> None:
        self._listeners.append(listener)

    @property
    def paused(self) -> bool:
        return self.state is State.PAUSED

    @property
    def stopped(self) -> bool:
        return self.state is State.STOPPED

    def failed(self, error: BaseException, consecutive: int) -> bool:
        """A message's attempt failed with an outage, its ``consecutive``-th in a row; True
        when the service is (now) paused."""
        if self.state is State.RUNNING and consecutive >= self.settings.trip_after:
            self._pause(f"{type(error).__name__}: {str(error)[:200]}")
        return self.state is not State.RUNNING

    def next_probe_in(self) -> float:
        """Pause before the next probe: growing while probes keep failing."""
        return float(min(self.settings.probe_max, self.settings.probe_base * 2**self.probes))

    def probe_result(self, ok: bool) -> None:
        if self.state is not State.PAUSED:
            return
        if not ok:
            self.probes += 1
            return
        paused_for = self._clock() - (self.paused_at or self._clock())
        log.warning("consumers resumed", paused_seconds=round(paused_for, 1), probes=self.probes)
        self.reason = ""
        self.paused_at = None
        self.probes = 0
        self.generation += 1
        self._become(State.RUNNING)

    def succeeded(self) -> None:
        """A message's attempt succeeded: as good a proof as a probe."""
        if self.state is State.PAUSED:
            self.probe_result(True)

    def stop(self) -> None:
        if self.state is not State.STOPPED:
            self._become(State.STOPPED)

    async def wait_running(self) -> None:
        """Returns once the service runs; raises ``Stopping`` when it stops instead."""
        while self.state is State.PAUSED:
            await self._changed.wait()
        if self.state is State.STOPPED:
            raise Stopping()

    async def wait_paused(self) -> None:
        """Returns once the service is paused or stopped."""
        while self.state is State.RUNNING:
            await self._changed.wait()

    async def sleep(self, seconds: float) -> None:
        """A pause, cut short by ``Stopping`` when the service stops."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self.state is not State.STOPPED:
            left = deadline - loop.time()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=left)
        raise Stopping()

    def _pause(self, reason: str) -> None:
        self.reason = reason
        self.paused_at = self._clock()
        self.probes = 0
        self.pauses += 1
        log.warning("consumers paused by an outage; holding messages", reason=reason)
        self._become(State.PAUSED)

    def _become(self, state: State) -> None:
        self.state = state
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        for listener in self._listeners:
            listener(state)


class ProbeLoop:
    """Runs the switch's probes while it is paused, until the service stops."""

    def __init__(self, switch: PauseSwitch, probes: list[Probe], *, timeout: float = 5.0) -> None:
        self._switch = switch
        self._probes = probes
        self._timeout = timeout

    async def run(self) -> None:
        switch = self._switch
        with contextlib.suppress(Stopping):
            while not switch.stopped:
                await switch.wait_paused()
                if switch.paused:
                    await switch.sleep(switch.next_probe_in())
                    if switch.paused:
                        switch.probe_result(await self._probe())

    async def _probe(self) -> bool:
        for probe in self._probes:
            try:
                if not await asyncio.wait_for(probe(), timeout=self._timeout):
                    return False
            except Exception as error:
                log.info("outage probe failed", error=repr(error)[:300])
                return False
        return True
