"""The broker objects of a service, with the namespace prefix, declared at start-up.

Every consumer queue is a durable quorum queue whose dead-letter exchange is ``{ns}.dlx``
(topic) and whose dead-letter routing key is its own name; its ``<queue>.dlq`` is bound
there with exactly that name, so the broker's own dead-lettering (``x-delivery-limit``) and
the pipeline's both land in it, and topic permissions can confine each service to its own
queues' names. RPC replies go through ``{ns}.replies`` (direct), where each caller binds its
reply queue under its own name, or, to a direct reply-to address, ``{ns}.direct-replies``
(topic), from which the reply relay (``azl_kit.reply_relay``) delivers them.

The topology belongs to the deployment, not to any service: the broker definitions declare
the five shared exchanges, every queue, DLQ and binding (compose); ``azl run``, ``azl
declare-topology`` and the test fixtures declare the same as the operator. A service only
checks that its exchanges and queues exist (passive declarations, which need no right) and
consumes and publishes; its broker user has no configure right at all. RabbitMQ's permission
regexes do not tell queues from exchanges, so a user allowed to declare its queues could
declare an exchange of the same name, bind it into ``{ns}.events`` (write on the destination,
read on the source) and publish any routing key through it; and one allowed to bind its
queues (read on the exchange) could bind ``{ns}.commands`` into ``{ns}.events``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from azl_contracts.topology import (
    COMMANDS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_QUEUE_DELIVERY_LIMIT,
    DEFAULT_DELIVERY_LIMIT,
    DIRECT_REPLIES_EXCHANGE,
    EVENTS_EXCHANGE,
    REPLIES_EXCHANGE,
    QueueSpec,
    dead_letter_queue_arguments,
    queue_arguments,
)

__all__ = ["DEAD_LETTER_QUEUE_DELIVERY_LIMIT", "ExchangeDeclaration", "QueueDeclaration"]

if TYPE_CHECKING:
    from .broker import Broker, Exchange


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
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT

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
        """A service's view of its queue: checked (the deployment declares it)."""
        return QueueDeclaration(
            self.name(spec.name),
            queue_arguments(self.namespace, spec, self.delivery_limit),
            passive=True,
        )

    def dead_letter_queue(self, spec: QueueSpec) -> QueueDeclaration:
        return QueueDeclaration(
            self.name(spec.dead_letter_queue), dead_letter_queue_arguments(), passive=True
        )

    def checked(self, specs: tuple[QueueSpec, ...]) -> tuple[list[str], list[str]]:
        """The exchanges and queues a service checks at start-up (the deployment's)."""
        queues = [self.name(n) for s in specs for n in (s.name, s.dead_letter_queue)]
        return list(self.exchanges()), queues

    async def declare(self, broker: Broker, specs: tuple[QueueSpec, ...]) -> dict[str, Exchange]:
        """Check, passively, the shared exchanges and each queue (on its consumer's channel):
        the deployment declared them and their bindings. Returns the exchanges to publish to
        by name."""
        exchanges = {
            e.name: await broker.declare_exchange(replace(e, passive=True))
            for e in self.exchanges().values()
        }
        # Replies stored in the outbox before they went through {ns}.replies name the default
        # exchange; same routing key (the reply queue), and services may not write there.
        exchanges[""] = exchanges[self.name(REPLIES_EXCHANGE)]
        for spec in specs:
            await broker.declare_queue(self.queue(spec))
        return exchanges
