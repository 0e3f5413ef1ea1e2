"""The kit's one door to FastStream and aio-pika: no other module of the kit imports them.

FastStream connects, reconnects, keeps the declared objects across reconnects and runs one
consumer per queue; around that the kit goes its own way, for reasons measured in
``docs/decisions/0001-faststream-at-arms-length.md``:

- subscribers take the message undecoded (a decoder that hands it over as it is), with no
  dependency injection (``apply_types=False``) and manual acks: the pipeline decides what
  is poison and settles each delivery itself;
- a consumer's queue is declared through FastStream's declarer (``broker.config.declarer``)
  on the consumer's own channel, so the subscriber starting later finds it declared;
- messages are published straight through the robust aio-pika exchange objects FastStream
  declared on its publisher-confirm channel, not through FastStream publishers.

``tests/test_faststream_api.py`` fails, naming what changed, when an upgrade moves any of
the semi-internal API this relies on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, cast

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractQueue
from aio_pika.exceptions import AMQPConnectionError, ChannelNotFoundEntity
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
)
from faststream.rabbit.message import RabbitMessage
from faststream.rabbit.schemas.queue import QuorumQueueArgs

from .envelope import Envelope, delivery_count, idempotency_key, text
from .topology import ExchangeDeclaration, QueueDeclaration

# A delivery as a consumer receives it, and the broker objects the kit holds on to.
Delivery = RabbitMessage
Exchange = AbstractExchange
Queue = AbstractQueue
Consumer = Callable[[Delivery], Awaitable[None]]
# What a passive declaration of an exchange or queue that does not exist raises.
EntityMissing = ChannelNotFoundEntity

PUBLISH_TIMEOUT_SECONDS = 10.0


RECONNECT_SECONDS = 0.25


class Broker:
    """One connection to RabbitMQ with its consumers."""

    def __init__(self, amqp_url: str, *, app_id: str, graceful_timeout: float) -> None:
        self._broker = RabbitBroker(
            amqp_url,
            app_id=app_id,
            graceful_timeout=graceful_timeout,
            logger=logging.getLogger("faststream"),
            log_level=logging.DEBUG,
            # A node stopped or lost closes its connections at once: reconnecting within a
            # quarter second through the load balancer is what keeps a failover short.
            reconnect_interval=RECONNECT_SECONDS,
            # No dependency injection: resolving the message through it cost a thread hop
            # per message. The consumer takes the message itself (see _undecoded).
            apply_types=False,
        )
        self._amqp_url = amqp_url
        self._queues: dict[str, RabbitQueue] = {}
        self._channels: dict[str, Channel] = {}

    def consume(
        self, queue: QueueDeclaration, consumer: Consumer, *, prefetch: int, title: str
    ) -> None:
        """Run ``consumer`` for every delivery from ``queue`` once started; it settles each
        delivery itself (``ack``/``return_to_queue``)."""
        self._channels[queue.name] = channel = Channel(prefetch_count=prefetch)
        self._broker.subscriber(
            self._queue(queue),
            channel=channel,
            ack_policy=AckPolicy.MANUAL,
            decoder=_undecoded,
            no_reply=True,
            title=title,
        )(_consumer(consumer))

    async def connect(self) -> None:
        await self._broker.connect()

    async def start(self) -> None:
        await self._broker.start()

    async def stop(self) -> None:
        """Stops consuming and waits for in-flight messages (up to the graceful timeout)."""
        await self._broker.stop()

    async def ping(self, timeout: float) -> bool:
        return await self._broker.ping(timeout=timeout)

    async def missing(self, *, exchanges: list[str], queues: list[str]) -> list[str]:
        """Which of these exchanges and queues do not exist, each checked passively on a
        channel of its own (a failed passive declaration closes its channel) on a
        connection of its own, so FastStream's channels never see the refusal."""
        missing = []
        connection = await aio_pika.connect(self._amqp_url)
        async with connection:
            for kind, names in (("exchange", exchanges), ("queue", queues)):
                for name in names:
                    channel = await connection.channel()
                    try:
                        if kind == "exchange":
                            await channel.declare_exchange(name, passive=True)
                        else:
                            await channel.declare_queue(name, passive=True)
                    except ChannelNotFoundEntity:
                        missing.append(f"{kind} {name}")
                    finally:
                        if not channel.is_closed:
                            await channel.close()
        return missing

    async def declare_exchange(self, exchange: ExchangeDeclaration) -> Exchange:
        """Declared on FastStream's own channel, which has publisher confirms."""
        return await self._broker.declare_exchange(
            RabbitExchange(
                exchange.name,
                type=ExchangeType(exchange.type),
                durable=True,
                declare=not exchange.passive,
            )
        )

    async def declare_queue(self, queue: QueueDeclaration) -> Queue:
        """On the channel of the queue's consumer when it has one: the subscriber, starting
        later, finds it declared there."""
        declared: Queue = await self._broker.config.declarer.declare_queue(
            self._queue(queue), channel=self._channels.get(queue.name)
        )
        return declared

    async def bind(self, queue: Queue, exchange: Exchange, routing_key: str) -> None:
        await queue.bind(exchange, routing_key=routing_key)

    def _queue(self, queue: QueueDeclaration) -> RabbitQueue:
        """One object per queue: the declarer caches what it declared by it."""
        if queue.name not in self._queues:
            self._queues[queue.name] = RabbitQueue(
                queue.name,
                queue_type=QueueType.QUORUM,
                durable=True,
                declare=not queue.passive,
                arguments=cast(QuorumQueueArgs, queue.arguments),
            )
        return self._queues[queue.name]


