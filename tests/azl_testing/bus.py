"""A client of the platform as another internal system is: it publishes commands and events
on the broker, waits for outcomes (RPC replies) and records every event published."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import ChannelNotFoundEntity

from azl_client import Client
from azl_contracts import Command, Event, Message, registry, trust
from azl_contracts.base import UnknownMessageType
from azl_contracts.topology import COMMANDS_EXCHANGE, EVENTS_EXCHANGE, REPLIES_EXCHANGE

from .infra import BUS_ROLE, Infra


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
    user_id: str | None = None

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
            user_id=message.user_id,
        )

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def causation_id(self) -> str | None:
        value = self.headers.get("x-causation-id")
        return None if value is None else str(value)


class Bus:
    """The test's own system on the bus: it publishes and asks through ``azl_client`` (as an
    integrating system does) and records every event on a queue of its own.

    It connects as the namespace's ``bus`` user, tagged ``impersonator``, and stamps each
    message with the user of the publisher that sends it (``trust.publisher_for``: payments
    events as payments, staff commands as the staff tools, ...), so the services' trust
    checks believe it as they would the real publisher."""

    def __init__(self, infra: Infra) -> None:
        self.infra = infra
        self.events: list[Received] = []
        self.on_event: Callable[[Received], Awaitable[None]] | None = None
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._client: Client | None = None

    async def connect(self) -> Bus:
        url = self.infra.url_as(BUS_ROLE)
        self._connection = await aio_pika.connect_robust(url)
        self._channel = await self._connection.channel(publisher_confirms=True)
        for relative, kind in (
            (COMMANDS_EXCHANGE, aio_pika.ExchangeType.TOPIC),
            (EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC),
            (REPLIES_EXCHANGE, aio_pika.ExchangeType.DIRECT),
        ):  # a test may start before (or without) the service that declares them
            await self._channel.declare_exchange(self.infra.name(relative), kind, durable=True)
        recorder = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        await recorder.bind(self.infra.name(EVENTS_EXCHANGE), routing_key="#")
        await recorder.consume(self._record, no_ack=True)
        self._client = await Client.connect(
            url,
            namespace=self.infra.namespace,
            app_id="tests",
            impersonating=self.infra.user_prefix,
        )
        return self

    async def __aenter__(self) -> Bus:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def client(self) -> Client:
        assert self._client is not None, "connect() first"
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._connection is not None:
            await self._connection.close()

    async def _record(self, message: AbstractIncomingMessage) -> None:
        received = Received.of(message)
        self.events.append(received)
        if self.on_event is not None:
            await self.on_event(received)

    async def republish(self, event: Received, **extra_headers: Any) -> None:
        """The same event again, as a broker redelivery or a relay crash would produce it."""
        await self.client.publish_raw(
            event.body,
            routing_key=event.routing_key,
            exchange=EVENTS_EXCHANGE,
            message_id=event.message_id,
            correlation_id=event.correlation_id,
            message_type=event.type,
            headers={**event.headers, **extra_headers},
            user_id=event.user_id,
        )

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
        user_id: str | None = None,
    ) -> str:
        """Any body (``exchange=""``: straight to a queue through the default exchange),
        stamped as the publisher of its type would send it unless ``user_id`` is given."""
        return await self.client.publish_raw(
            body,
            routing_key=routing_key,
            exchange=exchange,
            message_id=message_id,
            message_type=message_type,
            correlation_id=correlation_id,
            reply_to=reply_to,
            headers=headers,
            content_type=content_type,
            user_id=self.user_for(message_type, body) if user_id is None else user_id,
        )

    def user_for(self, message_type: str | None, body: bytes) -> str:
        """Who sends a raw message of this type: its publisher when the body reads as one,
        else (a poison body) the publisher its type's owner or the storefront would be."""
        try:
            kind = registry.by_type(message_type or "")
        except UnknownMessageType:
            return self.infra.user(trust.STOREFRONT)
        try:
            message = kind.model_validate_json(body)
        except Exception:
            owner = kind.owner()
            return self.infra.user(owner if owner in trust.POLICIES else trust.STOREFRONT)
        return self.client.user_for(message)

    async def publish(
        self,
        message: Message,
        *,
        message_id: str | None = None,
        correlation_id: str | None = None,
        reply_to: str | None = None,
    ) -> str:
        return await self.client.publish(
            message, message_id=message_id, correlation_id=correlation_id, reply_to=reply_to
        )

    async def send(
        self, command: Command, *, message_id: str | None = None, correlation_id: str | None = None
    ) -> str:
        return await self.publish(command, message_id=message_id, correlation_id=correlation_id)

    async def emit(
        self, event: Event, *, message_id: str | None = None, correlation_id: str | None = None
    ) -> str:
        """Publish an event as an outside system (payments) does."""
        return await self.client.emit(event, message_id=message_id, correlation_id=correlation_id)

    async def request(
        self, message: Message, *, message_id: str | None = None, timeout: float = 20.0
    ) -> dict[str, Any]:
        """Send with ``reply_to`` and wait for the outcome, as an RPC caller does."""
        reply = await self.client.request(message, message_id=message_id, timeout=timeout)
        body: dict[str, Any] = reply.json
        return body

    async def request_raw(self, body: bytes, *, timeout: float = 20.0, **kwargs: Any) -> Received:
        kwargs.setdefault("user_id", self.user_for(kwargs.get("message_type"), body))
        reply = await self.client.request_raw(body, timeout=timeout, **kwargs)
        return Received(
            routing_key=self.client.reply_queue,
            type=reply.type,
            message_id=None,
            correlation_id=reply.correlation_id,
            headers={},
            body=reply.body,
            app_id=None,
        )

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
