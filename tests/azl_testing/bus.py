"""A client of the platform as another internal system is: it publishes commands and events
on the broker, waits for outcomes (RPC replies) and records every event published."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import ChannelNotFoundEntity

from azl_contracts import Command, Event, Message
from azl_contracts.topology import (
    COMMANDS_EXCHANGE,
    EVENTS_EXCHANGE,
    REPLIES_EXCHANGE,
    exchange_for,
)

from .infra import Infra


@dataclass
class Received:
    routing_key: str
    type: str | None
    message_id: str | None
    correlation_id: str | None
    headers: dict[str, Any]
    body: bytes
    app_id: str | None
    at: float = field(default_factory=time.monotonic)

    @classmethod
    def of(cls, message: AbstractIncomingMessage) -> Received:
        return cls(
            routing_key=message.routing_key or "",
            type=message.type,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            headers=dict(message.headers or {}),
            body=message.body,
            app_id=message.app_id,
        )

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def causation_id(self) -> str | None:
        value = self.headers.get("x-causation-id")
        return None if value is None else str(value)


class Bus:
    def __init__(self, infra: Infra) -> None:
        self.infra = infra
        self.events: list[Received] = []
        self.on_event: Callable[[Received], Awaitable[None]] | None = None
        self._replies: dict[str, asyncio.Future[Received]] = {}
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None

    async def connect(self) -> Bus:
        self._connection = await aio_pika.connect_robust(self.infra.amqp_url)
        self._channel = await self._connection.channel(publisher_confirms=True)
        self._commands = await self._channel.declare_exchange(
            self.infra.name(COMMANDS_EXCHANGE), aio_pika.ExchangeType.TOPIC, durable=True
        )
        self._events = await self._channel.declare_exchange(
            self.infra.name(EVENTS_EXCHANGE), aio_pika.ExchangeType.TOPIC, durable=True
        )
        recorder = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        await recorder.bind(self._events, routing_key="#")
        await recorder.consume(self._record, no_ack=True)
        replies = await self._channel.declare_exchange(
            self.infra.name(REPLIES_EXCHANGE), aio_pika.ExchangeType.DIRECT, durable=True
        )
        self._reply_queue = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        # the one step an RPC caller adds: services reply through {ns}.replies
        await self._reply_queue.bind(replies, routing_key=self._reply_queue.name)
        await self._reply_queue.consume(self._on_reply, no_ack=True)
        return self

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def _record(self, message: AbstractIncomingMessage) -> None:
        received = Received.of(message)
        self.events.append(received)
        if self.on_event is not None:
            await self.on_event(received)

    async def republish(self, event: Received, **extra_headers: Any) -> None:
        """The same event again, as a broker redelivery or a relay crash would produce it."""
        await self._events.publish(
            aio_pika.Message(
                event.body,
                message_id=event.message_id,
                correlation_id=event.correlation_id,
                type=event.type,
                headers={**event.headers, **extra_headers},
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                app_id=event.app_id,
            ),
            routing_key=event.routing_key,
        )

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._replies.pop(message.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(Received.of(message))

    # --- publishing -------------------------------------------------------------------

    async def publish_raw(
        self,
        body: bytes,
        *,
        routing_key: str,
        exchange: str = COMMANDS_EXCHANGE,
        message_id: str | None = None,
        message_type: str | None = None,
        correlation_id: str | None = None,
        reply_to: str | None = None,
        headers: dict[str, Any] | None = None,
        content_type: str | None = "application/json",
    ) -> str:
        message_id = message_id if message_id is not None else str(uuid4())
        targets = {COMMANDS_EXCHANGE: self._commands, EVENTS_EXCHANGE: self._events}
        target = targets.get(exchange, self._channel.default_exchange)  # "": straight to a queue
        await target.publish(
            aio_pika.Message(
                body,
                message_id=message_id or None,
                correlation_id=correlation_id,
                type=message_type,
                reply_to=reply_to,
                headers=headers or {},
                content_type=content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                timestamp=datetime.now(UTC),
                app_id="tests",
            ),
            routing_key=routing_key,
        )
        return message_id

    async def publish(
        self,
        message: Message,
        *,
        message_id: str | None = None,
        correlation_id: str | None = None,
        reply_to: str | None = None,
    ) -> str:
        return await self.publish_raw(
            message.model_dump_json().encode(),
            routing_key=message.routing_key(),
            exchange=exchange_for(type(message)),
            message_id=message_id,
            message_type=message.message_type(),
            correlation_id=correlation_id,
            reply_to=reply_to,
        )

    async def send(
        self, command: Command, *, message_id: str | None = None, correlation_id: str | None = None
    ) -> str:
        return await self.publish(command, message_id=message_id, correlation_id=correlation_id)

    async def emit(
        self, event: Event, *, message_id: str | None = None, correlation_id: str | None = None
    ) -> str:
        """Publish an event as an outside system (payments) does."""
        return await self.publish(event, message_id=message_id, correlation_id=correlation_id)

    async def request(
        self, message: Message, *, message_id: str | None = None, timeout: float = 20.0
    ) -> dict[str, Any]:
        """Send with ``reply_to`` and wait for the outcome, as an RPC caller does."""
        message_id = message_id or str(uuid4())
        future: asyncio.Future[Received] = asyncio.get_running_loop().create_future()
        self._replies[message_id] = future
        await self.publish(
            message,
            message_id=message_id,
            correlation_id=message_id,
            reply_to=self._reply_queue.name,
        )
        reply = await asyncio.wait_for(future, timeout)
        body: dict[str, Any] = reply.json
        return body

    async def request_raw(self, body: bytes, *, timeout: float = 20.0, **kwargs: Any) -> Received:
        message_id = kwargs.pop("message_id", None) or str(uuid4())
        future: asyncio.Future[Received] = asyncio.get_running_loop().create_future()
        self._replies[message_id] = future
        await self.publish_raw(
            body,
            message_id=message_id,
            correlation_id=message_id,
            reply_to=self._reply_queue.name,
            **kwargs,
        )
        return await asyncio.wait_for(future, timeout)

    # --- observing --------------------------------------------------------------------

    def seen(
        self,
        type_prefix: str | None = None,
        where: Callable[[Received], bool] = lambda _: True,
    ) -> list[Received]:
        return [
            e
            for e in list(self.events)
            if (type_prefix is None or (e.type or "").startswith(type_prefix)) and where(e)
        ]

    async def wait_for(
        self,
        type_prefix: str | None = None,
        where: Callable[[Received], bool] = lambda _: True,
        *,
        count: int = 1,
        timeout: float = 20.0,
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.seen(type_prefix, where)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"saw {len(found)} of {count} {type_prefix or 'events'}; last events: "
                    + ", ".join(f"{e.type}" for e in self.events[-15:])
                )
            await asyncio.sleep(0.02)

    async def wait_for_order(
        self, type_prefix: str, order_id: object, **kwargs: Any
    ) -> list[Received]:
        return await self.wait_for(
            type_prefix, lambda e: e.json.get("order_id") == str(order_id), **kwargs
        )

    async def settle(self, quiet: float = 0.5, timeout: float = 10.0) -> None:
        """Wait until no new event arrived for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = self.events[-1].at if self.events else 0.0
            if time.monotonic() - last >= quiet:
                return
            await asyncio.sleep(0.05)

    async def drain_queue(
        self, relative_queue: str, *, wait: float = 10.0, expect: int = 1
    ) -> list[Received]:
        """Take every message out of one of this run's queues (e.g. a DLQ)."""
        assert self._connection is not None
        channel = await self._connection.channel()
        try:
            queue = await channel.get_queue(self.infra.name(relative_queue), ensure=True)
        except ChannelNotFoundEntity:
            return []  # never declared: its service did not run
        taken: list[Received] = []
        deadline = time.monotonic() + wait
        while True:
            message = await queue.get(fail=False, no_ack=True)
            if message is not None:
                taken.append(Received.of(message))
                continue
            if len(taken) >= expect or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        await channel.close()
        return taken

    async def dead_letter(self, relative_queue: str, message_id: str) -> Received:
        """The dead letter of ``message_id`` in one of this run's DLQs, once it is there
        (taken out of the queue with everything read before it)."""
        for _ in range(100):
            found = [
                m
                for m in await self.drain_queue(relative_queue, wait=0.1, expect=0)
                if m.message_id == message_id
            ]
            if found:
                return found[0]
        raise AssertionError(f"{message_id} never reached {relative_queue}")