async def _undecoded(message: StreamMessage[Any]) -> StreamMessage[Any]:
    """Hand the whole message to the consumer, undecoded: the pipeline decides what is poison."""
    return message


def _consumer(consumer: Consumer) -> Consumer:
    async def consume(message: Delivery) -> None:
        await consumer(message)

    return consume


def envelope(delivery: Delivery, queue: str) -> Envelope:
    """What the pipeline reads off a delivery before trusting its body."""
    raw = delivery.raw_message
    headers = dict(raw.headers or {})
    return Envelope(
        queue=queue,
        body=raw.body,
        raw_message_id=raw.message_id,
        message_id=idempotency_key(raw.message_id),
        correlation_id=text(raw.correlation_id),
        message_type=text(raw.type),
        reply_to=text(raw.reply_to) or None,
        content_type=raw.content_type,
        app_id=text(raw.app_id),
        user_id=raw.user_id,
        exchange=raw.exchange or "",
        routing_key=raw.routing_key or "",
        headers=headers,
        delivery_count=delivery_count(headers, raw.redelivered),
        properties={
            "message_id": raw.message_id,
            "correlation_id": raw.correlation_id,
            "message_type": raw.type,
            "reply_to": raw.reply_to,
            "content_type": raw.content_type,
            "timestamp": raw.timestamp,
            # validated by RabbitMQ against the publisher's connection; kept by a dead
            # letter in a header, never republished as the property (see dead_letters)
            "user_id": raw.user_id,
        },
    )


async def ack(delivery: Delivery) -> None:
    await delivery.ack()


async def reject(delivery: Delivery, *, requeue: bool) -> None:
    await delivery.reject(requeue=requeue)


async def publish(
    exchange: Exchange,
    body: bytes,
    *,
    routing_key: str,
    headers: dict[str, Any],
    app_id: str,
    message_id: str | None,
    correlation_id: str | None,
    message_type: str | None,
    timestamp: datetime | None,
    content_type: str | None = None,
    reply_to: str | None = None,
    user_id: str | None = None,
) -> None:
    """Persistent; returns once the broker confirmed it (the exchange's channel has
    publisher confirms)."""
    await exchange.publish(
        aio_pika.Message(
            body,
            headers=headers,
            content_type=content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            correlation_id=correlation_id,
            type=message_type,
            reply_to=reply_to,
            timestamp=timestamp,
            app_id=app_id,
            user_id=user_id,
        ),
        routing_key=routing_key,
        mandatory=False,
        timeout=PUBLISH_TIMEOUT_SECONDS,
    )


def unreachable(error: BaseException) -> bool:
    """aio-pika reports a refused or dropped connection as its own AMQP errors."""
    return isinstance(error, AMQPConnectionError) or "too many clients" in str(error)
