"""The broker definitions give each service exactly what it needs: loaded into the real
broker, every service runs the walking skeleton under its own user, and none can publish
another service's events, send commands, touch another service's queues, put a message
into one through the default exchange, or forge another service's dead letters; RPC
replies still reach a caller that bound its reply queue to ``{ns}.replies``, and a caller
using direct reply-to through the reply relay."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import uuid4

import aio_pika
import pytest
import pytest_asyncio
from aio_pika.exceptions import AMQPError, ChannelNotFoundEntity
from azl_testing import builders
from azl_testing.bus import Bus
from azl_testing.infra import Infra, own_namespace
from azl_testing.infra import broker_users as infra_users
from azl_testing.processes import ServiceProcess
from faststream.rabbit import RabbitBroker, RabbitExchange
from yarl import URL

from azl_contracts import Message
from azl_contracts import fees as f
from azl_contracts.topology import REPLY_RELAY_QUEUE

SERVICES = ("orders", "fees", "notifications", "complaints")


@pytest.fixture(scope="module")
def fresh_infra(infra: Infra) -> Iterator[Infra]:
    """A namespace of this module's own: its users, queues and databases are removed after."""
    with own_namespace(infra) as own:
        yield own


@pytest.fixture(scope="module")
def broker_users(fresh_infra: Infra) -> dict[str, str]:
    """The namespace's definitions, with random passwords, loaded into the broker (the
    harness's own users: ``remove_everything`` deletes them with the namespace)."""
    return infra_users(fresh_infra)


def url_as(infra: Infra, role: str, passwords: dict[str, str]) -> str:
    return infra.url_as(role)


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
    async with Bus(fresh_infra) as bus:
        yield bus


