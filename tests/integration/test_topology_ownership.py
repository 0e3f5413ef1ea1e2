"""The deployment owns the shared exchanges, and a replayed dead letter keeps its publisher.

Against the real broker, with the least-privilege users of the generated definitions
(created in a namespace of this module's own and deleted after): no service user can create
an exchange, re-declare, delete or bind a shared one; a service checks them passively and
waits, saying so, until the deployment has declared them; a letter dead-lettered by a
service or by the broker is replayed with the ``user_id`` of its original publisher — never
the one a forged header claims — and a replay user without RabbitMQ's ``impersonator`` tag
is refused, the letter staying in its DLQ.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import uuid4

import aio_pika
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import AMQPError
from azl_testing.infra import (
    Infra,
    broker_users,
    declare_topology,
    leftovers,
    new_namespace,
    own_namespace,
    remove_everything,
)
from azl_testing.processes import ServiceProcess

from azl_cli import definitions, dlq
from azl_contracts.topology import SHARED_EXCHANGES, queues_of
from azl_kit import broker as kit_broker
from azl_kit.dead_letters import ORIGINAL_USER_ID_HEADER, DeadLetterCode, DeadLetters
from azl_kit.publisher import Publisher
from azl_kit.topology import Topology

SERVICES = ("orders", "fees", "notifications", "complaints")


@pytest.fixture(scope="module")
def own_infra(infra: Infra) -> Iterator[Infra]:
    """A namespace of this module's own, its exchanges declared by the operator (guest)."""
    with own_namespace(infra) as own:
        yield own


@pytest.fixture(scope="module")
def users(own_infra: Infra) -> dict[str, str]:
    """The definitions' users of this namespace, with random passwords (the harness's own,
    which its service processes connect with); ``remove_everything`` deletes them."""
    return broker_users(own_infra)


def url_as(infra: Infra, role: str, passwords: dict[str, str]) -> str:
    user = definitions.user_name(infra.namespace, role)
    return infra.amqp_url.replace("guest:guest@", f"{user}:{passwords[role]}@")


def user(infra: Infra, role: str) -> str:
    return definitions.user_name(infra.namespace, role)


async def _refused(step: Any) -> bool:
    """Whether the broker refused ``step`` (a coroutine) for want of permission."""
    try:
        await step
    except AMQPError as error:
        return "ACCESS_REFUSED" in str(error)
    return False


async def _on_channel(url: str, action: Any) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        await action(await connection.channel())


async def _bind(
    channel: aio_pika.abc.AbstractChannel, destination: str, *, source: str, routing_key: str
) -> None:
    """An exchange-to-exchange binding: what ``source`` routes under ``routing_key`` goes
    on into ``destination``."""
    target = await channel.get_exchange(destination, ensure=False)
    await target.bind(source, routing_key=routing_key)


async def _bind_queue(
    channel: aio_pika.abc.AbstractChannel, queue: str, exchange: str, *, routing_key: str
) -> None:
    target = await channel.get_queue(queue, ensure=False)
    await target.bind(exchange, routing_key=routing_key)


def _shared(infra: Infra) -> list[str]:
    return [infra.name(relative) for relative in SHARED_EXCHANGES]


