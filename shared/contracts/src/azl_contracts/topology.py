"""Exchange and queue names of the platform, without the namespace prefix.

Every name here is prefixed with ``{ns}.`` when declared (``azl.orders.commands``), so several
deployments or test runs share one broker without touching each other's messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import complaints, fees, orders, payments
from .base import Command, Message, Query, registry

COMMANDS_EXCHANGE = "commands"
EVENTS_EXCHANGE = "events"
DEAD_LETTER_EXCHANGE = "dlx"
"""Topic: each DLQ is bound with exactly its queue's name, so topic permissions can let a
service dead-letter only its own queues' messages."""
REPLIES_EXCHANGE = "replies"
"""Direct: RPC replies. A caller binds its exclusive reply queue here with the queue's own
name as the routing key and sends that name as ``reply_to``; services publish replies here
and have no write on the default exchange (which would reach every queue)."""
DIRECT_REPLY_TO_PREFIX = "amq.rabbitmq.reply-to."
"""RabbitMQ's direct reply-to: a caller consuming ``amq.rabbitmq.reply-to`` sends requests
whose ``reply_to`` the broker rewrites to ``amq.rabbitmq.reply-to.<channel>.<key>``. Such a
reply is deliverable only through the default exchange, and a user allowed to write there
may put anything into any queue (topic permissions do not apply to it), so services never
get that right. They publish these replies to ``{ns}.direct-replies`` instead."""
DIRECT_REPLIES_EXCHANGE = "direct-replies"
"""Topic: services publish direct reply-to replies here under the reply-to key (topic
permissions let them use no other key); ``{ns}.reply-relay`` takes them."""
REPLY_RELAY_QUEUE = "reply-relay"
"""The reply relay's queue, bound to ``{ns}.direct-replies`` by ``amq.rabbitmq.reply-to.#``:
the relay, a process of its own with its own broker user, forwards each reply to the default
exchange under its reply-to key, which RabbitMQ never routes to a queue, and nothing else."""
DEAD_LETTER_SUFFIX = ".dlq"

SHARED_EXCHANGES: dict[str, str] = {
    COMMANDS_EXCHANGE: "topic",
    EVENTS_EXCHANGE: "topic",
    DEAD_LETTER_EXCHANGE: "topic",
    REPLIES_EXCHANGE: "direct",
    DIRECT_REPLIES_EXCHANGE: "topic",
}
"""The exchanges every service shares, with their types: declared (durable) by the
deployment — broker definitions, ``azl declare-topology``, the test fixtures —, only
checked by services, whose broker users may not create, delete or bind them."""

# Headers the broker adds to count a message's deliveries and record its dead-letterings.
# They describe its life in one queue: a message moved to a DLQ, or replayed from one,
# starts counting afresh, otherwise a replayed crash-loop letter would look poison again.
BROKER_DELIVERY_HEADERS = frozenset(
    {
        "x-delivery-count",
        "x-acquired-count",
        "x-death",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
        "x-last-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
    }
)

SERVICES = ("orders", "fees", "notifications", "complaints")


@dataclass(frozen=True)
class QueueSpec:
    """A consumer's durable queue: its name, the exchange it reads and its binding keys."""

    name: str
    exchange: str
    bindings: tuple[str, ...]
    service: str

    @property
    def dead_letter_queue(self) -> str:
        return self.name + DEAD_LETTER_SUFFIX


def exchange_for(message: type[Message]) -> str:
    """Commands and queries travel on the commands exchange, events on the events exchange."""
    return COMMANDS_EXCHANGE if issubclass(message, Command | Query) else EVENTS_EXCHANGE


def _commands(service: str) -> QueueSpec:
    """A service owns its command prefix: every ``<service>.*`` command reaches it."""
    return QueueSpec(f"{service}.commands", COMMANDS_EXCHANGE, (f"{service}.#",), service)


def _events(service: str, source: str, *messages: type[Message]) -> QueueSpec:
    """An event queue binds exactly the events its service handles, nothing broader, so a new
    event type elsewhere never reaches (and never dead-letters in) an unrelated service."""
    keys = tuple(dict.fromkeys(m.routing_key() for m in messages))
    return QueueSpec(f"{service}.{source}-events", EVENTS_EXCHANGE, keys, service)


_COMPLAINT_STEPS = (
    complaints.ComplaintOpened,
    complaints.ComplaintReviewStarted,
    complaints.ComplaintInfoRequested,
    complaints.ComplaintInfoProvided,
    complaints.ComplaintCommentAdded,
    complaints.ComplaintResolved,
    complaints.ComplaintWithdrawn,
)

