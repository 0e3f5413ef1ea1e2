"""``docker compose up`` as an operator runs it: the four service images built from
``deploy/Dockerfile``, ``deploy/compose.yaml`` up until every container is healthy, the demo
order through the published ports as the definitions' users, least privilege inside the
stack, orders scaled out to three replicas with one stopped mid-stream, and ``down -v``
leaving nothing of the run behind."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from uuid import UUID

import aio_pika
import asyncpg
import httpx
import pytest
from aio_pika.abc import AbstractIncomingMessage
from aiormq.exceptions import ChannelAccessRefused
from azl_testing import builders

from azl_cli import demo, story
from azl_contracts import orders as o

from .bus import NAMESPACE, StackBus, url
from .stack import RESULTS, Stack, health, running

JWT_SECRET = "azl-development-secret-change-me-0123456789"  # compose's development default
SERVICES = ("orders", "fees", "notifications", "complaints")
STREAM = 60
# the first test's setup builds four images and brings the stack up: minutes on a cold machine
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def stack(container_engine: None) -> Iterator[Stack]:
    stack = Stack()
    stack.timed("service images built (4, compose build)", "build", timeout=1500)
    with running(stack) as up:
        yield up


def test_every_container_is_healthy_and_every_migration_completed(stack: Stack) -> None:
    containers = {c["Name"].lstrip("/"): c for c in stack.containers()}
    states = {name: health(c) for name, c in containers.items()}
    migrations = {n: s for n, s in states.items() if "-migrate-" in n}
    running_ones = {n: s for n, s in states.items() if "-migrate-" not in n}
    assert len(migrations) == len(SERVICES), states
    for name, container in containers.items():
        if "-migrate-" in name:
            assert container["State"]["ExitCode"] == 0, (name, states)
    with_healthcheck = {n for n, c in containers.items() if c["Config"].get("Healthcheck")}
    assert {n for n in running_ones if n in with_healthcheck and states[n] != "healthy"} == set()
    assert all(s in ("healthy", "running") for s in running_ones.values()), states
    for service in SERVICES:  # the image runs as its non-root user
        replica = stack.replicas(service)[0]
        assert replica["Config"]["User"] == "azl", service


def _endpoints(stack: Stack) -> story.Endpoints:
    return story.Endpoints(*(f"http://{stack.address(service, 8000)}" for service in SERVICES))


async def test_the_demo_order_goes_through_its_whole_lifecycle(stack: Stack) -> None:
    lines: list[str] = []
    amqp = stack.address("rabbitmq", 5672)
    order_id = await demo.Demo(
        url(amqp, "azl-admin", "admin-dev-password"), NAMESPACE, lines.append
    ).run()

    whole = await asyncio.to_thread(story.story, str(order_id), _endpoints(stack), JWT_SECRET)
    order, ledger, complaints = whole["order"], whole["ledger"], whole["complaints"]
    assert order["status"] == "completed", order
    assert Decimal(ledger["balance_due_vnd"]) <= 0, ledger
    assert any(e.get("fee_code") == "international_shipping" for e in ledger["entries"]), ledger
    listed = complaints["items"] if isinstance(complaints, dict) else complaints
    assert [c["status"] for c in listed] == ["resolved"], complaints
    commands = [line for line in lines if line.startswith("→ ") and "(as the" not in line]
    accepted = [line for line in commands if line.rstrip().endswith("accepted")]
    events = [line for line in lines if line.startswith("   ")]
    RESULTS.append(
        f"demo scenario: {len(accepted)}/{len(commands)} commands accepted, "
        f"{len(events)} events, {len(order['history'])} status changes, "
        f"{len(ledger['entries'])} ledger entries, {len(listed)} complaint resolved"
    )
    assert len(accepted) == len(commands) - sum("invalid_state" in c for c in commands)


async def test_a_services_broker_user_cannot_publish_another_services_events(
    stack: Stack,
) -> None:
    amqp = stack.address("rabbitmq", 5672)
    connection = await aio_pika.connect(url(amqp, "azl-fees", "fees-dev-password"))
    async with connection:
        channel = await connection.channel()  # publisher confirms: the refusal is answered
        events = await channel.get_exchange(f"{NAMESPACE}.events", ensure=False)
        with pytest.raises(ChannelAccessRefused):
            await events.publish(
                aio_pika.Message(b"{}", user_id="azl-fees"), routing_key="orders.order.placed"
            )
        channel = await connection.channel()
        queue = await channel.get_queue(f"{NAMESPACE}.orders.commands", ensure=False)
        with pytest.raises(ChannelAccessRefused):
            await queue.consume(_ignore)


async def _ignore(message: AbstractIncomingMessage) -> None:
    raise AssertionError(f"fees consumed a command of orders: {message.body!r}")


async def test_a_services_database_role_cannot_read_another_services_database(
    stack: Stack,
) -> None:
    host, port = stack.address("postgres", 5432).rsplit(":", 1)
    own = await asyncpg.connect(
        host=host,
        port=int(port),
        user="azl_fees",
        password="fees-dev-password",
        database="azl_fees",
    )
    try:  # its own: migrated, and readable
        assert await own.fetchval("SELECT count(*) FROM alembic_version") == 1
    finally:
        await own.close()
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(
            host=host,
            port=int(port),
            user="azl_fees",
            password="fees-dev-password",
            database="azl_orders",
        )


async def _handled(address: str) -> float:
    async with httpx.AsyncClient(base_url=f"http://{address}", timeout=10) as http:
        total = 0.0
        for line in (await http.get("/metrics")).text.splitlines():
            if line.startswith("azl_messages_handled_total{") and (
                'message_type="orders.increase-quantities.v1"' in line
            ):
                total += float(line.rsplit(" ", 1)[1])
        return total


async def test_three_orders_replicas_share_the_stream_and_one_stopped_loses_nothing(
    stack: Stack,
) -> None:
    stack.timed(
        "scale orders to 3 until healthy",
        "up",
        "-d",
        "--wait",
        "--wait-timeout",
        "300",
        "--no-recreate",
        "--scale",
        "orders=3",
        "orders",
    )
    addresses = [stack.address("orders", 8000, index) for index in (1, 2, 3)]
    async with StackBus(stack.address("rabbitmq", 5672)) as bus:
        customer = builders.customer()
        placed = await bus.request(builders.place_order(customer, items=[builders.item("1.00", 1)]))
        assert placed["status"] == "accepted", placed
        order_id = placed["result"]["order_id"]
        body = (await bus.wait_for("orders.order.placed", order_id))[0]
        await bus.emit(builders.deposit(UUID(order_id), Decimal(body["required_deposit_vnd"])))
        await bus.wait_for("orders.order.deposited", order_id)
        item_id = body["goods"]["items"][0]["item_id"]
        before = [await _handled(a) for a in addresses]

        def more() -> o.IncreaseQuantities:
            return o.IncreaseQuantities.model_validate(
                {
                    "actor": customer.model_dump(),
                    "order_id": order_id,
                    "items": [{"item_id": item_id, "add": 1}],
                }
            )

        # the first half with all three replicas up
        first = await asyncio.gather(*(bus.request(more()) for _ in range(STREAM // 2)))
        took_part = [await _handled(a) - b for a, b in zip(addresses, before, strict=True)]
        # the second half: the third replica stopped (SIGTERM, graceful) while it runs
        second = [asyncio.create_task(bus.request(more())) for _ in range(STREAM // 2)]
        for count, answered in enumerate(asyncio.as_completed(second), start=1):
            await answered
            if count == 3:
                break
        stopped = stack.replicas("orders")[2]["Name"].lstrip("/")
        started = time.monotonic()
        await asyncio.to_thread(_stop, stopped)
        RESULTS.append(f"orders replica {stopped} stopped in {time.monotonic() - started:.1f} s")
        replies = [*first, *(await asyncio.gather(*second))]

        assert [r["status"] for r in replies] == ["accepted"] * STREAM
        assert all(n > 0 for n in took_part), took_part
        increased = await bus.wait_for("orders.order.quantities-increased", order_id, count=STREAM)
        new_quantities = sorted(c["new_quantity"] for e in increased for c in e["changes"])
        assert new_quantities == list(range(2, STREAM + 2))  # no update lost or applied twice
        async with httpx.AsyncClient(base_url=f"http://{addresses[0]}", timeout=10) as http:
            headers = {"Authorization": f"Bearer {story.token(JWT_SECRET, 'ops', 'staff')}"}
            detail = (await http.get(f"/orders/{order_id}", headers=headers)).json()
        assert detail["info"]["items"][0]["quantity"] == 1 + STREAM, detail
        RESULTS.append(
            f"--scale orders=3: {STREAM} increase-quantities on one order, all accepted; "
            f"handled per replica in the first half {[int(n) for n in took_part]}; final "
            f"quantity {detail['info']['items'][0]['quantity']}"
        )


def _stop(name: str) -> None:
    import docker

    client = docker.from_env(timeout=60)
    try:
        client.containers.get(name).stop(timeout=30)
    finally:
        client.close()


def test_down_leaves_nothing_of_the_run_behind(stack: Stack) -> None:
    assert stack.leftovers(), "the stack was not running"
    started = time.monotonic()
    stack.down()
    RESULTS.append(f"down -v: {time.monotonic() - started:.1f} s")
    assert stack.leftovers() == []