async def _publish_as(url: str, exchange: str, routing_key: str, body: bytes = b"{}") -> str:
    """Publish (``""``: the default exchange); returns the message id."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        target = (
            channel.default_exchange
            if exchange == ""
            else await channel.get_exchange(exchange, ensure=False)
        )
        message_id = secrets.token_hex(8)
        await target.publish(aio_pika.Message(body, message_id=message_id), routing_key=routing_key)
        return message_id


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
                user_id=URL(url).user,  # the trust checks believe nothing without it
            ),
            routing_key=message.routing_key(),
        )


async def test_each_service_does_its_job_under_its_own_user(
    fresh_infra: Infra, broker_users: dict[str, str], services: None, observer: Bus
) -> None:
    """The storefront user sends a command, the payments user a deposit; every service then
    consumes, declares, binds and publishes what the walking skeleton needs."""
    customer = builders.customer()
    await _send_as(
        url_as(fresh_infra, "storefront", broker_users),
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
    client = url_as(fresh_infra, "storefront", broker_users)

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


async def test_no_service_reaches_another_services_queues_behind_the_topic_permissions(
    fresh_infra: Infra, broker_users: dict[str, str], services: None, observer: Bus
) -> None:
    """The default exchange reaches every queue by name and topic permissions do not apply
    there; the dead-letter exchange reaches every DLQ. Neither is open to a service."""
    orders = url_as(fresh_infra, "orders", broker_users)
    fees = url_as(fresh_infra, "fees", broker_users)
    client = url_as(fresh_infra, "storefront", broker_users)
    dlx, replies = fresh_infra.name("dlx"), fresh_infra.name("replies")
    forged_deposit = builders.deposit(uuid4(), 70_000).model_dump_json().encode()

    # a forged payments event straight into the orders service's queue
    assert await _refused(
        _publish_as(fees, "", fresh_infra.name("orders.payment-events"), forged_deposit)
    )
    assert await _refused(
        _publish_as(client, "", fresh_infra.name("orders.payment-events"), forged_deposit)
    )
    # another service's dead letters, forged or read
    assert await _refused(_publish_as(fees, dlx, fresh_infra.name("orders.commands")))
    assert await _refused(_publish_as(orders, dlx, fresh_infra.name("fees.payment-events")))
    assert await _refused(
        _bind_as(
            fees, fresh_infra.name("fees.commands.dlq"), dlx, fresh_infra.name("orders.commands")
        )
    )
    # a forged reply, by anyone but a service
    assert await _refused(_publish_as(client, replies, "amq.gen-someone-else"))

    # its own queue's dead letter a service may send, and it lands in that queue's DLQ
    own = await _publish_as(fees, dlx, fresh_infra.name("fees.commands"))
    landed = await observer.drain_queue("fees.commands.dlq", wait=10, expect=1)
    assert [m.message_id for m in landed] == [own]


async def test_rpc_replies_reach_a_caller_that_bound_its_reply_queue(
    fresh_infra: Infra, broker_users: dict[str, str], services: None
) -> None:
    """What a client adds to be answered: one bind of its reply queue to {ns}.replies."""
    connection = await aio_pika.connect(url_as(fresh_infra, "storefront", broker_users))
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        reply_queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await reply_queue.bind(fresh_infra.name("replies"), routing_key=reply_queue.name)
        commands = await channel.get_exchange(fresh_infra.name("commands"), ensure=False)
        request = f.QuoteRequest.model_validate(
            {"items": [{"quantity": 2, "unit_price_cny": "8.50"}], "exchange_rate": "3500"}
        )
        request_id = str(uuid4())
        await commands.publish(
            aio_pika.Message(
                request.model_dump_json().encode(),
                message_id=request_id,
                correlation_id=request_id,
                type=request.message_type(),
                content_type="application/json",
                reply_to=reply_queue.name,
                user_id=fresh_infra.user("storefront"),
            ),
            routing_key=request.routing_key(),
        )
        reply = await _next_message(reply_queue, timeout=15)
        assert reply.correlation_id == request_id
        assert json.loads(reply.body)["goods_total_vnd"] == "59500"  # 2 × 8.50 × 3,500


async def _next_message(queue: aio_pika.abc.AbstractQueue, *, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await queue.get(no_ack=True, fail=False)
        if message is not None:
            return message
        await asyncio.sleep(0.05)
    raise TimeoutError("no reply")


async def _bind_as(url: str, queue: str, exchange: str, routing_key: str) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        target = await channel.get_queue(queue, ensure=False)
        await target.bind(exchange, routing_key=routing_key)


@pytest.fixture(scope="module")
def reply_relay(fresh_infra: Infra, broker_users: dict[str, str], services: None) -> Iterator[None]:
    """The reply relay under its own user, as compose runs it."""
    env = {
        **os.environ,
        "AZL_AMQP_URL": url_as(fresh_infra, "relay", broker_users),
        "AZL_NAMESPACE": fresh_infra.namespace,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "azl_kit.reply_relay"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        asyncio.run(_relay_queue_declared(fresh_infra, process))
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


async def _relay_queue_declared(infra: Infra, process: subprocess.Popen[bytes]) -> None:
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        for _ in range(300):
            assert process.poll() is None, "the reply relay exited"
            channel = await connection.channel()
            try:
                await channel.get_queue(infra.name(REPLY_RELAY_QUEUE), ensure=True)
                return
            except ChannelNotFoundEntity:
                await asyncio.sleep(0.2)
    raise TimeoutError("the reply relay did not declare its queue")


async def test_direct_reply_to_works_with_least_privilege_and_opens_nothing(
    fresh_infra: Infra, broker_users: dict[str, str], reply_relay: None
) -> None:
    """FastStream's broker.request() as the client user gets its quote through the relay;
    a service can send nothing but a reply-to key through {ns}.direct-replies, and still
    nothing through the default exchange."""
    broker = RabbitBroker(url_as(fresh_infra, "storefront", broker_users))
    await broker.connect()
    try:
        request = f.QuoteRequest.model_validate(
            {"items": [{"quantity": 2, "unit_price_cny": "8.50"}], "exchange_rate": "3500"}
        )
        response = await broker.request(
            request.model_dump_json(),
            exchange=RabbitExchange(fresh_infra.name("commands"), declare=False),
            routing_key=request.routing_key(),
            message_type=request.message_type(),
            message_id=str(uuid4()),
            user_id=fresh_infra.user("storefront"),
            timeout=30,
        )
        assert json.loads(response.body)["goods_total_vnd"] == "59500"
    finally:
        await broker.stop()

    fees = url_as(fresh_infra, "fees", broker_users)
    direct = fresh_infra.name("direct-replies")
    assert await _refused(_publish_as(fees, direct, fresh_infra.name("orders.payment-events")))
    assert await _refused(_publish_as(fees, "", "amq.rabbitmq.reply-to.abc.def"))
    await _publish_as(fees, direct, "amq.rabbitmq.reply-to.abc.def")  # allowed, goes nowhere
