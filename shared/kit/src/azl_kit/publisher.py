"""Publishes outgoing messages persistently, with publisher confirms, through FastStream."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange

from .outgoing import OutgoingMessage

PUBLISH_TIMEOUT_SECONDS = 10.0


class Publisher:
    def __init__(self, broker: RabbitBroker, exchanges: dict[str, RabbitExchange]) -> None:
        self._broker = broker
        self._exchanges = exchanges

    def _exchange(self, name: str) -> RabbitExchange:
        if not name:
            return RabbitExchange()
        exchange = self._exchanges.get(name)
        if exchange is None:
            exchange = RabbitExchange(name, type=ExchangeType.TOPIC, durable=True, declare=False)
        return exchange

    async def publish(self, message: OutgoingMessage) -> None:
        # persist=True: FastStream publishes transient messages unless told otherwise.
        await self._broker.publish(
            message.body,
            exchange=self._exchange(message.exchange),
            routing_key=message.routing_key,
            persist=True,
            mandatory=False,
            message_id=str(message.message_id),
            correlation_id=message.correlation_id,
            message_type=message.message_type,
            content_type="application/json",
            headers=message.amqp_headers(),
            timestamp=datetime.now(UTC),
            timeout=PUBLISH_TIMEOUT_SECONDS,
        )

    async def publish_raw(
        self,
        body: bytes,
        *,
        exchange: str,
        routing_key: str,
        properties: dict[str, Any],
        headers: dict[str, Any],
    ) -> None:
        """Re-publish a message as it came (dead-lettering, replay), keeping its properties."""
        await self._broker.publish(
            body,
            exchange=self._exchange(exchange),
            routing_key=routing_key,
            persist=True,
            mandatory=False,
            headers=headers,
            timeout=PUBLISH_TIMEOUT_SECONDS,
            **properties,
        )
