"""Talking to the platform as another system does: send a command and wait for its outcome,
or watch events as they are published."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aio_pika
from pydantic import ValidationError
from yarl import URL

from azl_client import Client, NoReply
from azl_contracts import Event, Message, MessageKind, registry, trust
from azl_contracts.base import UnknownMessageType
from azl_contracts.topology import EVENTS_EXCHANGE, SERVICES

from . import development


class InvalidMessage(ValueError):
    pass


def candidates(message_type: str) -> list[type[Message]]:
    """``orders.place-order.v1``: that version; ``orders.place-order``: every version, newest
    first."""
    try:
        return [registry.by_type(message_type)]
    except UnknownMessageType:
        named = sorted((m for m in registry if message_type == m.NAME), key=lambda m: -m.VERSION)
        if not named:
            raise InvalidMessage(
                f"no message {message_type!r}; you can send: {', '.join(sendable_names())}"
            ) from None
        return named


def sendable(message: type[Message]) -> bool:
    """Commands and queries, and the events an outside system owns (``payments.*``): the
    services' own events only they publish."""
    if message.KIND in (MessageKind.COMMAND, MessageKind.QUERY):
        return True
    return message.KIND is MessageKind.EVENT and message.owner() not in SERVICES


def sendable_names() -> list[str]:
    return sorted({m.NAME for m in registry if sendable(m)})


def validate(message_type: str, body: dict[str, Any]) -> Message:
    """The body checked against the message's schema before anything is sent; given a name
    without a version, the newest version the body is valid for."""
    versions = candidates(message_type)
    if not sendable(versions[0]):
        raise InvalidMessage(
            f"{versions[0].message_type()} is published only by {versions[0].owner()}; "
            f"you can send: {', '.join(sendable_names())}"
        )
    first_error: ValidationError | None = None
    for message_class in versions:
        try:
            return message_class.model_validate(body)
        except ValidationError as error:
            first_error = first_error or error
    assert first_error is not None
    problems = "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '(body)'}: {e['msg']}" for e in first_error.errors()
    )
    raise InvalidMessage(f"{versions[0].message_type()}: {problems}")


async def connect(amqp_url: str, namespace: str, app_id: str) -> Client:
    """A client stamping ``user_id`` (PRODUCT.md §2 "Trust on the bus"): connected as one of
    the deployment's publishers (``azl-storefront``, ``azl-payments``…), as that publisher;
    otherwise as an operator whose user RabbitMQ tags ``impersonator`` (``azl-admin`` in
    the broker definitions), as the publisher that sends each message
    (``trust.publisher_for``: staff commands as the staff tools, a deposit as payments).
    RabbitMQ's default ``guest`` may not do that: in development it stands for the
    namespace's operator (``development.operator_url``)."""
    amqp_url = development.operator_url(namespace, amqp_url)
    prefix = trust.default_user_prefix(namespace)
    if trust.publisher_of(prefix, URL(amqp_url).user) is not None:
        return await Client.connect(amqp_url, namespace=namespace, app_id=app_id)
    return await Client.connect(amqp_url, namespace=namespace, app_id=app_id, impersonating=prefix)


async def send(
    amqp_url: str, namespace: str, message: Message, *, timeout: float, wait: bool = True
) -> dict[str, Any] | None:
    """Publish; for a command or a query with ``wait``, return its outcome (its RPC reply)."""
    async with await connect(amqp_url, namespace, "azl-cli") as client:
        if not wait or isinstance(message, Event):
            await client.publish(message)
            return None
        try:
            reply = await client.request(message, timeout=timeout)
        except NoReply:
            raise TimeoutError from None
        outcome: dict[str, Any] = reply.json
        return outcome


async def tail(
    amqp_url: str,
    namespace: str,
    pattern: str,
    show: Callable[[aio_pika.abc.AbstractIncomingMessage], None],
    stop: asyncio.Event,
) -> None:
    """Every event matching ``pattern`` as it is published, until ``stop`` is set."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(f"{namespace}.{EVENTS_EXCHANGE}", ensure=False)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key=pattern)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            show(message)

        await queue.consume(on_message, no_ack=True)
        await stop.wait()
