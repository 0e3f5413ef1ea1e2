"""Standard RPC: a caller using RabbitMQ's direct reply-to (FastStream's ``broker.request()``,
the usual aio-pika RPC pattern) gets its reply, while no service may write to the default
exchange.

First what RabbitMQ allows, measured on this broker with users of the test's own: a reply to
an ``amq.rabbitmq.reply-to.*`` address is refused to a user without ``write`` on
``amq.default``, is lost when sent anywhere else, and is delivered for a user with that
right, which is also the right to put a message into any queue by its name. So services
publish such replies to ``{ns}.direct-replies`` and the reply relay (its own process and
user) forwards them, under direct reply-to keys only."""

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
from pathlib import Path
from typing import Any
from uuid import uuid4

import aio_pika
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import ChannelNotFoundEntity
from azl_testing import builders
from azl_testing.infra import Infra
from faststream.rabbit import RabbitBroker, RabbitExchange

from azl_contracts import fees as f
from azl_contracts.topology import COMMANDS_EXCHANGE, REPLY_RELAY_QUEUE
from azl_contracts.trust import STOREFRONT

from .conftest import Platform

QUOTE = f.QuoteRequest.model_validate(
    {"items": [{"quantity": 2, "unit_price_cny": "8.50"}], "exchange_rate": "3500"}
)


@pytest.fixture(scope="module")
def reply_relay(infra: Infra, platform: Platform, log_dir: Path) -> Iterator[None]:
    env = {**os.environ, "AZL_AMQP_URL": infra.amqp_url, "AZL_NAMESPACE": infra.namespace}
    with (log_dir / "reply-relay.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "azl_kit.reply_relay"], env=env, stdout=log, stderr=log
        )
    try:
        asyncio.run(_queue_declared(infra, infra.name(REPLY_RELAY_QUEUE), process))
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


async def _queue_declared(infra: Infra, name: str, process: subprocess.Popen[bytes]) -> None:
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the reply relay exited"
            channel = await connection.channel()
            try:
                await channel.get_queue(name, ensure=True)
                return
            except ChannelNotFoundEntity:
                if time.monotonic() > deadline:
                    raise TimeoutError("the reply relay did not declare its queue") from None
                await asyncio.sleep(0.2)


# --- what RabbitMQ allows ----------------------------------------------------------------


def _user(infra: Infra, name: str, write: str) -> str:
    # hex: a urlsafe token may start with "-", which rabbitmqctl reads as an option
    password = secrets.token_hex(12)
    infra.rabbitmqctl("add_user", name, password)
    infra.rabbitmqctl("set_permissions", "-p", "/", name, "^$", write, "^$")
    return infra.amqp_url.replace("guest:guest@", f"{name}:{password}@")


async def test_what_rabbitmq_allows_for_a_reply_to_a_direct_reply_to_address(
    infra: Infra, platform: Platform
) -> None:
    no_default = f"{infra.namespace}-probe-no-default"
    default = f"{infra.namespace}-probe-default"
    requests_queue = infra.name("probe-requests")
    replies = infra.name("replies")
    urls = {
        no_default: _user(infra, no_default, f"^{replies.replace('.', '[.]')}$"),
        default: _user(infra, default, "^amq[.]default$"),
    }
    try:
        requester = await aio_pika.connect(infra.amqp_url)
        async with requester:
            channel = await requester.channel()
            received: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
            reply_to = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)
            await reply_to.consume(received.put, no_ack=True)
            requests = await channel.declare_queue(requests_queue, auto_delete=True)
            await channel.default_exchange.publish(
                aio_pika.Message(b"request", reply_to="amq.rabbitmq.reply-to"),
                routing_key=requests.name,
            )
            request = await _get(requests)
            address = request.reply_to or ""
            assert address.startswith("amq.rabbitmq.reply-to.")  # rewritten by the broker

            # without write on amq.default: refused
            refusal = await _error_of(_publish(urls[no_default], "", address, b"refused"))
            assert "ACCESS_REFUSED" in refusal
            assert "amq.default" in refusal
            # through any other exchange: accepted, and lost (proven by the next reply)
            await _publish(urls[no_default], replies, address, b"lost")
            # with write on amq.default: delivered
            await _publish(urls[default], "", address, b"delivered")
            first = await asyncio.wait_for(received.get(), 10)
            assert first.body == b"delivered"
            # and the same right puts anything into any queue, by its name
            await _publish(urls[default], "", requests.name, b"forged")
            assert (await _get(requests)).body == b"forged"
        print(
            f"\nRabbitMQ {infra.rabbitmqctl('version').strip()}: a reply to {address[:34]}… "
            f"without write on amq.default: {refusal.splitlines()[0][:110]}; via {replies}: "
            "accepted and dropped; with write on amq.default: delivered, and a forged message "
            f"reached {requests.name} through the default exchange"
        )
    finally:
        for name in urls:
            infra.rabbitmqctl("delete_user", name)


