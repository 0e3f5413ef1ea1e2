"""Faults 4 and 5: the broker, then the database, unreachable for a few seconds."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import uuid4

import httpx
import pytest
from azl_testing import builders, flows
from azl_testing.bus import Bus
from azl_testing.processes import ServiceProcess
from azl_testing.proxy import Link, Proxy

from azl_contracts import orders as o
from azl_contracts.common import OrderStatus

from .faults import (
    FaultPlatform,
    client,
    dead_letter_count,
    dead_letters,
    metric,
    per_order,
    tally_commands,
    wait_until,
    why,
)
from .report import report

N = 500
S = OrderStatus


def _place_orders(n: int) -> list[tuple[o.PlaceOrderV1, str]]:
    customer = builders.customer()
    return [(builders.place_order(customer), str(uuid4())) for _ in range(n)]


async def _publish(
    bus: Bus, commands: list[tuple[o.PlaceOrderV1, str]], rate: float | None
) -> None:
    for command, message_id in commands:
        await bus.send(command, message_id=message_id)
        if rate:
            await asyncio.sleep(1 / rate)


async def test_broker_connection_cut_and_restored(platform: FaultPlatform, bus: Bus) -> None:
    """Commands in flight when the connection drops are redelivered after the services
    reconnect by themselves; what the services commit while the broker is away (here the
    scheduler completing delivered orders) waits in the outbox and is published after."""
    auto_complete_seconds = 4.0
    services = platform.start_all(
        env={
            "AZL_AUTO_COMPLETE_DAYS": str(auto_complete_seconds / 86400),
            "AZL_AUTO_COMPLETE_INTERVAL_SECONDS": "0.3",
        }
    )
    delivered = await asyncio.gather(*(flows.drive_to(bus, S.DELIVERED) for _ in range(20)))
    commands = _place_orders(N)
    ids = [message_id for _, message_id in commands]
    publishing = asyncio.create_task(_publish(bus, commands, rate=None))
    await bus.wait_for("orders.order.placed", count=50, timeout=30)

    connected = {name: _open_links(platform.amqp, process) for name, process in services.items()}
    cut_at = datetime.now(UTC)
    platform.amqp.cut()
    during_cut = await _watch_orders(services["orders"], seconds=auto_complete_seconds + 2)
    platform.amqp.restore()
    restored_at = datetime.now(UTC)
    reconnected = await wait_until(
        lambda: all(_links_since_restore(platform.amqp, p) for p in services.values()), 30
    )
    await publishing
    await wait_until(lambda: tally_commands(bus, ids, "orders.order.placed").lost == 0, 90)
    delivered_ids = {str(order.order_id) for order in delivered}
    await wait_until(
        lambda: all(
            n == 1 for n in per_order(bus, "orders.order.completed", delivered_ids).values()
        ),
        30,
    )

    tally = tally_commands(bus, ids, "orders.order.placed", dlq=await dead_letter_count(bus))
    completed = per_order(bus, "orders.order.completed", delivered_ids)
    committed_during_cut = sum(
        1
        for e in bus.seen("orders.order.completed")
        if cut_at <= datetime.fromisoformat(e.json["occurred_at"]) < restored_at
    )
    new_links = {name: len(_links_since_restore(platform.amqp, p)) for name, p in services.items()}
    report(
        "broker-cut-6s",
        tally,
        f"completed_while_cut={committed_during_cut}/20"
        f" connections_cut={sum(len(links) for links in connected.values())}"
        f" reconnected={sum(new_links.values())}",
    )
    # the fault really happened: every service had a broker connection open through the
    # proxy, the cut closed each of them, and each service opened new ones after the restore
    assert all(connected.values()), connected
    assert all(link.cut for links in connected.values() for link in links)
    assert reconnected, new_links
    assert tally.lost == tally.duplicated == tally.dlq == 0
    assert sorted(completed.values()) == [1] * 20
    assert committed_during_cut > 0, "nothing was committed while the broker was away"
    # what waited in the outbox showed as its backlog, and is gone now it is published
    assert during_cut.outbox_backlog > 0
    assert await _outbox_drained(services["orders"]), "the outbox backlog stayed above 0"
    assert during_cut.readiness == {"broker": "unreachable"}
    for process in services.values():
        assert process.process is not None
        assert process.process.poll() is None  # still running: reconnected by itself


@dataclass
class _Watched:
    """What a service's health endpoints and outbox gauge said during an outage."""

    readiness: dict[str, str] = field(default_factory=dict)  # failed checks, when not ready
    alive: bool = True
    outbox_backlog: float = 0.0


async def _watch_orders(process: ServiceProcess, seconds: float) -> _Watched:
    """Watch for ``seconds``: the first time /readyz answers 503, its failed checks; whether
    /healthz answered 200 each time; the highest outbox backlog."""
    watched = _Watched()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, failed = await asyncio.to_thread(_ready, process)
        if status == 503 and not watched.readiness:
            watched.readiness = failed
        watched.alive &= await asyncio.to_thread(_alive, process)
        backlog = await metric(process, "azl_outbox_backlog_messages")
        watched.outbox_backlog = max(watched.outbox_backlog, backlog)
        await asyncio.sleep(0.25)
    return watched


def _ready(process: ServiceProcess) -> tuple[int, dict[str, str]]:
    """/readyz's status and the checks that failed (``unreachable: OSError`` → ``unreachable``)."""
    response = httpx.get(f"{process.base_url}/readyz", timeout=10)
    checks = response.json()["checks"]
    failed = {name: value.split(":")[0] for name, value in checks.items() if value != "ok"}
    return response.status_code, failed


