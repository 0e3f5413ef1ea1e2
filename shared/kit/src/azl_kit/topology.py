"""The broker objects of a service, with the namespace prefix, declared at start-up.

Every consumer queue is a durable quorum queue whose dead-letter exchange is ``{ns}.dlx``
(topic) and whose dead-letter routing key is its own name; its ``<queue>.dlq`` is bound
there with exactly that name, so the broker's own dead-lettering (``x-delivery-limit``) and
the pipeline's both land in it, and topic permissions can confine each service to its own
queues' names. RPC replies go through ``{ns}.replies`` (direct), where each caller binds its
reply queue under its own name, or, to a direct reply-to address, ``{ns}.direct-replies``
(topic), from which the reply relay (``azl_kit.reply_relay``) delivers them.

The five shared exchanges belong to the deployment, not to any service: the broker
definitions declare them (compose), the test fixtures and ``azl run`` declare them as the
operator (``declare_shared_exchanges``). A service only checks them (passive declaration)
and declares its own queues and their bindings; its broker user may not create, delete or
configure any exchange.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from azl_contracts.topology import (
    COMMANDS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    DIRECT_REPLIES_EXCHANGE,
    EVENTS_EXCHANGE,
    REPLIES_EXCHANGE,
    QueueSpec,
)

if TYPE_CHECKING:
    from .broker import Broker, Exchange

# A dead-letter queue is browsed by taking its messages unacknowledged and closing the
# channel (``azl dlq list``); on RabbitMQ 4.x every such return counts toward the queue's
# delivery limit, 20 by default, past which the broker drops the letter for good (a DLQ has
# no dead-letter exchange of its own). A limit no browsing reaches keeps them; a number, not
# 4.x's -1 (unlimited), because RabbitMQ 3.x accepts only a non-negative limit.
DEAD_LETTER_QUEUE_DELIVERY_LIMIT = 1_000_000_000


class ExchangeType(StrEnum):
    TOPIC = "topic"
    DIRECT = "direct"


@dataclass(frozen=True)
class ExchangeDeclaration:
    """A durable exchange; ``passive``: only checked to exist (``broker.EntityMissing``)."""

    name: str
    type: ExchangeType
    passive: bool = False


@dataclass(frozen=True)
class QueueDeclaration:
    """A durable quorum queue; ``passive``: only checked to exist."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    passive: bool = False


@dataclass(frozen=True)
class Topology:
    namespace: str
    delivery_limit: int = 20

    def name(self, relative: str) -> str:
        return f"{self.namespace}.{relative}"

    @property
    def commands(self) -> ExchangeDeclaration:
        return ExchangeDeclaration(self.name(COMMANDS_EXCHANGE), ExchangeType.TOPIC)

    @property
    def events(self) -> ExchangeDeclaration:
        return ExchangeDeclaration(self.name(EVENTS_EXCHANGE), ExchangeType.TOPIC)

    @property
    def dead_letters(self) -> ExchangeDeclaration:
        return ExchangeDeclaration(self.name(DEAD_LETTER_EXCHANGE), ExchangeType.TOPIC)

    @property
    def replies(self) -> ExchangeDeclaration:
        return ExchangeDeclaration(self.name(REPLIES_EXCHANGE), ExchangeType.DIRECT)

    @property
    def direct_replies(self) -> ExchangeDeclaration:
        return ExchangeDeclaration(self.name(DIRECT_REPLIES_EXCHANGE), ExchangeType.TOPIC)

    def exchanges(self) -> dict[str, ExchangeDeclaration]:
        """The shared exchanges, to be declared by the deployment."""
        return {
            e.name: e
            for e in (
                self.commands,
                self.events,
                self.dead_letters,
                self.replies,
                self.direct_replies,
            )
        }

    def exchange(self, relative: str) -> ExchangeDeclaration:
        return self.exchanges()[self.name(relative)]

    def queue(self, spec: QueueSpec) -> QueueDeclaration:
        return QueueDeclaration(
            self.name(spec.name),
            {
                "x-dead-letter-exchange": self.name(DEAD_LETTER_EXCHANGE),
                "x-dead-letter-routing-key": self.name(spec.name),
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
                "x-delivery-limit": self.delivery_limit,
            },
        )

    def dead_letter_queue(self, spec: QueueSpec) -> QueueDeclaration:
        return QueueDeclaration(
            self.name(spec.dead_letter_queue),
            {"x-delivery-limit": DEAD_LETTER_QUEUE_DELIVERY_LIMIT},
        )

    async def declare(self, broker: Broker, specs: tuple[QueueSpec, ...]) -> dict[str, Exchange]:
        """Check the shared exchanges (passively: the deployment declared them), declare each
        queue (on its consumer's channel), its DLQ and bindings; returns the exchanges to
        publish to by name."""
        exchanges = {
            e.name: await broker.declare_exchange(replace(e, passive=True))
            for e in self.exchanges().values()
        }
        # Replies stored in the outbox before they went through {ns}.replies name the default
        # exchange; same routing key (the reply queue), and services may not write there.
        exchanges[""] = exchanges[self.name(REPLIES_EXCHANGE)]
        dlx = exchanges[self.name(DEAD_LETTER_EXCHANGE)]
        for spec in specs:
            queue = await broker.declare_queue(self.queue(spec))
            source = exchanges[self.name(spec.exchange)]
            for binding in spec.bindings:
                await broker.bind(queue, source, binding)
            dead_letter_queue = await broker.declare_queue(self.dead_letter_queue(spec))
            await broker.bind(dead_letter_queue, dlx, self.name(spec.name))
        return exchanges
