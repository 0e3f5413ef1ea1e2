"""The platform on a 3-node RabbitMQ cluster (quorum queues on every node, HAProxy in
front) keeps every command's outcome exactly once while the leader of the orders command
queue is stopped, and then another leader is killed with SIGKILL.

Run on its own: ``uv run pytest -m cluster``."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import aio_pika
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from azl_testing import builders
from azl_testing.bus import Received
from azl_testing.infra import Infra, leftovers, new_namespace, remove_everything
from azl_testing.processes import ServiceProcess

from azl_contracts import Message
from azl_contracts.topology import all_queues

from .cluster import RESULTS, Cluster

N = 1000
RATE = 120  # commands per second offered
SERVICES = ("orders", "fees", "notifications", "complaints")
FAST_RETRIES = {
    "AZL_RETRY_BASE_DELAY": "0.1",
    "AZL_RETRY_MAX_DELAY": "2",
    "AZL_OUTBOX_POLL_INTERVAL": "0.5",
}


@pytest.fixture
def cluster_infra(infra: Infra, cluster: Cluster) -> Iterator[Infra]:
    own = replace(infra, amqp_url=cluster.url, namespace=new_namespace())
    try:
        yield own
    finally:
        asyncio.run(remove_everything(own))
        assert not asyncio.run(leftovers(own))


@pytest.fixture
def services(cluster_infra: Infra, tmp_path: Path) -> Iterator[dict[str, ServiceProcess]]:
    processes = {
        name: ServiceProcess(name, cluster_infra, tmp_path, extra_env=FAST_RETRIES).start()
        for name in SERVICES
    }
    try:
        for process in processes.values():
            process.wait_ready(timeout=120)
        yield processes
    finally:
        for process in processes.values():
            process.stop()


@dataclass
class Observer:
    """Every event, through HAProxy, on a durable quorum queue: it survives the node loss."""

    infra: Infra
    events: list[Received] = field(default_factory=list)
    connection: AbstractRobustConnection | None = None

    async def start(self) -> Observer:
        self.connection = await aio_pika.connect_robust(self.infra.amqp_url, reconnect_interval=0.5)
        channel = await self.connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=500)
        exchange = await channel.declare_exchange(
            self.infra.name("events"), aio_pika.ExchangeType.TOPIC, durable=True
        )
        self._commands = await channel.declare_exchange(
            self.infra.name("commands"), aio_pika.ExchangeType.TOPIC, durable=True
        )
        self._events = exchange
        queue = await channel.declare_queue(
            self.infra.name("test-observer"), durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, routing_key="#")
        await queue.consume(self._record)
        return self

    async def _record(self, message: AbstractIncomingMessage) -> None:
        self.events.append(Received.of(message))
        await message.ack()

    async def publish(self, message: Message, message_id: str) -> int:
        """Publish with confirms, retrying through a failover; returns the attempts it took."""
        target = self._commands if message.KIND.value == "command" else self._events
        for attempt in range(1, 200):
            try:
                await target.publish(
                    aio_pika.Message(
                        message.model_dump_json().encode(),
                        message_id=message_id,
                        type=message.message_type(),
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=message.routing_key(),
                    timeout=5,
                )
                return attempt
            except Exception:
                await asyncio.sleep(0.2)
        raise RuntimeError("could not publish through the failover")

    def per_order(self, event_type: str, order_ids: set[str]) -> dict[str, set[str | None]]:
        found: dict[str, set[str | None]] = {order_id: set() for order_id in order_ids}
        for event in list(self.events):
            if (event.type or "").startswith(event_type):
                order_id = event.json.get("order_id")
                if order_id in found:
                    found[order_id].add(event.message_id)
        return found

    async def close(self) -> None:
        if self.connection is not None:
            channel = await self.connection.channel()
            await channel.queue_delete(self.infra.name("test-observer"))
            await self.connection.close()


@pytest_asyncio.fixture
async def observer(
    cluster_infra: Infra, services: dict[str, ServiceProcess]
) -> AsyncIterator[Observer]:
    running = await Observer(cluster_infra).start()
    try:
        yield running
    finally:
        await running.close()


@pytest.mark.timeout(900)
async def test_cluster_failover_loses_and_duplicates_nothing(
    cluster: Cluster, cluster_infra: Infra, observer: Observer
) -> None:
    queue = cluster_infra.name("orders.commands")
    replicated = {
        spec.name: len(cluster.members_of(cluster_infra.name(spec.name))) for spec in all_queues()
    }
    assert set(replicated.values()) == {3}, replicated

    customer = builders.customer()
    placements = [builders.place_order(customer, items=[builders.item("90.00")]) for _ in range(N)]
    order_ids = {str(p.order_id) for p in placements}
    deposited_sent: set[str] = set()
    retries = 0

    async def place_all() -> None:
        nonlocal retries
        for placement in placements:
            retries += await observer.publish(placement, str(uuid4())) - 1
            await asyncio.sleep(1 / RATE)

    async def deposit_placed() -> None:
        nonlocal retries
        while len(deposited_sent) < N:
            for event in list(observer.events):
                if (
                    event.type == "orders.order.placed.v1"
                    and event.json["order_id"] not in deposited_sent
                ):
                    body = event.json
                    deposited_sent.add(body["order_id"])
                    deposit = builders.deposit(
                        body["order_id"], Decimal(body["required_deposit_vnd"])
                    )
                    retries += await observer.publish(deposit, str(uuid4())) - 1
            await asyncio.sleep(0.1)

    async def failures() -> list[str]:
        story = []
        await asyncio.sleep(3)
        leader = await asyncio.to_thread(cluster.leader_of, queue)
        await asyncio.to_thread(cluster.stop_node, leader)
        story.append(f"stopped clu{leader}")
        await asyncio.sleep(2)
        await asyncio.to_thread(cluster.start_node, leader)
        story.append(f"restarted clu{leader}")
        await asyncio.sleep(1)
        second = await asyncio.to_thread(cluster.leader_of, queue)
        await asyncio.to_thread(cluster.kill_node, second)
        story.append(f"kill -9 clu{second}")
        await asyncio.sleep(3)
        await asyncio.to_thread(cluster.start_node, second)
        story.append(f"restarted clu{second}")
        return story

    started = time.monotonic()
    placing = asyncio.create_task(place_all())
    depositing = asyncio.create_task(deposit_placed())
    story = await failures()
    await placing
    await asyncio.wait_for(depositing, timeout=240)

    chain = ("orders.order.deposited", "fees.fee.charged", "notifications.notification.created")
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if all(all(observer.per_order(t, order_ids).values()) for t in chain):
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(2)  # anything extra (a duplicate) would arrive now

    placed = observer.per_order("orders.order.placed", order_ids)
    counts = [observer.per_order(t, order_ids) for t in ("orders.order.placed", *chain)]
    lost = sum(1 for c in counts for ids in c.values() if not ids)
    duplicated = sum(1 for c in counts for ids in c.values() if len(ids) > 1)
    times = sorted(e.at for e in observer.events if e.at >= started)
    max_gap_ms = max((b - a for a, b in itertools.pairwise(times)), default=0) * 1000
    outcomes = sum(1 for ids in placed.values() if ids)
    line = (
        f"cluster-failover: sent={N} outcomes={outcomes} lost={lost} duplicated={duplicated} "
        f"max_gap_ms={max_gap_ms:.0f} publish_retries={retries} ({'; '.join(story)})"
    )
    print(line)
    RESULTS.append(line)
    assert lost == 0
    assert duplicated == 0
    assert outcomes == N