def _alive(process: ServiceProcess) -> bool:
    response = httpx.get(f"{process.base_url}/healthz", timeout=10)
    return response.status_code == 200 and response.json() == {"status": "ok"}


async def _outbox_drained(process: ServiceProcess, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while await metric(process, "azl_outbox_backlog_messages") > 0:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.25)
    return True


def _open_links(proxy: Proxy, process: ServiceProcess) -> list[Link]:
    return [link for link in proxy.links(client(process)) if link.is_open]


def _links_since_restore(proxy: Proxy, process: ServiceProcess) -> list[Link]:
    restored = proxy.restores[-1] if proxy.restores else float("inf")
    return [link for link in proxy.links(client(process)) if link.opened_at >= restored]


async def _transient_retries(process: ServiceProcess, queue: str) -> float:
    return await metric(process, "azl_message_retries_total", queue=queue, kind="transient")


async def test_database_unreachable_for_a_few_seconds(platform: FaultPlatform, bus: Bus) -> None:
    services = platform.start_all()
    orders, queue = services["orders"], bus.infra.name("orders.commands")
    commands = _place_orders(N)
    ids = [message_id for _, message_id in commands]
    publishing = asyncio.create_task(_publish(bus, commands, rate=150))
    await bus.wait_for("orders.order.placed", count=100, timeout=30)
    retries_before = await _transient_retries(orders, queue)
    connected = _open_links(platform.database, orders)
    platform.database.cut()
    handled_at_cut = len(bus.seen("orders.order.placed"))
    during_cut = await _watch_orders(orders, seconds=3)
    platform.database.restore()
    ready_again = await wait_until(lambda: _ready(orders) == (200, {}), 30)
    await publishing
    await wait_until(lambda: tally_commands(bus, ids, "orders.order.placed").lost == 0, 90)

    letters = await dead_letters(bus)
    tally = tally_commands(bus, ids, "orders.order.placed", dlq=len(letters))
    retries = await _transient_retries(orders, queue) - retries_before
    report(
        "database-cut-3s",
        tally,
        f"connections_cut={len(connected)} transient_retries={retries:.0f}"
        f" handled_at_cut={handled_at_cut}",
    )
    # the fault really happened: the cut closed the orders service's database connections
    # while commands were still coming, and its handlers failed on them and retried
    assert connected
    assert all(link.cut for link in connected)
    assert handled_at_cut < N
    assert retries > 0, "no handler attempt failed while the database was away"
    # while it was away the service was alive but not ready, saying why; then ready again
    # (and, once the outage tripped the pause switch, that its consumers were paused)
    assert during_cut.readiness.get("database") == "unreachable"
    assert set(during_cut.readiness) <= {"database", "consumers"}
    assert during_cut.alive
    assert ready_again
    assert tally.lost == tally.duplicated == 0
    assert tally.dlq == 0, why(letters)


async def test_outage_longer_than_the_retry_policy_dead_letters_then_replays(
    platform: FaultPlatform, bus: Bus
) -> None:
    """With the pause switch turned off, past the retry policy a message goes to the DLQ
    (not lost, not looping); once the database is back, the operator CLI replays it and it
    is processed once."""
    from azl_cli import dlq as cli

    short_policy = {
        "AZL_PAUSE_MAX_PER_MESSAGE": "0",  # the pause switch off: the policy alone decides
        "AZL_RETRY_MAX_ATTEMPTS": "3",
        "AZL_RETRY_BASE_DELAY": "0.1",
        "AZL_RETRY_MAX_DELAY": "0.3",
    }
    platform.start("orders", env=short_policy)
    commands = _place_orders(40)
    ids = [message_id for _, message_id in commands]
    platform.database.cut()
    await _publish(bus, commands, rate=None)
    letters: list[cli.DeadLetter] = []
    for _ in range(60):  # until the retries of every message have run out
        letters = await cli.list_dead_letters(
            bus.infra.url_as("admin"), bus.infra.namespace, "orders.commands"
        )
        if len(letters) >= len(commands):
            break
        await asyncio.sleep(0.25)
    platform.database.restore()
    replayed = await cli.replay(
        bus.infra.url_as("admin"), bus.infra.namespace, queue="orders.commands", message_id=None
    )
    await wait_until(lambda: tally_commands(bus, ids, "orders.order.placed").lost == 0, 60)
    tally = tally_commands(bus, ids, "orders.order.placed", dlq=len(letters))
    report("database-cut-beyond-retries", tally, f"replayed={len(replayed)}")
    assert {letter.code for letter in letters} == {"retries_exhausted"}
    assert all(letter.attempts == 3 for letter in letters)
    assert len(letters) == len(replayed) == 40
    assert tally.lost == tally.duplicated == 0


async def test_a_service_started_while_the_database_is_away_waits_for_it(
    platform: FaultPlatform, bus: Bus
) -> None:
    """Start-up retries a database that is still starting or out of connections."""
    platform.database.cut()
    orders = platform.start("orders", wait=False)
    waiting = await wait_until(
        lambda: any("database not reachable yet" in line for line in orders.log_lines()), 60
    )
    assert waiting, orders.log_tail()
    await asyncio.sleep(2)  # a few retries more
    assert orders.process is not None
    assert orders.process.poll() is None, orders.log_tail()
    platform.database.restore()
    await asyncio.to_thread(orders.wait_ready, 60)
    reply = await bus.request(builders.place_order(builders.customer()))
    assert reply["status"] == "accepted"


def test_the_proxy_refuses_a_url_it_would_not_be_in(platform: FaultPlatform) -> None:
    """A URL naming another server would bypass the proxy, and the fault would not happen."""
    with pytest.raises(ValueError, match="would not be in the way"):
        platform.amqp.url_for("amqp://guest:guest@rabbitmq.elsewhere:5672/")
