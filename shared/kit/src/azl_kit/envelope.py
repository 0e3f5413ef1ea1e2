"""What the pipeline reads off an incoming AMQP message before trusting its body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from aio_pika.abc import AbstractIncomingMessage

from .flow import FlowContext


@dataclass(frozen=True)
class Envelope:
    queue: str
    body: bytes
    raw_message_id: str | None
    message_id: UUID | None
    correlation_id: str | None
    message_type: str | None
    reply_to: str | None
    content_type: str | None
    app_id: str | None
    exchange: str
    routing_key: str
    headers: dict[str, Any]
    delivery_count: int
    properties: dict[str, Any]

    @classmethod
    def read(cls, raw: AbstractIncomingMessage, queue: str) -> Envelope:
        headers = dict(raw.headers or {})
        return cls(
            queue=queue,
            body=raw.body,
            raw_message_id=raw.message_id,
            message_id=_uuid(raw.message_id),
            correlation_id=raw.correlation_id,
            message_type=raw.type,
            reply_to=raw.reply_to or None,
            content_type=raw.content_type,
            app_id=raw.app_id,
            exchange=raw.exchange or "",
            routing_key=raw.routing_key or "",
            headers=headers,
            delivery_count=_delivery_count(headers, raw.redelivered),
            properties={
                "message_id": raw.message_id,
                "correlation_id": raw.correlation_id,
                "message_type": raw.type,
                "reply_to": raw.reply_to,
                "content_type": raw.content_type,
                "timestamp": raw.timestamp,
            },
        )

    def flow(self) -> FlowContext:
        """Messages caused by this one keep its correlation id and name it as their cause."""
        correlation = self.correlation_id or self.raw_message_id or ""
        return FlowContext(correlation_id=correlation, causation_id=self.message_id)


def _uuid(value: str | None) -> UUID | None:
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def _delivery_count(headers: dict[str, Any], redelivered: bool | None) -> int:
    """Quorum queues count redeliveries in ``x-delivery-count``; otherwise use the flag."""
    count = headers.get("x-delivery-count")
    if isinstance(count, int):
        return count
    return 1 if redelivered else 0
