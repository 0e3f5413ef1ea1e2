"""Talking to the platform as another system does: send a command and wait for its outcome,
or watch events as they are published."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import aio_pika
from pydantic import ValidationError

from azl_contracts import Message, MessageKind, registry
from azl_contracts.base import UnknownMessageType
from azl_contracts.topology import COMMANDS_EXCHANGE, EVENTS_EXCHANGE, REPLIES_EXCHANGE


class InvalidMessage(ValueError):
    pass


def resolve(message_type: str) -> type[Message]:
    """``orders.cancel-order`` (newest version) or ``orders.cancel-order.v1``."""
    try:
        return registry.by_type(message_type)
    except UnknownMessageType:
        versions = [m for m in registry if message_type == m.NAME]
        if not versions:
            sendable = sorted(
                m.NAME for m in registry if m.KIND in (MessageKind.COMMAND, MessageKind.QUERY)
            )
            raise InvalidMessage(
                f"no message {message_type!r}; commands and queries: {', '.join(sendable)}"
            ) from None
        return max(versions, key=lambda m: m.VERSION)


def validate(message_type: str, body: dict[str, Any]) -> Message:
    """The body checked against the message's schema before anything is sent."""
    message_class = resolve(message_type)
    if message_class.KIND not in (MessageKind.COMMAND, MessageKind.QUERY):
        raise InvalidMessage(f"{message_class.message_type()} is not a command or a query")
    try:
        return message_class.model_validate(body)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(body)'}: {e['msg']}" for e in error.errors()
        )
        raise InvalidMessage(f"{message_class.message_type()}: {problems}") from None


async def send(
    amqp_url: str, namespace: str, message: Message, *, timeout: float, wait: bool = True
) -> dict[str, Any] | None:
    """Publish with ``reply_to`` and return the outcome (None when not waiting)."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        replies = await channel.declare_queue(exclusive=True, auto_delete=True)
        # services reply through {ns}.replies, routed by the reply queue's own name
        await replies.bind(f"{namespace}.{REPLIES_EXCHANGE}", routing_key=replies.name)
        exchange = await channel.get_exchange(f"{namespace}.{COMMANDS_EXCHANGE}", ensure=False)
        message_id = str(uuid4())
        await exchange.publish(
            aio_pika.Message(
                message.model_dump_json().encode(),
                message_id=message_id,
                correlation_id=message_id,
                type=message.message_type(),
                content_type="application/json",
                reply_to=replies.name if wait else None,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                app_id="azl-cli",
            ),
            routing_key=message.routing_key(),
        )
        if not wait:
            return None
        async with replies.iterator(timeout=timeout) as incoming:
            async for reply in incoming:
                await reply.ack()
                if reply.correlation_id == message_id:
                    outcome: dict[str, Any] = json.loads(reply.body)
                    return outcome
    return None


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
