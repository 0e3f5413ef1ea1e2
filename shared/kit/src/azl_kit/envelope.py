"""What the pipeline reads off an incoming AMQP message before trusting its body (read by
``broker.envelope``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

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
    user_id: str | None = None
    """The publisher's broker user, as RabbitMQ validated it (``user_id`` property)."""

    def flow(self) -> FlowContext:
        """Messages caused by this one keep its correlation id and name it as their cause."""
        correlation = self.correlation_id or self.raw_message_id or ""
        return FlowContext(correlation_id=correlation, causation_id=self.message_id)


def text(value: str | None) -> str | None:
    """A property as it may be stored: PostgreSQL text refuses NUL, so it is replaced."""
    return None if value is None else value.replace("\x00", "\ufffd")


def idempotency_key(value: str | None) -> UUID | None:
    """The idempotency key, when the ``message_id`` property is a UUID."""
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def delivery_count(headers: dict[str, Any], redelivered: bool | None) -> int:
    """Quorum queues count redeliveries in ``x-delivery-count``; otherwise use the flag.

    Only the broker's own count is believed: RabbitMQ sets the header on a redelivery, but
    a first delivery (``redelivered`` false) carries whatever the publisher wrote, so a
    forged ``x-delivery-count`` cannot make it look like a crash loop."""
    if not redelivered:
        return 0
    count = headers.get("x-delivery-count")
    if isinstance(count, int):
        return count
    return 1 if redelivered else 0
