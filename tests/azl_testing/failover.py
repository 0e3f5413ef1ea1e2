"""An observer of a RabbitMQ cluster through a node loss, for the failover tests (the local
cluster's and the compose ``cluster`` profile's): every event, on a durable quorum queue of
its own (it survives the node loss), and publishing with confirms, retrying through the
failover, as an impersonator stamping each message's publisher."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage, AbstractRobustConnection

from azl_contracts import Message, trust
from azl_kit import broker

from .bus import Received


class FailoverObserver:
    """Connects to ``url`` as an impersonator; the namespace's ``events`` and ``commands``
    exchanges are declared (``declare_exchanges``: the test is the operator) or only looked
    up (a deployment's definitions made them); ``user_for`` names the broker user of a
    publisher (``azl_contracts.trust.publisher_for``), stamped as each message's user."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str,
        queue_name: str,
        user_for: Callable[[str], str],
        declare_exchanges: bool,
    ) -> None:
        self.url = url
        self.namespace = namespace
        self.queue_name = queue_name
        self.user_for = user_for
        self.declare_exchanges = declare_exchanges
        self.events: list[Received] = []
        self.connection: AbstractRobustConnection | None = None

    async def start(self) -> FailoverObserver:
        # reconnecting as soon as the services do: the pause it sees is theirs, not its own
        self.connection = await aio_pika.connect_robust(
            self.url, reconnect_interval=broker.RECONNECT_SECONDS
        )
        channel = await self.connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=500)

        async def exchange(name: str) -> AbstractExchange:
            full = f"{self.namespace}.{name}"
            if self.declare_exchanges:
                return await channel.declare_exchange(
                    full, aio_pika.ExchangeType.TOPIC, durable=True
                )
            return await channel.get_exchange(full, ensure=False)

        self._events = await exchange("events")
        self._commands = await exchange("commands")
        queue = await channel.declare_queue(
            self.queue_name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(self._events, routing_key="#")
        await queue.consume(self._record)
        return self

    async def _record(self, message: AbstractIncomingMessage) -> None:
        self.events.append(Received.of(message))
        await message.ack()

    async def publish(self, message: Message, message_id: str) -> int:
        """Publish with confirms, retrying through a failover as the services do (a refused
        publish renews the channel: ``azl_kit.broker.publish``); returns the attempts it
        took."""
        target = self._commands if message.KIND.value == "command" else self._events
        deadline = time.monotonic() + 60
        for attempt in itertools.count(1):
            try:
                await broker.publish(
                    target,
                    message.model_dump_json().encode(),
                    routing_key=message.routing_key(),
                    headers={},
                    app_id="failover-observer",
                    message_id=message_id,
                    correlation_id=None,
                    message_type=message.message_type(),
                    timestamp=None,
                    content_type="application/json",
                    user_id=self.user_for(trust.publisher_for(message)),
                )
                return attempt
            except Exception as error:
                if time.monotonic() > deadline:
                    raise RuntimeError("could not publish through the failover") from error
                await asyncio.sleep(0.05)
        raise AssertionError("unreachable")

    def per_order(self, event_type: str, order_ids: set[str]) -> dict[str, set[str | None]]:
        """The message ids of the events of ``event_type`` (a prefix) for each order."""
        found: dict[str, set[str | None]] = {order_id: set() for order_id in order_ids}
        for event in list(self.events):
            if (event.type or "").startswith(event_type):
                order_id = event.json.get("order_id")
                if order_id in found:
                    found[order_id].add(event.message_id)
        return found

    async def close(self) -> None:
        if self.connection is not None:
            channel = await self.connection.channel()
            await channel.queue_delete(self.queue_name)
            await self.connection.close()