async def test_no_service_user_creates_deletes_or_binds_a_shared_exchange(
    own_infra: Infra, users: dict[str, str]
) -> None:
    events = own_infra.name("events")
    for service in SERVICES:
        url = url_as(own_infra, service, users)

        # no exchange of its own, under any name outside its queues' exact names
        # (a queue's name included: permissions do not tell queues from exchanges)
        own_names = [
            own_infra.name(n) for q in queues_of(service) for n in (q.name, q.dead_letter_queue)
        ]
        for name in (*own_names, own_infra.name(f"{service}.mine"), own_infra.name("evil"), "evil"):
            refusal = await _refused(
                _on_channel(url, lambda ch, n=name: ch.declare_exchange(n, "fanout"))
            )
            assert refusal, (service, name)

        for name in _shared(own_infra):
            kind = SHARED_EXCHANGES[name.removeprefix(own_infra.namespace + ".")]
            # re-declaring (not passively) and deleting need configure: refused
            redeclare = await _refused(
                _on_channel(url, lambda ch, n=name, k=kind: ch.declare_exchange(n, k, durable=True))
            )
            assert redeclare, (service, name)
            delete = await _refused(_on_channel(url, lambda ch, n=name: ch.exchange_delete(n)))
            assert delete, (service, name)
            # checking one passively is what a service does, and needs no right
            assert not await _refused(
                _on_channel(url, lambda ch, n=name: ch.declare_exchange(n, passive=True))
            )

        # nor any queue, its own included: the deployment declared them, with their bindings
        for queue in (own_infra.name(f"{service}.commands"), own_infra.name(f"{service}.x")):
            refused = await _refused(
                _on_channel(url, lambda ch, q=queue: ch.declare_queue(q, durable=True))
            )
            assert refused, (service, queue)
        own_queue = await _refused(
            _on_channel(
                url,
                lambda ch, s=service: _bind_queue(
                    ch, own_infra.name(f"{s}.commands"), events, routing_key="#"
                ),
            )
        )
        assert own_queue, service

        # {ns}.events bound into another exchange: refused, under any key
        consumed = [b for q in queues_of(service) for b in q.bindings]  # its own keys too
        for destination, key in [
            (d, k)
            for d in (own_infra.name("dlx"), own_infra.name("events"), "amq.topic")
            for k in ("#", *consumed[:2])
        ]:
            bind = await _refused(
                _on_channel(
                    url,
                    lambda ch, d=destination, k=key: _bind(ch, d, source=events, routing_key=k),
                )
            )
            assert bind, (service, destination, key)
        # and nothing bound into {ns}.events from an exchange it could read
        bind = await _refused(
            _on_channel(
                url,
                lambda ch, s=service: _bind(
                    ch, events, source=own_infra.name("commands"), routing_key=f"{s}.#"
                ),
            )
        )
        assert bind, service

    # the exchanges are all still there, as the operator declared them
    async def check(channel: aio_pika.abc.AbstractChannel) -> None:
        for name in _shared(own_infra):
            await channel.declare_exchange(name, passive=True)

    await _on_channel(own_infra.amqp_url, check)


async def test_a_service_started_before_the_exchanges_waits_for_the_deployment(
    infra: Infra, tmp_path: Path
) -> None:
    """Started in a namespace whose exchanges nobody declared, a service does not create
    them: it says what it waits for and starts once the operator has declared them."""
    bare = replace(infra, namespace=new_namespace())
    process = ServiceProcess("fees", bare, tmp_path).start()
    try:
        deadline = time.monotonic() + 60
        while not any("topology not declared yet" in line for line in process.log_lines()):
            assert process.process is not None
            assert process.process.poll() is None, process.log_tail()
            assert time.monotonic() < deadline, process.log_tail()
            await asyncio.sleep(0.2)
        missing_line = next(
            line for line in process.log_lines() if "topology not declared yet" in line
        )
        assert bare.name("events") in missing_line
        await declare_topology(bare)
        await asyncio.to_thread(process.wait_ready)
    finally:
        process.stop()
        await remove_everything(bare)
    assert not await leftovers(bare)


# --- replay -------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def orders_side(
    own_infra: Infra, users: dict[str, str]
) -> AsyncIterator[tuple[Topology, DeadLetters, aio_pika.abc.AbstractChannel]]:
    """What the orders service does at start-up, as its own user: checks the exchanges and
    declares its queues (no service consumes them here, so the test takes the messages)."""
    url = url_as(own_infra, "orders", users)
    topology = Topology(own_infra.namespace)
    bus = kit_broker.Broker(url, app_id="orders", graceful_timeout=5.0)
    await bus.connect()
    publisher = Publisher("orders")
    publisher.bind(await topology.declare(bus, queues_of("orders")))
    connection = await aio_pika.connect(url)
    try:
        yield (
            topology,
            DeadLetters(publisher, exchange=topology.name("dlx"), service="orders"),
            await connection.channel(),
        )
    finally:
        await connection.close()
        await bus.stop()