async def _publish(url: str, exchange: str, routing_key: str, body: bytes) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        target = (
            channel.default_exchange
            if exchange == ""
            else await channel.get_exchange(exchange, ensure=False)
        )
        await target.publish(aio_pika.Message(body), routing_key=routing_key, timeout=10)


async def _error_of(publishing: Any) -> str:
    try:
        await publishing
    except aio_pika.exceptions.AMQPError as error:
        return str(error)
    raise AssertionError("the publish was allowed")


async def _get(queue: aio_pika.abc.AbstractQueue) -> AbstractIncomingMessage:
    for _ in range(200):
        message = await queue.get(no_ack=True, fail=False)
        if message is not None:
            return message
        await asyncio.sleep(0.05)
    raise TimeoutError(f"nothing in {queue.name}")


# --- standard RPC against the platform ---------------------------------------------------


@pytest_asyncio.fixture
async def faststream(infra: Infra, reply_relay: None) -> AsyncIterator[RabbitBroker]:
    broker = RabbitBroker(infra.url_as(STOREFRONT))  # a client of the platform, as itself
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.stop()


async def test_faststream_request_gets_a_commands_outcome(
    infra: Infra, faststream: RabbitBroker
) -> None:
    command = builders.place_order_v2(builders.customer())
    response = await faststream.request(
        command.model_dump_json(),
        exchange=RabbitExchange(infra.name(COMMANDS_EXCHANGE), declare=False),
        routing_key=command.routing_key(),
        message_type=command.message_type(),
        message_id=str(uuid4()),
        user_id=infra.user(STOREFRONT),
        content_type="application/json",
        persist=True,
        timeout=30,
    )
    outcome = json.loads(response.body)
    assert outcome["status"] == "accepted"
    assert outcome["command_type"] == "orders.place-order.v2"
    assert outcome["result"]["order_id"] == str(command.order_id)


async def test_faststream_request_gets_a_quote(infra: Infra, faststream: RabbitBroker) -> None:
    response = await faststream.request(
        QUOTE.model_dump_json(),
        exchange=RabbitExchange(infra.name(COMMANDS_EXCHANGE), declare=False),
        routing_key=QUOTE.routing_key(),
        message_type=QUOTE.message_type(),
        message_id=str(uuid4()),
        user_id=infra.user(STOREFRONT),
        content_type="application/json",
        persist=True,
        timeout=30,
    )
    assert json.loads(response.body)["goods_total_vnd"] == "59500"  # 2 × 8.50 × 3,500


async def test_faststream_request_gets_a_rejection(infra: Infra, faststream: RabbitBroker) -> None:
    command = builders.place_order_v2(builders.customer())
    response = await faststream.request(
        command.model_dump_json(),
        exchange=RabbitExchange(infra.name(COMMANDS_EXCHANGE), declare=False),
        routing_key=command.routing_key(),
        message_type="orders.place-order.v1",  # a v2 body sent as v1: schema-invalid
        message_id=str(uuid4()),
        user_id=infra.user(STOREFRONT),
        timeout=30,
    )
    outcome = json.loads(response.body)
    assert (outcome["status"], outcome["reason_code"]) == ("rejected", "validation_error")


@pytest.mark.parametrize("what", ["command", "quote"])
async def test_a_plain_aio_pika_rpc_client_gets_its_reply(
    infra: Infra, reply_relay: None, what: str
) -> None:
    """The pattern of aio-pika's documentation: consume amq.rabbitmq.reply-to (no ack),
    publish with that reply_to and a correlation id, wait for the matching reply."""
    message = builders.place_order_v2(builders.customer()) if what == "command" else QUOTE
    connection = await aio_pika.connect(infra.url_as(STOREFRONT))
    async with connection:
        channel = await connection.channel()
        futures: dict[str, asyncio.Future[AbstractIncomingMessage]] = {}

        async def on_reply(reply: AbstractIncomingMessage) -> None:
            future = futures.pop(reply.correlation_id or "", None)
            if future is not None:
                future.set_result(reply)

        reply_to = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)
        await reply_to.consume(on_reply, no_ack=True)
        correlation_id = str(uuid4())
        futures[correlation_id] = asyncio.get_running_loop().create_future()
        commands = await channel.get_exchange(infra.name(COMMANDS_EXCHANGE), ensure=False)
        await commands.publish(
            aio_pika.Message(
                message.model_dump_json().encode(),
                message_id=correlation_id,
                correlation_id=correlation_id,
                type=message.message_type(),
                content_type="application/json",
                reply_to="amq.rabbitmq.reply-to",
                user_id=infra.user(STOREFRONT),
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=message.routing_key(),
        )
        reply = await asyncio.wait_for(futures[correlation_id], 30)
    body = json.loads(reply.body)
    if what == "command":
        assert body["status"] == "accepted"
        assert body["events"][0]["type"] == "orders.order.placed.v2"
    else:
        assert body["goods_total_vnd"] == "59500"