QUEUES: dict[str, tuple[QueueSpec, ...]] = {
    "orders": (
        _commands("orders"),
        _events("orders", "payment", payments.DepositReceived, payments.PaymentReceived),
        _events("orders", "fee", fees.LedgerUpdated),
        _events("orders", "complaint", *_COMPLAINT_STEPS),
    ),
    "fees": (
        _commands("fees"),
        _events(
            "fees",
            "order",
            orders.OrderPlaced,
            orders.OrderDeposited,
            orders.QuantitiesIncreased,
            orders.ItemsConfirmed,
            orders.ItemsDeclined,
            orders.ServicesUpdated,
            orders.OrderCancelled,
            orders.OrderDelivered,
        ),
        _events(
            "fees",
            "payment",
            payments.DepositReceived,
            payments.PaymentReceived,
            payments.RefundPaid,
        ),
        _events("fees", "complaint", complaints.RefundApproved),
    ),
    "notifications": (
        _commands("notifications"),
        _events(
            "notifications",
            "order",
            orders.OrderPlaced,
            orders.OrderDeposited,
            orders.PurchasingStarted,
            orders.ItemsChanged,
            orders.OrderPurchased,
            orders.CancellationRequested,
            orders.CancellationRejected,
            orders.OrderCancelled,
            orders.ShippingAdvanced,
            orders.OrderDelivered,
        ),
        _events("notifications", "fee", fees.FeeCharged),
        _events("notifications", "complaint", *_COMPLAINT_STEPS),
    ),
    "complaints": (
        _commands("complaints"),
        _events(
            "complaints",
            "order",
            orders.OrderPlaced,
            orders.OrderStatusChanged,
            orders.QuantitiesIncreased,
            orders.ItemsConfirmed,
            orders.ItemsDeclined,
        ),
        _events("complaints", "ledger", fees.LedgerUpdated),
    ),
}


def queues_of(service: str) -> tuple[QueueSpec, ...]:
    return QUEUES[service]


def all_queues() -> list[QueueSpec]:
    return [queue for service in SERVICES for queue in QUEUES[service]]


def routing_key_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: ``*`` is one word, ``#`` is zero or more words."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head in ("*", words[0])) and _match(rest, words[1:])


def consumers_of(message: type[Message]) -> list[QueueSpec]:
    """The queues a message reaches: computed from bindings, so docs never drift."""
    exchange = exchange_for(message)
    return [
        queue
        for queue in all_queues()
        if queue.exchange == exchange
        and any(routing_key_matches(b, message.routing_key()) for b in queue.bindings)
    ]


def messages_for(queue: QueueSpec) -> list[type[Message]]:
    return [m for m in registry if queue in consumers_of(m)]


# A dead-letter queue is browsed by taking its messages unacknowledged and closing the
# channel (``azl dlq list``); on RabbitMQ 4.x every such return counts toward the queue's
# delivery limit, 20 by default, past which the broker drops the letter for good (a DLQ has
# no dead-letter exchange of its own). A limit no browsing reaches keeps them; a number, not
# 4.x's -1 (unlimited), because RabbitMQ 3.x accepts only a non-negative limit.
DEAD_LETTER_QUEUE_DELIVERY_LIMIT = 1_000_000_000
DEFAULT_DELIVERY_LIMIT = 20
"""The broker's own redelivery limit of a consumer queue (``x-delivery-limit``)."""


def queue_arguments(
    namespace: str, spec: QueueSpec, delivery_limit: int = DEFAULT_DELIVERY_LIMIT
) -> dict[str, object]:
    """A consumer queue's arguments (a durable quorum queue): its dead letters go to
    ``{ns}.dlx`` under its own name."""
    return {
        "x-dead-letter-exchange": f"{namespace}.{DEAD_LETTER_EXCHANGE}",
        "x-dead-letter-routing-key": f"{namespace}.{spec.name}",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        "x-delivery-limit": delivery_limit,
    }


def dead_letter_queue_arguments() -> dict[str, object]:
    return {"x-delivery-limit": DEAD_LETTER_QUEUE_DELIVERY_LIMIT}


@dataclass(frozen=True)
class Binding:
    exchange: str
    queue: str
    routing_key: str


def deployment_queues(namespace: str) -> list[tuple[str, dict[str, object]]]:
    """Every queue the deployment declares, with its arguments (all durable quorum queues):
    each consumer queue and its DLQ."""
    declared: list[tuple[str, dict[str, object]]] = []
    for spec in all_queues():
        declared.append((f"{namespace}.{spec.name}", queue_arguments(namespace, spec)))
        declared.append((f"{namespace}.{spec.dead_letter_queue}", dead_letter_queue_arguments()))
    return declared


def deployment_bindings(namespace: str) -> list[Binding]:
    """Every binding the deployment declares: each queue's keys on its exchange, each DLQ
    on ``{ns}.dlx`` by its queue's exact name."""
    bindings: list[Binding] = []
    for spec in all_queues():
        queue = f"{namespace}.{spec.name}"
        bindings += [Binding(f"{namespace}.{spec.exchange}", queue, b) for b in spec.bindings]
        bindings.append(
            Binding(f"{namespace}.{DEAD_LETTER_EXCHANGE}", queue + DEAD_LETTER_SUFFIX, queue)
        )
    return bindings
