"""The client: one robust connection, one confirming channel, one reply queue."""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from uuid import uuid4

import aio_pika
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from opentelemetry import propagate, trace
from pydantic import ValidationError
from yarl import URL

from azl_contracts import Command, Event, Message, Query, Reply, registry, trust, versions
from azl_contracts.base import UnknownMessageType
from azl_contracts.common import ReasonCode
from azl_contracts.outcomes import PROCESSING_FAILED, CommandOutcome, EventRef, QueryFailed
from azl_contracts.topology import (
    COMMANDS_EXCHANGE,
    EVENTS_EXCHANGE,
    REPLIES_EXCHANGE,
    exchange_for,
)

RECONNECT_SECONDS = 0.5
_tracer = trace.get_tracer("azl_client")


class NoReply(TimeoutError):
    """No outcome arrived in time (the command may still be processed: ask again with the
    same message id, and the platform answers with the outcome it kept)."""


@dataclass(frozen=True)
class Accepted:
    command_id: str
    command_type: str
    events: list[EventRef]
    result: dict[str, Any] | None

    @property
    def accepted(self) -> bool:
        return True


@dataclass(frozen=True)
class Rejected:
    command_id: str
    command_type: str
    reason_code: ReasonCode
    message: str
    details: dict[str, Any]

    @property
    def accepted(self) -> bool:
        return False


@dataclass(frozen=True)
class Failed:
    """Not a business rejection: the service could not process the command even after
    retrying (``processing_failed``) and kept it for an operator; nothing changed. Its real
    outcome follows on the same reply queue once it is replayed."""

    command_id: str
    command_type: str
    message: str
    details: dict[str, Any]

    @property
    def accepted(self) -> bool:
        return False


Outcome = Accepted | Rejected | Failed


class QueryRefused(Exception):
    """The query was answered with ``query.failed``."""

    def __init__(self, failed: QueryFailed) -> None:
        super().__init__(f"{failed.reason_code}: {failed.message}")
        self.failed = failed


@dataclass(frozen=True)
class RawReply:
    """A reply as it came: its properties and body."""

    correlation_id: str | None
    type: str | None
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Delivered:
    """An event as a subscriber receives it: the current version's model (a legacy version
    is upcast, as the services read it), with where and how it was published."""

    event: Event
    message_id: str
    message_type: str
    routing_key: str
    correlation_id: str | None
    causation_id: str | None
    user_id: str | None


