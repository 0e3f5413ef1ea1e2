"""The kit's one door to FastStream and aio-pika: no other module of the kit imports them.

FastStream connects, reconnects, keeps the declared objects across reconnects and runs one
consumer per queue; around that the kit goes its own way, for reasons measured in
``docs/decisions/0001-faststream-at-arms-length.md``:

- consumers are aio-pika's own, on the robust queue objects FastStream's declarer
  (``broker.config.declarer``) declared on each consumer's own channel: aio-pika consumes
  them again after a reconnect. A FastStream subscriber would wrap every delivery in its
  logging middleware, context scope and decoder for nothing the kit uses (the pipeline
  decodes, decides what is poison and settles each delivery itself), and that cost about a
  tenth of a service's CPU per message (docs/performance.md);
- messages are published straight through the robust aio-pika exchange objects FastStream
  declared on its publisher-confirm channel, not through FastStream publishers.

``tests/test_faststream_api.py`` fails, naming what changed, when an upgrade moves any of
the semi-internal API this relies on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import (
    AMQPConnectionError,
    ChannelInvalidStateError,
    ChannelNotFoundEntity,
    DeliveryError,
)
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
)
from faststream.rabbit.schemas.queue import QuorumQueueArgs

from .envelope import Envelope, delivery_count, idempotency_key, text
from .topology import ExchangeDeclaration, QueueDeclaration

# A delivery as a consumer receives it, and the broker objects the kit holds on to.
Delivery = AbstractIncomingMessage
Exchange = AbstractExchange
Queue = AbstractQueue
Consumer = Callable[[Delivery], Awaitable[None]]
# What a passive declaration of an exchange or queue that does not exist raises.
EntityMissing = ChannelNotFoundEntity

PUBLISH_TIMEOUT_SECONDS = 10.0


RECONNECT_SECONDS = 0.25
CANCEL_SECONDS = 2.0


@dataclass
class _Subscription:
    queue: QueueDeclaration
    consumer: Consumer
    declared: Queue | None = None
    tag: str | None = None


class Broker:
    """Two connections to RabbitMQ: one for the consumers, one for publishing.

    After a connection is lost, aio-pika restores its channels one after another, and a
    consumer's channel waits there on its quorum queue (declared again, consumed again)
    while the queue elects a new leader. On one shared connection the publishing channel
    waited behind them: consumers were back and handling messages whose events could not
    be published yet. On its own connection the publishing channel only declares exchanges
    again, and is back first."""

    def __init__(self, amqp_url: str, *, app_id: str, graceful_timeout: float) -> None:
        self._consuming = _faststream(amqp_url, app_id, graceful_timeout)
        self._publishing = _faststream(amqp_url, app_id, graceful_timeout)
        self._amqp_url = amqp_url
        self._graceful_timeout = graceful_timeout
        self._queues: dict[str, RabbitQueue] = {}
        self._channels: dict[str, Channel] = {}
        self._subscriptions: list[_Subscription] = []
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def consume(self, queue: QueueDeclaration, consumer: Consumer, *, prefetch: int) -> None:
        """Run ``consumer`` for every delivery from ``queue`` once started; it settles each
        delivery itself (``ack``/``return_to_queue``)."""
        self._channels[queue.name] = Channel(prefetch_count=prefetch)
        self._subscriptions.append(_Subscription(queue, self._counted(consumer)))

    async def connect(self) -> None:
        await self._publishing.connect()
        await self._consuming.connect()

    async def start(self) -> None:
        await self._publishing.start()
        await self._consuming.start()
        for subscription in self._subscriptions:
            subscription.declared = declared = await self.declare_queue(subscription.queue)
            subscription.tag = await declared.consume(subscription.consumer)

    async def stop(self) -> None:
        """Stops consuming and waits for in-flight messages (up to the graceful timeout);
        what is still unsettled then goes back to the broker as the channels close."""
        for subscription in self._subscriptions:
            await _cancel(subscription)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), self._graceful_timeout)
        await self._consuming.stop()
        await self._publishing.stop()

    def _counted(self, consumer: Consumer) -> Consumer:
        async def consume(delivery: Delivery) -> None:
            self._in_flight += 1
            self._idle.clear()
            try:
                await consumer(delivery)
            finally:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.set()

        return consume

    async def ping(self, timeout: float) -> bool:
        return await self._publishing.ping(timeout=timeout) and await self._consuming.ping(
            timeout=timeout
        )

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
        """Declared on the publishing connection's channel, which has publisher confirms:
        every message is published through the exchange objects declared here."""
        return await self._publishing.declare_exchange(
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
        declared: Queue = await self._consuming.config.declarer.declare_queue(
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


def _faststream(amqp_url: str, app_id: str, graceful_timeout: float) -> RabbitBroker:
    return RabbitBroker(
        amqp_url,
        app_id=app_id,
        graceful_timeout=graceful_timeout,
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
        # A node stopped or lost closes its connections at once: reconnecting within a
        # quarter second through the load balancer is what keeps a failover short.
        reconnect_interval=RECONNECT_SECONDS,
        apply_types=False,
    )


async def _cancel(subscription: _Subscription) -> None:
    """No more deliveries; a connection already gone has cancelled it anyway."""
    declared, tag = subscription.declared, subscription.tag
    subscription.tag = None
    if declared is None or tag is None:
        return
    with contextlib.suppress(Exception):
        await asyncio.wait_for(declared.cancel(tag), CANCEL_SECONDS)


def envelope(delivery: Delivery, queue: str) -> Envelope:
    """What the pipeline reads off a delivery before trusting its body."""
    raw = delivery
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
    publisher confirms). A publish the broker refused (``basic.nack``) renews the channel
    (``_renew_after_nack``) and raises: it is worth trying again (``reconnecting``)."""
    try:
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
    except DeliveryError as error:
        if nacked(error) and isinstance(exchange, aio_pika.Exchange):
            await _renew_after_nack(exchange.channel)
        raise
    except ChannelInvalidStateError:
        if isinstance(exchange, aio_pika.Exchange):
            await _reopen_if_left_closed(exchange.channel)
        raise


