"""The broker objects of a service, with the namespace prefix, declared at start-up.

Every consumer queue is a durable quorum queue whose dead-letter exchange is ``{ns}.dlx``
and whose dead-letter routing key is its own name, so the broker's own dead-lettering
(``x-delivery-limit``) and the pipeline's both land in ``<queue>.dlq``.
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
    EVENTS_EXCHANGE,
    QueueSpec,
)


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
            self.name(DEAD_LETTER_EXCHANGE), type=ExchangeType.DIRECT, durable=True
        )

    def exchanges(self) -> dict[str, RabbitExchange]:
        return {e.name: e for e in (self.commands, self.events, self.dead_letters)}

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
        return RabbitQueue(
            self.name(spec.dead_letter_queue), queue_type=QueueType.QUORUM, durable=True
        )

    async def declare(
        self, broker: RabbitBroker, specs: tuple[QueueSpec, ...], channels: dict[str, Channel]
    ) -> dict[str, AbstractExchange]:
        """Declare exchanges, each queue (on its consumer's channel), its DLQ and bindings;
        returns the exchanges to publish to by name ("" is the default exchange)."""
        exchanges: dict[str, AbstractExchange] = {
            e.name: await broker.declare_exchange(e) for e in self.exchanges().values()
        }
        exchanges[""] = await broker.declare_exchange(RabbitExchange())
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
