"""Publishes outgoing messages persistently, with publisher confirms.

FastStream connects, declares the exchanges (on its channel with publisher confirms) and
keeps them across reconnects; the outbox publishes through those robust aio-pika exchange
objects directly (``broker.publish``), which on the per-message path costs far less than
FastStream's publish pipeline (``docs/decisions/0001-faststream-at-arms-length.md``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import broker, tracing
from .outgoing import OutgoingMessage

if TYPE_CHECKING:
    from .broker import Exchange


class Publisher:
    def __init__(self, app_id: str, user_id: str | None = None) -> None:
        """``user_id``: the connection's broker user, stamped on every message (RabbitMQ
        refuses any other), which tells consumers who published it."""
        self._app_id = app_id
        self._user_id = user_id
        self._exchanges: dict[str, Exchange] = {}

    def bind(self, exchanges: dict[str, Exchange]) -> None:
        """The declared exchanges, by name ("" for the default exchange)."""
        self._exchanges = exchanges

    async def publish(self, message: OutgoingMessage) -> None:
        headers = message.amqp_headers()
        message_id = str(message.message_id)
        with tracing.publishing(
            exchange=message.exchange,
            routing_key=message.routing_key,
            message_type=message.message_type,
            message_id=message_id,
            headers=headers,
        ):
            await broker.publish(
                self._exchanges[message.exchange],
                message.body,
                routing_key=message.routing_key,
                headers=headers,
                app_id=self._app_id,
                user_id=self._user_id,
                message_id=message_id,
                correlation_id=message.correlation_id,
                message_type=message.message_type,
                timestamp=datetime.now(UTC),
                content_type="application/json",
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
        """Re-publish a message as it came (dead-lettering), keeping its properties and its
        trace context (a replay carries on the trace it came from)."""
        with tracing.publishing(
            exchange=exchange,
            routing_key=routing_key,
            message_type=properties.get("message_type"),
            message_id=properties.get("message_id"),
            headers=headers,
            as_it_came=True,
        ):
            await broker.publish(
                self._exchanges[exchange],
                body,
                routing_key=routing_key,
                headers=headers,
                app_id=self._app_id,
                user_id=self._user_id,
                message_id=properties.get("message_id"),
                correlation_id=properties.get("correlation_id"),
                message_type=properties.get("message_type"),
                timestamp=properties.get("timestamp"),
                content_type=properties.get("content_type"),
                reply_to=properties.get("reply_to"),
            )