class Client:
    def __init__(
        self,
        connection: AbstractRobustConnection,
        namespace: str,
        app_id: str,
        user: str,
        impersonating: str | None = None,
    ) -> None:
        self._connection = connection
        self.namespace = namespace
        self.app_id = app_id
        self.user = user
        self.impersonating = impersonating
        self._pending: dict[str, asyncio.Future[RawReply]] = {}

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        namespace: str = "azl",
        app_id: str = "azl-client",
        impersonating: str | None = None,
    ) -> Self:
        """``impersonating``: the deployment's user prefix, for a user RabbitMQ tags
        ``impersonator`` (a test harness, an operator's demo): each contract message is then
        stamped with the user of the publisher that sends it (``trust.publisher_for``)."""
        # aio-pika waits 5 s before reconnecting by default: a failover would pause that long
        connection = await aio_pika.connect_robust(url, reconnect_interval=RECONNECT_SECONDS)
        # the user the broker authenticated: the only user_id it lets this connection stamp
        client = cls(connection, namespace, app_id, URL(url).user or "guest", impersonating)
        try:
            await client._open()
        except BaseException:
            await connection.close()
            raise
        return client

    async def _open(self) -> None:
        self._channel = await self._connection.channel(publisher_confirms=True)
        self._exchanges: dict[str, AbstractExchange] = {
            relative: await self._channel.get_exchange(self._name(relative), ensure=False)
            for relative in (COMMANDS_EXCHANGE, EVENTS_EXCHANGE)
        }
        self._replies: AbstractQueue = await self._channel.declare_queue(
            exclusive=True, auto_delete=True
        )
        await self._replies.bind(self._name(REPLIES_EXCHANGE), routing_key=self._replies.name)
        await self._replies.consume(self._on_reply, no_ack=True)

    @property
    def reply_queue(self) -> str:
        return self._replies.name

    async def close(self) -> None:
        await self._connection.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def _name(self, relative: str) -> str:
        return f"{self.namespace}.{relative}"

    # --- commands and queries ----------------------------------------------------------

    async def send(
        self,
        command: Command,
        *,
        message_id: str | None = None,
        correlation_id: str | None = None,
        timeout: float = 20.0,
    ) -> Outcome:
        """Publish the command and wait for its one outcome."""
        reply = await self.request(
            command, message_id=message_id, correlation_id=correlation_id, timeout=timeout
        )
        outcome = CommandOutcome.model_validate_json(reply.body)
        if outcome.status == "accepted":
            return Accepted(
                str(outcome.command_id), outcome.command_type, outcome.events, outcome.result
            )
        if outcome.status == "failed" or outcome.reason_code == PROCESSING_FAILED:
            return Failed(
                str(outcome.command_id),
                outcome.command_type,
                outcome.message or "",
                outcome.details,
            )
        assert outcome.reason_code is not None
        return Rejected(
            str(outcome.command_id),
            outcome.command_type,
            outcome.reason_code,
            outcome.message or "",
            outcome.details,
        )

    async def ask(self, query: Query, *, timeout: float = 20.0) -> Reply:
        """Run a query; its reply model, or ``QueryRefused`` with the reason."""
        reply = await self.request(query, timeout=timeout)
        body = reply.json
        if isinstance(body, dict) and body.get("status") == "error":
            raise QueryRefused(QueryFailed.model_validate(body))
        answer = query.REPLY
        if answer is None:
            raise TypeError(f"{query.message_type()} names no reply model")
        return answer.model_validate(body)

    async def request(
        self,
        message: Message,
        *,
        message_id: str | None = None,
        correlation_id: str | None = None,
        timeout: float = 20.0,
    ) -> RawReply:
        """Publish with ``reply_to`` and wait for the reply, matched by correlation id."""
        return await self.request_raw(
            message.model_dump_json().encode(),
            routing_key=message.routing_key(),
            exchange=exchange_for(type(message)),
            message_type=message.message_type(),
            message_id=message_id,
            correlation_id=correlation_id,
            timeout=timeout,
            user_id=self.user_for(message),
        )

    def user_for(self, message: Message) -> str:
        """The ``user_id`` a message is stamped with: the connection's user, or, when
        impersonating, the user of the publisher that sends it."""
        if self.impersonating is None:
            return self.user
        return trust.user_name(self.impersonating, trust.publisher_for(message))

    async def request_raw(
        self,
        body: bytes,
        *,
        routing_key: str,
        timeout: float = 20.0,
        message_id: str | None = None,
        correlation_id: str | None = None,
        **properties: Any,
    ) -> RawReply:
        message_id = message_id or str(uuid4())
        correlation_id = correlation_id or message_id
        future: asyncio.Future[RawReply] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        try:
            await self.publish_raw(
                body,
                routing_key=routing_key,
                message_id=message_id,
                correlation_id=correlation_id,
                reply_to=self.reply_queue,
                **properties,
            )
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise NoReply(f"no reply to {message_id} within {timeout:g} s") from None
        finally:
            self._pending.pop(correlation_id, None)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._pending.get(message.correlation_id or "")
        if future is not None and not future.done():
            future.set_result(RawReply(message.correlation_id, message.type, message.body))

    # --- publishing --------------------------------------------------------------------

    async def emit(
        self, event: Event, *, message_id: str | None = None, correlation_id: str | None = None
    ) -> str:
        """Publish an event the caller's system owns (``payments.*``); returns its id."""
        return await self.publish(event, message_id=message_id, correlation_id=correlation_id)

    async def publish(
        self,
        message: Message,
        *,
        message_id: str | None = None,
        correlation_id: str | None = None,
        reply_to: str | None = None,
    ) -> str:
        """Publish a contract message without waiting for anything but the broker."""
        return await self.publish_raw(
            message.model_dump_json().encode(),
            routing_key=message.routing_key(),
            exchange=exchange_for(type(message)),
            message_type=message.message_type(),
            message_id=message_id,
            correlation_id=correlation_id,
            reply_to=reply_to,
            user_id=self.user_for(message),
        )

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
        """Any body on ``{ns}.<exchange>`` (``""``: the default exchange, straight to a
        queue), with the platform's properties; an empty ``message_id`` sends none.
        ``user_id``: the connection's user unless given ("" sends none).

        Traced when the application configured OpenTelemetry: the publish is a producer
        span (the root of the trace the platform carries on, or a child of the caller's
        current span) whose W3C trace context travels in the headers. Otherwise the
        caller's current context, if any, is passed on as it is."""
        message_id = message_id if message_id is not None else str(uuid4())
        target = self._exchanges.get(exchange) or self._channel.default_exchange
        headers = dict(headers or {})
        with _tracer.start_as_current_span(
            f"publish {self._name(exchange) if exchange else routing_key}",
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "rabbitmq",
                "messaging.operation.type": "send",
                "messaging.rabbitmq.destination.routing_key": routing_key,
                "messaging.message.id": message_id,
                "azl.message.type": message_type or "",
            },
        ):
            propagate.inject(headers)
            await target.publish(
                aio_pika.Message(
                    body,
                    message_id=message_id or None,
                    correlation_id=correlation_id,
                    type=message_type,
                    reply_to=reply_to,
                    headers=headers,
                    content_type=content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    timestamp=datetime.now(UTC),
                    app_id=self.app_id,
                    user_id=self.user if user_id is None else (user_id or None),
                ),
                routing_key=routing_key,
            )
        return message_id

    # --- events ------------------------------------------------------------------------

    def subscribe(self, *patterns: str, remember: int = 100_000) -> Subscription:
        """Events whose routing key matches one of ``patterns`` (``orders.order.#``), each
        message id once (the last ``remember`` ids are kept), as current models."""
        return Subscription(self._connection, self._name(EVENTS_EXCHANGE), patterns, remember)


