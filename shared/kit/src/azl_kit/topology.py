"""The broker objects of a service, with the namespace prefix, declared at start-up.

Every consumer queue is a durable quorum queue whose dead-letter exchange is ``{ns}.dlx``
(topic) and whose dead-letter routing key is its own name; its ``<queue>.dlq`` is bound
there with exactly that name, so the broker's own dead-lettering (``x-delivery-limit``) and
the pipeline's both land in it, and topic permissions can confine each service to its own
queues' names. RPC replies go through ``{ns}.replies`` (direct), where each caller binds its
reply queue under its own name, or, to a direct reply-to address, ``{ns}.direct-replies``
(topic), from which the reply relay (``azl_kit.reply_relay``) delivers them.
"""

from __future__ import annotations

from dataclasses import dataclass

from aio_pika.abc import AbstractExchange
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
)
from faststream.rabbit.schemas.queue import QuorumQueueArgs

from azl_contracts.topology import (
    COMMANDS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    DIRECT_REPLIES_EXCHANGE,
    EVENTS_EXCHANGE,
    REPLIES_EXCHANGE,
    QueueSpec,
)

# A dead-letter queue is browsed by taking its messages unacknowledged and closing the
# channel (``azl dlq list``); on RabbitMQ 4.x every such return counts toward the queue's
# delivery limit, 20 by default, past which the broker drops the letter for good (a DLQ has
# no dead-letter exchange of its own). A limit no browsing reaches keeps them; a number, not
# 4.x's -1 (unlimited), because RabbitMQ 3.x accepts only a non-negative limit.
DEAD_LETTER_QUEUE_DELIVERY_LIMIT = 1_000_000_000


@dataclass(frozen=True)
class Topology:
    namespace: str
    delivery_limit: int = 20

    def name(self, relative: str) -> str:
        return f"{self.namespace}.{relative}"

    @property
    def commands(self) -> RabbitExchange:
        return RabbitExchange(self.name(COMMANDS_EXCHANGE), type=ExchangeType.TOPIC, durable=True)

    @property
    def events(self) -> RabbitExchange:
        return RabbitExchange(self.name(EVENTS_EXCHANGE), type=ExchangeType.TOPIC, durable=True)

    @property
    def dead_letters(self) -> RabbitExchange:
        return RabbitExchange(
            self.name(DEAD_LETTER_EXCHANGE), type=ExchangeType.TOPIC, durable=True
        )

    @property
    def replies(self) -> RabbitExchange:
        return RabbitExchange(self.name(REPLIES_EXCHANGE), type=ExchangeType.DIRECT, durable=True)

    @property
    def direct_replies(self) -> RabbitExchange:
        return RabbitExchange(
            self.name(DIRECT_REPLIES_EXCHANGE), type=ExchangeType.TOPIC, durable=True
        )

    def exchanges(self) -> dict[str, RabbitExchange]:
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

    def exchange(self, relative: str) -> RabbitExchange:
        return self.exchanges()[self.name(relative)]

    def queue(self, spec: QueueSpec) -> RabbitQueue:
        arguments: QuorumQueueArgs = {
            "x-dead-letter-exchange": self.name(DEAD_LETTER_EXCHANGE),
            "x-dead-letter-routing-key": self.name(spec.name),
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
            "x-delivery-limit": self.delivery_limit,
        }
        return RabbitQueue(self.name(spec.name), queue_type=QueueType.QUORUM, arguments=arguments)

    def dead_letter_queue(self, spec: QueueSpec) -> RabbitQueue:
        arguments: QuorumQueueArgs = {"x-delivery-limit": DEAD_LETTER_QUEUE_DELIVERY_LIMIT}
        return RabbitQueue(
            self.name(spec.dead_letter_queue),
            queue_type=QueueType.QUORUM,
            durable=True,
            arguments=arguments,
        )

    async def declare(
        self, broker: RabbitBroker, specs: tuple[QueueSpec, ...], channels: dict[str, Channel]
    ) -> dict[str, AbstractExchange]:
        """Declare exchanges, each queue (on its consumer's channel), its DLQ and bindings;
        returns the exchanges to publish to by name."""
        exchanges: dict[str, AbstractExchange] = {
            e.name: await broker.declare_exchange(e) for e in self.exchanges().values()
        }
        # Replies stored in the outbox before they went through {ns}.replies name the default
        # exchange; same routing key (the reply queue), and services may not write there.
        exchanges[""] = exchanges[self.name(REPLIES_EXCHANGE)]
        dlx = exchanges[self.name(DEAD_LETTER_EXCHANGE)]
        for spec in specs:
            declarer = broker.config.declarer
            queue = await declarer.declare_queue(self.queue(spec), channel=channels[spec.name])
            source = exchanges[self.name(spec.exchange)]
            for binding in spec.bindings:
                await queue.bind(source, routing_key=binding)
            dead_letter_queue = await broker.declare_queue(self.dead_letter_queue(spec))
            await dead_letter_queue.bind(dlx, routing_key=self.name(spec.name))
        return exchanges
