"""Fault 3: services killed with SIGKILL at random moments while commands flow.

One stream of at least N orders runs through the whole flow — place-order, then the deposit
as soon as the placement is published, which orders, fees and notifications each act on —
and it goes on until the last kill: the kills come at seeded random moments inside the
stream, on whichever of the three is up, and each kill must find work of its victim still
in flight.
``AZL_TEST_SIGKILL_SEED`` replays a run's moments and victims.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import uuid4

from azl_testing import builders
from azl_testing.bus import Bus, Received
from azl_testing.processes import ServiceProcess

from azl_contracts import Actor
from azl_contracts import orders as o

from .faults import FaultPlatform, dead_letters, per_order, tally_commands, wait_until, why
from .report import Tally, report

N = 500
RATE = 30.0  # orders offered per second: the stream lasts about 17 s
KILLS = 7
VICTIMS = ("orders", "fees", "notifications")
FLOW = ("orders.order.deposited", "fees.fee.charged", "notifications.notification.created")
STAGES = ("orders.order.placed", *FLOW)


@dataclass
class Stream:
    """Placements at a steady rate, and each order's deposit once its placement is out; it
    keeps count, as events arrive, of how far each order has come."""

    bus: Bus
    customer: Actor
    placements: list[tuple[o.PlaceOrderV1, str]] = field(default_factory=list)
    deposits_sent: int = 0
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    reached: dict[str, set[str]] = field(default_factory=lambda: {t: set() for t in STAGES})
    _placed: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)
    _all_deposited: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def order_ids(self) -> list[str]:
        return [str(command.order_id) for command, _ in self.placements]

    @property
    def command_ids(self) -> list[str]:
        return [message_id for _, message_id in self.placements]

    async def run(self, rate: float, at_least: int, until: asyncio.Event) -> None:
        """``at_least`` placements at ``rate``, then on at a fifth of it until ``until`` is
        set (restarts slowed down by a busy machine may push the last kill that far)."""
        self.bus.on_event = self._on_event
        depositing = asyncio.create_task(self._deposit_each_placed())
        next_at = self.started
        while len(self.placements) < at_least or not until.is_set():
            placement = builders.place_order(self.customer, items=[builders.item("150.00", 2)])
            message_id = str(uuid4())
            next_at += 1 / rate if len(self.placements) < at_least else 5 / rate
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            await self.bus.send(placement, message_id=message_id)
            self.placements.append((placement, message_id))
        self.ended = time.monotonic()
        if self.deposits_sent == len(self.placements):
            self._all_deposited.set()
        # a placement whose event never comes is a loss the tally reports, not a hang
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_deposited.wait(), timeout=60)
        depositing.cancel()

    def sending(self) -> bool:
        return self.ended is None

    def in_flight(self, victim: str) -> int:
        """What ``victim`` still owes now: messages sent to it minus their outcomes."""
        placed, deposited, charged, notified = (len(self.reached[t]) for t in STAGES)
        return {
            "orders": len(self.placements) - placed + self.deposits_sent - deposited,
            "fees": deposited - charged,
            "notifications": deposited - notified,
        }[victim]

    async def _on_event(self, event: Received) -> None:
        stage = (event.type or "").rsplit(".v", 1)[0]  # whichever version of it
        if stage in self.reached:
            self.reached[stage].add(event.json["order_id"])
        if stage == "orders.order.placed":
            self._placed.put_nowait(event)

    async def _deposit_each_placed(self) -> None:
        deposited: set[str] = set()
        while True:
            body = (await self._placed.get()).json
            if body["order_id"] in deposited:
                continue
            deposited.add(body["order_id"])
            deposit = builders.deposit(body["order_id"], Decimal(body["required_deposit_vnd"]))
            await self.bus.emit(deposit)
            self.deposits_sent += 1
            if self.deposits_sent == len(self.placements) and not self.sending():
                self._all_deposited.set()


@dataclass(frozen=True)
class Kill:
    victim: str
    at: float  # seconds into the stream
    in_flight: int
    while_sending: bool

    def __str__(self) -> str:
        return f"{self.victim}@{self.at:.1f}s(in_flight={self.in_flight})"


async def _kill_at_random_moments(
    platform: FaultPlatform, stream: Stream, rng: random.Random
) -> list[Kill]:
    """KILLS kills at seeded random moments inside the stream, each on a service that is up
    and has work in flight (a killed one is restarted at once, in the background, while the
    stream goes on). One keeping up with the stream, or waiting for a killed one upstream,
    may owe nothing at the chosen moment: then the kill comes at the first moment after it
    that finds a service up with something of its own in flight."""
    span = N / RATE
    moments = sorted(rng.uniform(2.0, span - 1.5) for _ in range(KILLS))
    restarting: dict[str, asyncio.Task[ServiceProcess]] = {}
    kills: list[Kill] = []
    for moment in moments:
        await asyncio.sleep(max(0.0, stream.started + moment - time.monotonic()))
        victim_name = rng.choice(await _up_and_busy(stream, restarting))
        victim = next(p for p in platform.processes if p.service == victim_name)
        in_flight = stream.in_flight(victim_name)
        at = time.monotonic() - stream.started
        victim.kill()
        kills.append(Kill(victim_name, at, in_flight, stream.sending()))
        pause = rng.uniform(0.05, 0.5)
        restarting[victim_name] = asyncio.create_task(_restart_after(platform, victim, pause))
    await asyncio.gather(*restarting.values())
    return kills


async def _up_and_busy(
    stream: Stream, restarting: dict[str, asyncio.Task[ServiceProcess]], timeout: float = 30.0
) -> list[str]:
    """The victims that are up and have work in flight, waiting for one if need be (those
    downstream of a killed orders service have nothing to do until it is back)."""
    deadline = time.monotonic() + timeout
    while True:
        for name, task in list(restarting.items()):
            if task.done():
                del restarting[name]
                task.result()
        up = [name for name in VICTIMS if name not in restarting]
        busy = [name for name in up if stream.in_flight(name)]
        if busy or (up and time.monotonic() > deadline):
            return busy or up
        await asyncio.sleep(0.005)


async def _restart_after(
    platform: FaultPlatform, process: ServiceProcess, pause: float
) -> ServiceProcess:
    await asyncio.sleep(pause)
    return await asyncio.to_thread(platform.restart, process)


async def test_sigkill_while_commands_flow_loses_and_duplicates_nothing(
    platform: FaultPlatform, bus: Bus
) -> None:
    seed = int(os.environ.get("AZL_TEST_SIGKILL_SEED") or random.SystemRandom().randrange(2**31))
    print(f"sigkill: seed={seed} (AZL_TEST_SIGKILL_SEED={seed} replays it)")
    rng = random.Random(seed)
    platform.start_all()
    stream = Stream(bus, builders.customer())
    kills_done = asyncio.Event()
    streaming = asyncio.create_task(stream.run(RATE, at_least=N, until=kills_done))
    kills = await _kill_at_random_moments(platform, stream, rng)
    kills_done.set()
    await streaming

    def every_order_has(event_type: str) -> bool:
        return all(n >= 1 for n in per_order(bus, event_type, stream.order_ids).values())

    # one budget for the whole tail, inside the test's timeout: a loss ends in the report
    deadline = time.monotonic() + 150
    await wait_until(
        lambda: tally_commands(bus, stream.command_ids, "orders.order.placed").lost == 0,
        deadline - time.monotonic(),
    )
    for event_type in FLOW:
        await wait_until(
            lambda t=event_type: every_order_has(t),  # type: ignore[misc]
            deadline - time.monotonic(),
        )
    await bus.settle(quiet=1.0, timeout=10)  # a duplicate would arrive now

    placed = tally_commands(bus, stream.command_ids, "orders.order.placed")
    counts = [per_order(bus, event_type, stream.order_ids) for event_type in FLOW]
    letters = await dead_letters(bus)
    dlq = len(letters)
    flow = Tally(
        sent=stream.deposits_sent,
        outcomes=sum(1 for n in counts[0].values() if n >= 1),
        lost=sum(1 for c in counts for n in c.values() if n == 0),
        duplicated=sum(1 for c in counts for n in c.values() if n > 1),
        dlq=dlq,
    )
    story = " ".join(str(kill) for kill in kills)
    report("sigkill-place-order", placed, f"seed={seed} kills={len(kills)}: {story}")
    report("sigkill-deposit-flow", flow, "(deposited + fee charged + customer notified per order)")
    # the fault really happened: every kill came while the stream was still being sent and
    # found its victim with work in flight
    assert len(kills) == KILLS, story
    assert all(kill.while_sending for kill in kills), story
    assert all(kill.in_flight > 0 for kill in kills), story
    sent = len(stream.placements)
    assert sent >= N
    assert placed.lost == placed.duplicated == 0
    assert placed.outcomes == sent
    assert flow.sent == sent
    assert flow.lost == flow.duplicated == 0
    assert dlq == 0, why(letters)