@dataclass
class Subscription:
    """``async with client.subscribe(...) as events: async for delivered in events``."""

    connection: AbstractRobustConnection
    exchange: str
    patterns: Sequence[str]
    remember: int
    duplicates: int = 0
    _seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    _queue: asyncio.Queue[Delivered] = field(default_factory=asyncio.Queue)

    async def __aenter__(self) -> Subscription:
        self._channel = await self.connection.channel()
        queue = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        for pattern in self.patterns:
            await queue.bind(self.exchange, routing_key=pattern)
        await queue.consume(self._on_event)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._channel.close()

    def __aiter__(self) -> AsyncIterator[Delivered]:
        return self._events()

    async def _events(self) -> AsyncIterator[Delivered]:
        while True:
            yield await self._queue.get()

    async def next(self, timeout: float = 20.0) -> Delivered:
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def _on_event(self, message: AbstractIncomingMessage) -> None:
        async with message.process(ignore_processed=True):
            message_id = message.message_id or ""
            if message_id in self._seen:
                self.duplicates += 1
                return
            event = _decoded(message)
            if event is None:
                return
            self._seen[message_id] = None
            while len(self._seen) > self.remember:
                self._seen.popitem(last=False)
            causation = (message.headers or {}).get("x-causation-id")
            self._queue.put_nowait(
                Delivered(
                    event=event,
                    message_id=message_id,
                    message_type=message.type or "",
                    routing_key=message.routing_key or "",
                    correlation_id=message.correlation_id,
                    causation_id=None if causation is None else str(causation),
                    user_id=message.user_id,
                )
            )


def _decoded(message: AbstractIncomingMessage) -> Event | None:
    """The event's current model; None for a type this contracts version does not know."""
    try:
        model = registry.by_type(message.type or "")
        decoded = model.model_validate_json(message.body)
    except (UnknownMessageType, ValidationError):
        return None
    current = versions.upcast(decoded)
    return current if isinstance(current, Event) else None