# When each publishing channel was last renewed after a nack: the nacks of the other
# publishes that were in flight on the old channel arrive just after, and must not renew
# the new one again and again.
_RENEWED: weakref.WeakKeyDictionary[AbstractChannel, float] = weakref.WeakKeyDictionary()
RENEW_AT_MOST_EVERY_SECONDS = 0.05


async def _renew_after_nack(channel: AbstractChannel) -> None:
    """RabbitMQ 3.x: when a quorum queue's leader is lost, a channel that publishes to it
    before the new leader is known gets ``basic.nack`` — and that channel goes on nacking
    every later publish to the queue for as long as it lives (measured on the test cluster:
    still refusing 8 s after the kill), while a channel opened after the election publishes
    at once. Closing the channel beneath aio-pika's robust one makes aio-pika open a fresh
    one and declare its exchanges on it again; publishes in flight on the old one fail as
    a channel being restored does, and are tried again by their callers."""
    now = time.monotonic()
    if now - _RENEWED.get(channel, -1.0) < RENEW_AT_MOST_EVERY_SECONDS:
        return
    _RENEWED[channel] = now
    with contextlib.suppress(Exception):
        underlay = await channel.get_underlay_channel()
        await underlay.close(ChannelInvalidStateError("renewed after a basic.nack"))
    await _reopen_if_left_closed(channel)


async def _reopen_if_left_closed(channel: AbstractChannel) -> None:
    """aio-pika reopens a robust channel as soon as it closes, on the same channel number:
    racing the close (or a reconnect) that reopening can fail, and the channel then stays
    closed until the next reconnect of the whole connection — observed once, a service
    unable to publish for minutes. ``restore`` is aio-pika's own way back, and does nothing
    when the channel is open or its connection is being restored."""
    if isinstance(channel, aio_pika.RobustChannel) and channel.is_closed:
        with contextlib.suppress(Exception):
            await channel.restore()


def nacked(error: BaseException) -> bool:
    """The broker refused the message (``basic.nack``), as against returning it unroutable."""
    return isinstance(error, DeliveryError) and getattr(error.frame, "name", "") == "Basic.Nack"


def unreachable(error: BaseException) -> bool:
    """aio-pika reports a refused or dropped connection as its own AMQP errors."""
    return isinstance(error, AMQPConnectionError) or "too many clients" in str(error)


def reconnecting(error: BaseException) -> bool:
    """A publish that failed because its connection or channel is gone or not restored yet
    (a robust channel reports itself closed until aio-pika has reopened it), or that the
    broker refused while a queue it routes to elects a new leader (a nack: its channel is
    being renewed)."""
    return (
        isinstance(error, ChannelInvalidStateError | ConnectionError)
        or nacked(error)
        or unreachable(error)
    )
