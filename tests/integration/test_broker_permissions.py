"""The broker definitions give each service exactly what it needs: loaded into the real
broker, every service runs the walking skeleton under its own user, and none can publish
another service's events, send commands, or touch another service's queues."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from uuid import uuid4

import aio_pika
import pytest
import pytest_asyncio
from aio_pika.exceptions import AMQPError
from azl_testing import builders
from azl_testing.bus import Bus
from azl_testing.infra import Infra, leftovers, new_namespace, remove_everything
from azl_testing.processes import ServiceProcess

from azl_cli import definitions
from azl_contracts import Message

SERVICES = ("orders", "fees", "notifications", "complaints")


@pytest.fixture(scope="module")
def fresh_infra(infra: Infra) -> Iterator[Infra]:
    """A namespace of this module's own: its users, queues and databases are removed after."""
    own = replace(infra, namespace=new_namespace())
    try:
        yield own
    finally:
        asyncio.run(remove_everything(own))
        assert not asyncio.run(leftovers(own))


@pytest.fixture(scope="module")
def broker_users(fresh_infra: Infra) -> Iterator[dict[str, str]]:
    """The namespace's definitions, with random passwords, loaded into the broker."""
    passwords = {role: secrets.token_urlsafe(16) for role in definitions.ROLES}
    document = definitions.render(fresh_infra.namespace, passwords).encode()
    fresh_infra.rabbitmqctl("import_definitions", "--format", "json", stdin=document)
    _wait_for_users(fresh_infra, passwords)  # the import finishes asynchronously
    try:
        yield passwords
    finally:
        for role in definitions.ROLES:
            fresh_infra.rabbitmqctl(
                "delete_user", definitions.user_name(fresh_infra.namespace, role)
            )


def _wait_for_users(infra: Infra, passwords: dict[str, str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        listed = infra.rabbitmqctl("list_users", "--quiet")
        if all(definitions.user_name(infra.namespace, r) in listed for r in definitions.ROLES):
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the broker did not create the users")
        time.sleep(0.5)


def url_as(infra: Infra, role: str, passwords: dict[str, str]) -> str:
    user = definitions.user_name(infra.namespace, role)
    return infra.amqp_url.replace("guest:guest@", f"{user}:{passwords[role]}@")


@pytest.fixture(scope="module")
def services(
    fresh_infra: Infra, broker_users: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    tmp_path = tmp_path_factory.mktemp("permissions")
    processes = [
        ServiceProcess(
            name,
            fresh_infra,
            tmp_path,
            extra_env={"AZL_AMQP_URL": url_as(fresh_infra, name, broker_users)},
        ).start()
        for name in SERVICES
    ]
    try:
        for process in processes:
            process.wait_ready()
        yield
    finally:
        for process in processes:
            process.stop()


@pytest_asyncio.fixture
async def observer(fresh_infra: Infra, broker_users: dict[str, str]) -> AsyncIterator[Bus]:
    """An administrator watching every event (the test's own eyes)."""
    bus = await Bus(fresh_infra).connect()
    try:
        yield bus
    finally:
        await bus.close()


async def _publish_as(url: str, exchange: str, routing_key: str, body: bytes = b"{}") -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        target = await channel.get_exchange(exchange, ensure=False)
        await target.publish(
            aio_pika.Message(body, message_id=secrets.token_hex(8)), routing_key=routing_key
        )


async def _refused(coroutine: object) -> bool:
    try:
        await coroutine  # type: ignore[misc]
    except AMQPError as error:
        return "ACCESS_REFUSED" in str(error) or "403" in str(error)
    return False


async def _send_as(url: str, exchange: str, message: Message) -> None:
    """Publish a contract message with the properties a real client sets."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        target = await channel.get_exchange(exchange, ensure=False)
        await target.publish(
            aio_pika.Message(
                message.model_dump_json().encode(),
                message_id=str(uuid4()),
                type=message.message_type(),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=message.routing_key(),
        )


async def test_each_service_does_its_job_under_its_own_user(
    fresh_infra: Infra, broker_users: dict[str, str], services: None, observer: Bus
) -> None:
    """The client user sends a command, the payments user a deposit; every service then
    consumes, declares, binds and publishes what the walking skeleton needs."""
    customer = builders.customer()
    await _send_as(
        url_as(fresh_infra, "client", broker_users),
        fresh_infra.name("commands"),
        builders.place_order(customer),
    )
    placed = await observer.wait_for(
        "orders.order.placed", lambda e: e.json["customer_id"] == customer.id
    )
    order_id = placed[0].json["order_id"]
    await _send_as(
        url_as(fresh_infra, "payments", broker_users),
        fresh_infra.name("events"),
        builders.deposit(order_id, int(placed[0].json["required_deposit_vnd"])),
    )
    await observer.wait_for_order("fees.fee.charged", order_id)
    await observer.wait_for(
        "notifications.notification.created", lambda e: e.json["order_id"] == order_id
    )


async def test_no_service_can_act_as_another(
    fresh_infra: Infra, broker_users: dict[str, str], services: None
) -> None:
    events, commands = fresh_infra.name("events"), fresh_infra.name("commands")
    orders = url_as(fresh_infra, "orders", broker_users)
    fees = url_as(fresh_infra, "fees", broker_users)
    payments = url_as(fresh_infra, "payments", broker_users)
    client = url_as(fresh_infra, "client", broker_users)

    assert await _refused(_publish_as(orders, events, "fees.fee.charged"))
    assert await _refused(_publish_as(fees, events, "orders.order.deposited"))
    assert await _refused(_publish_as(orders, commands, "fees.quote"))
    assert await _refused(_publish_as(payments, events, "orders.order.placed"))
    assert await _refused(_publish_as(client, events, "payments.deposit.received"))
    assert await _refused(_consume_as(orders, fresh_infra.name("fees.commands")))
    assert await _refused(_declare_as(fees, fresh_infra.name("orders.sneaky")))
    # and what they may do is allowed
    await _publish_as(payments, events, "payments.payment.received", json.dumps({}).encode())


async def _consume_as(url: str, queue: str) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        target = await channel.get_queue(queue, ensure=False)
        await target.get(fail=False)


async def _declare_as(url: str, queue: str) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
