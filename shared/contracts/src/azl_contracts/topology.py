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
deployment — broker definitions, ``azl declare-exchanges``, the test fixtures —, only
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
        _events("fees", "payment", payments.DepositReceived, payments.PaymentReceived),
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
