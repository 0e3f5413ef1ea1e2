"""The compose file's ``cluster`` profile: three RabbitMQ nodes behind HAProxy, the services
reaching them through ``rabbitmq-lb``, every quorum queue with three members; the node
leading the orders command queue is stopped (``docker stop``) while placements are being
sent, and every placement still gets exactly one outcome. ``max_gap`` is the longest pause
between consecutive outcomes as a client of the cluster sees them."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from azl_testing import builders
from azl_testing.bus import Received
from azl_testing.failover import FailoverObserver

from azl_contracts import trust
from azl_contracts.topology import all_queues

from .bus import ADMIN, NAMESPACE, url
from .stack import RESULTS, Stack, running

PLACEMENTS = 150
RATE = 25  # per second: about 6 s of placements, the node stopped 2 s in
NODES = ("rabbitmq", "rabbitmq-2", "rabbitmq-3")
OUTCOMES = ("orders.order.placed.v2", "orders.command.rejected.v1")


@pytest.fixture(scope="module")
def cluster_stack(container_engine: None) -> Iterator[Stack]:
    stack = Stack(profiles=("cluster",), extra_env={"AZL_AMQP_HOST": "rabbitmq-lb"})
    # `up` builds the service images only if they are missing: test_compose.py built them
    with running(stack) as up:
        yield up


def _ctl(stack: Stack, *args: str) -> str:
    """rabbitmqctl in the first node of the cluster that answers."""
    import docker

    client = docker.from_env(timeout=60)
    try:
        failures = []
        for container in stack.containers(all_states=False):
            if container["Config"]["Labels"].get("com.docker.compose.service") not in NODES:
                continue
            code, output = client.containers.get(container["Id"]).exec_run(
                ["rabbitmqctl", "-q", *args]
            )
            if code == 0:
                return str(output.decode())
            failures.append(output.decode(errors="replace"))
        raise AssertionError(f"rabbitmqctl {args}: {failures}")
    finally:
        client.close()


def _queues(stack: Stack) -> dict[str, dict[str, Any]]:
    rows = json.loads(
        _ctl(stack, "list_queues", "name", "leader", "members", "--formatter", "json")
    )
    return {str(row["name"]): row for row in rows}


async def _wait_for_members(stack: Stack, names: list[str], timeout: float = 180) -> None:
    """Until every queue has a member on each node (the nodes join after the definitions
    declared the queues; membership reconciliation adds them)."""
    deadline = time.monotonic() + timeout
    while True:
        queues = await asyncio.to_thread(_queues, stack)
        members = {name: len(queues[name]["members"] or []) for name in names}
        short = {name: count for name, count in members.items() if count < 3}
        if not short:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"queues without three members: {short}")
        await asyncio.sleep(2)


def _observer(address: str) -> FailoverObserver:
    """Every event, through HAProxy, on a quorum queue of its own; publishes as the
    definitions' operator, stamping each message's publisher (the definitions made the
    exchanges: it only looks them up)."""
    return FailoverObserver(
        url(address, *ADMIN),
        namespace=NAMESPACE,
        queue_name=f"{NAMESPACE}.deploy-observer-{secrets.token_hex(4)}",
        user_for=lambda publisher: trust.user_name(trust.default_user_prefix(NAMESPACE), publisher),
        declare_exchanges=False,
    )


def _stop_container(stack: Stack, service: str) -> None:
    import docker

    [container] = [
        c
        for c in stack.containers(all_states=False)
        if c["Config"]["Labels"].get("com.docker.compose.service") == service
    ]
    client = docker.from_env(timeout=120)
    try:
        client.containers.get(container["Id"]).stop(timeout=60)
    finally:
        client.close()


@pytest.mark.timeout(900)
async def test_the_leader_of_the_orders_command_queue_stopped_mid_stream_loses_nothing(
    cluster_stack: Stack,
) -> None:
    stack = cluster_stack
    names = [
        f"{NAMESPACE}.{name}"
        for spec in all_queues()
        for name in (spec.name, spec.dead_letter_queue)
    ]
    await _wait_for_members(stack, names)
    commands_queue = f"{NAMESPACE}.orders.commands"
    leader = str(_queues(stack)[commands_queue]["leader"]).removeprefix("rabbit@")
    observer = await _observer(stack.address("rabbitmq-lb", 5672)).start()
    try:
        customer = builders.customer()
        placements: dict[str, str] = {}  # command id -> order id
        retries = 0
        started = time.monotonic()

        async def place_all() -> None:
            nonlocal retries
            next_at = started
            for _ in range(PLACEMENTS):
                placement = builders.place_order(customer, items=[builders.item("90.00")])
                command_id = str(uuid4())
                next_at += 1 / RATE
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                retries += await observer.publish(placement, command_id) - 1
                placements[command_id] = str(placement.order_id)

        def answered() -> dict[str, list[Received]]:
            found: dict[str, list[Received]] = {c: [] for c in placements}
            for event in list(observer.events):
                if event.type in OUTCOMES and event.causation_id in found:
                    found[event.causation_id].append(event)
            return found

        placing = asyncio.create_task(place_all())
        await asyncio.sleep(2)
        sent_at_stop, answered_at_stop = len(placements), sum(map(bool, answered().values()))
        stopping = time.monotonic()
        await asyncio.to_thread(_stop_container, stack, leader)
        stop_took = time.monotonic() - stopping
        await placing
        for _ in range(480):  # up to 4 minutes for the outcomes of what was in flight
            if all(answered().values()):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)  # a duplicate outcome would arrive now

        outcomes = answered()
        lost = [c for c, found in outcomes.items() if not found]
        duplicated = [c for c, found in outcomes.items() if len({e.message_id for e in found}) > 1]
        times = sorted(found[0].at for found in outcomes.values() if found)
        gap_from, gap_to = max(itertools.pairwise(times), key=lambda pair: pair[1] - pair[0])
        new_leader = _queues(stack)[commands_queue]["leader"]
        RESULTS.append(
            f"cluster profile: {len(placements)} placements, {len(placements) - len(lost)} "
            f"outcomes, lost={len(lost)} duplicated={len(duplicated)}, leader {leader} stopped "
            f"({stop_took:.1f} s) with {sent_at_stop - answered_at_stop} in flight, new leader "
            f"{new_leader}, max_gap={1000 * (gap_to - gap_from):.0f} ms, "
            f"publish_retries={retries}"
        )
        assert 0 < sent_at_stop < PLACEMENTS  # stopped while placements were being sent
        assert new_leader != f"rabbit@{leader}"
        assert len(placements) == PLACEMENTS
        assert lost == []
        assert duplicated == []
    finally:
        await observer.close()