async def _publish_command(url: str, infra: Infra, *, headers: dict[str, Any]) -> str:
    """As the storefront does: stamped with the connection's user (RabbitMQ checks it)."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        commands = await channel.get_exchange(infra.name("commands"), ensure=False)
        message_id = str(uuid4())
        await commands.publish(
            aio_pika.Message(
                b'{"not": "a real command"}',
                message_id=message_id,
                type="orders.cancel-order.v1",
                content_type="application/json",
                headers=headers,
                user_id=url.split("://", 1)[1].split(":", 1)[0],
            ),
            routing_key="orders.cancel-order",
        )
        return message_id


async def _take(channel: aio_pika.abc.AbstractChannel, queue: str) -> AbstractIncomingMessage:
    target = await channel.get_queue(queue, ensure=False)
    deadline = time.monotonic() + 15
    while (message := await target.get(no_ack=False, fail=False)) is None:
        assert time.monotonic() < deadline, f"nothing arrived in {queue}"
        await asyncio.sleep(0.05)
    return message


FORGED = {ORIGINAL_USER_ID_HEADER: "someone-trusted"}


async def test_a_letter_the_service_dead_lettered_is_replayed_as_its_original_publisher(
    own_infra: Infra,
    users: dict[str, str],
    orders_side: tuple[Topology, DeadLetters, aio_pika.abc.AbstractChannel],
) -> None:
    topology, dead_letters, channel = orders_side
    client = url_as(own_infra, "storefront", users)
    # the publisher plants the header a replay would believe: the service overwrites it
    message_id = await _publish_command(client, own_infra, headers={**FORGED})
    taken = await _take(channel, topology.name("orders.commands"))
    assert taken.message_id == message_id
    assert taken.user_id == user(own_infra, "storefront")
    envelope = kit_broker.envelope(taken, topology.name("orders.commands"))
    await dead_letters.send(envelope, code=DeadLetterCode.FORBIDDEN, reason="refused (test)")
    await taken.ack()

    letter = await _take(channel, topology.name("orders.commands.dlq"))
    assert letter.message_id == message_id
    assert (letter.headers or {})[ORIGINAL_USER_ID_HEADER] == user(own_infra, "storefront")
    await letter.nack(requeue=True)  # back for the replay

    # replay as the operator (impersonator): the message is the client's again
    admin = url_as(own_infra, "admin", users)
    replayed = await dlq.replay(admin, own_infra.namespace, message_id=message_id)
    assert [r.message_id for r in replayed] == [message_id]
    again = await _take(channel, topology.name("orders.commands"))
    assert again.message_id == message_id
    assert again.user_id == user(own_infra, "storefront")
    assert ORIGINAL_USER_ID_HEADER not in (again.headers or {})
    await again.ack()


async def test_a_letter_the_broker_dead_lettered_keeps_its_own_user_id_whatever_it_claims(
    own_infra: Infra,
    users: dict[str, str],
    orders_side: tuple[Topology, DeadLetters, aio_pika.abc.AbstractChannel],
) -> None:
    topology, _, channel = orders_side
    client = url_as(own_infra, "storefront", users)
    forged = {**FORGED, ORIGINAL_USER_ID_HEADER: user(own_infra, "payments")}
    message_id = await _publish_command(client, own_infra, headers=forged)
    taken = await _take(channel, topology.name("orders.commands"))
    await taken.reject(requeue=False)  # the broker dead-letters it, x-death and all

    letter = await _take(channel, topology.name("orders.commands.dlq"))
    assert letter.message_id == message_id
    assert "x-death" in (letter.headers or {})
    await letter.nack(requeue=True)

    # a replay user without the impersonator tag cannot keep the publisher: refused, kept
    with pytest.raises(dlq.ReplayRefused, match="impersonator"):
        await dlq.replay(own_infra.amqp_url, own_infra.namespace, message_id=message_id)
    kept = await dlq.list_dead_letters(own_infra.amqp_url, own_infra.namespace, "orders.commands")
    assert [k.message_id for k in kept] == [message_id]

    admin = url_as(own_infra, "admin", users)
    await dlq.replay(admin, own_infra.namespace, message_id=message_id)
    again = await _take(channel, topology.name("orders.commands"))
    assert again.message_id == message_id
    # the client's, as RabbitMQ validated it, not the payments system the header claimed
    assert again.user_id == user(own_infra, "storefront")
    await again.ack()
