"""Messages on their way out: built from contract models, stamped with the flow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from azl_contracts import Event, Message, Reply
from azl_contracts.topology import (
    DIRECT_REPLIES_EXCHANGE,
    DIRECT_REPLY_TO_PREFIX,
    REPLIES_EXCHANGE,
    exchange_for,
)

from .flow import FlowContext

CAUSATION_HEADER = "x-causation-id"


@dataclass(frozen=True)
class OutgoingMessage:
    exchange: str
    routing_key: str
    message_type: str
    body: bytes
    correlation_id: str
    causation_id: UUID | None = None
    message_id: UUID = field(default_factory=uuid4)
    headers: dict[str, Any] = field(default_factory=dict)

    def amqp_headers(self) -> dict[str, Any]:
        headers = dict(self.headers)
        if self.causation_id is not None:
            headers[CAUSATION_HEADER] = str(self.causation_id)
        return headers


def encode(message: Message) -> bytes:
    return message.model_dump_json().encode()


def routed(message: Event | Message, *, namespace: str, flow: FlowContext) -> OutgoingMessage:
    """An event (or command) published on its exchange under its routing key."""
    return OutgoingMessage(
        exchange=f"{namespace}.{exchange_for(type(message))}",
        routing_key=message.routing_key(),
        message_type=message.message_type(),
        body=encode(message),
        correlation_id=flow.correlation_id,
        causation_id=flow.causation_id,
    )


def reply(message: Reply, *, namespace: str, reply_to: str, flow: FlowContext) -> OutgoingMessage:
    """An RPC reply: ``{ns}.replies`` routes it to the caller's ``reply_to`` queue, which the
    caller bound there under its own name; a direct reply-to address goes to
    ``{ns}.direct-replies``, whose relay delivers it (services may not write to the default
    exchange, the only way to such an address)."""
    direct = reply_to.startswith(DIRECT_REPLY_TO_PREFIX)
    return OutgoingMessage(
        exchange=f"{namespace}.{DIRECT_REPLIES_EXCHANGE if direct else REPLIES_EXCHANGE}",
        routing_key=reply_to,
        message_type=message.message_type(),
        body=encode(message),
        correlation_id=flow.correlation_id,
        causation_id=flow.causation_id,
    )
