"""Trust on the bus: which publisher may send which message (PRODUCT.md §2).

Every publisher connects as its own broker user and stamps the AMQP ``user_id`` property
with it; RabbitMQ refuses a publish whose ``user_id`` is not the connection's user, so a
consumer may read the publisher off it. A deployment names its users once, by a prefix:
publisher ``p`` is the broker user ``<prefix><p>`` (``azl-orders``, ``azl-storefront``; the
prefix defaults to ``<namespace>-``). The broker definitions (``azl broker-definitions``),
compose and the services all read the same ``user_name``/``publisher_of``.

A message is believed only when its publisher may send it:

- an event only from the system that owns its name (``orders.*`` from orders,
  ``payments.*`` from the payments system);
- a command (or query) only from a publisher that may claim the role of its ``actor``
  (the storefront acts for customers and as a system, staff tools for staff, the warehouse
  system as a system for the warehouse steps only).

Adding a publisher is adding a ``PublisherPolicy`` to ``POLICIES`` (and its user to the
broker definitions, which come from ``PUBLISHERS``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import ActorRole, Command, Message, Query
from .topology import SERVICES


@dataclass(frozen=True)
class PublisherPolicy:
    """What one publisher may send."""

    name: str
    event_owners: frozenset[str] = frozenset()
    """The first segments of the event names it owns (``payments`` for ``payments.*``)."""
    roles: frozenset[ActorRole] = frozenset()
    """The actor roles it may claim in a command."""
    queries: bool = False
    """Whether it may ask queries (they change nothing, but cost work and read data)."""
    only_commands: frozenset[str] | None = None
    """When set, the only command names it may send (whatever the role)."""
    never_commands: frozenset[str] = frozenset()
    """Command names it may never send (another publisher's steps)."""
    notes: str = field(default="", compare=False)

    def may_publish_event(self, message: type[Message]) -> bool:
        return message.owner() in self.event_owners

    def may_send_command(self, message: type[Message], role: ActorRole) -> bool:
        if self.only_commands is not None and message.NAME not in self.only_commands:
            return False
        if message.NAME in self.never_commands:
            return False
        return role in self.roles


STOREFRONT = "storefront"
STAFF_TOOLS = "staff-tools"
WAREHOUSE = "warehouse"
PAYMENTS = "payments"

WAREHOUSE_STEPS = frozenset({"orders.record-package", "orders.advance-shipping"})
"""The commands the warehouse system sends, and the only ones."""

POLICIES: dict[str, PublisherPolicy] = {
    **{s: PublisherPolicy(s, event_owners=frozenset({s})) for s in SERVICES},
    PAYMENTS: PublisherPolicy(PAYMENTS, event_owners=frozenset({PAYMENTS})),
    STOREFRONT: PublisherPolicy(
        STOREFRONT,
        roles=frozenset({ActorRole.CUSTOMER, ActorRole.SYSTEM}),
        queries=True,
        never_commands=WAREHOUSE_STEPS,
        notes="acts for customers, and as a system (placing orders, webhooks), never staff",
    ),
    STAFF_TOOLS: PublisherPolicy(STAFF_TOOLS, roles=frozenset({ActorRole.STAFF}), queries=True),
    WAREHOUSE: PublisherPolicy(
        WAREHOUSE, roles=frozenset({ActorRole.SYSTEM}), only_commands=WAREHOUSE_STEPS
    ),
}

PUBLISHERS: tuple[str, ...] = tuple(POLICIES)
CLIENT_PUBLISHERS: tuple[str, ...] = (STOREFRONT, STAFF_TOOLS, WAREHOUSE)
"""Publishers of commands: broker users that may write to the commands exchange."""


def default_user_prefix(namespace: str) -> str:
    return f"{namespace}-"


def user_name(prefix: str, publisher: str) -> str:
    """The broker user of ``publisher`` in a deployment whose users carry ``prefix``."""
    return f"{prefix}{publisher}"


def publisher_of(prefix: str, user_id: str | None) -> PublisherPolicy | None:
    """The publisher a broker user is, or None when the mapping does not know it."""
    if not user_id or not user_id.startswith(prefix):
        return None
    return POLICIES.get(user_id[len(prefix) :])


def may_send(policy: PublisherPolicy, message: Message) -> str | None:
    """None when ``policy``'s publisher may send ``message``; otherwise why not."""
    kind = type(message)
    if isinstance(message, Command):
        if policy.may_send_command(kind, message.actor.role):
            return None
        return f"{policy.name} may not send {kind.NAME} as {message.actor.role.value}"
    if isinstance(message, Query):
        return None if policy.queries else f"{policy.name} may not ask {kind.NAME}"
    if policy.may_publish_event(kind):
        return None
    return f"{policy.name} may not publish {kind.NAME} (owned by {kind.owner()})"


def publisher_for(message: Message) -> str:
    """The publisher that sends ``message`` in the platform's own story (what a test client
    or the demo plays): an event's owner; a command by its actor (staff through the staff
    tools, a warehouse step by a system through the warehouse, any other through the
    storefront); a query through the storefront."""
    if isinstance(message, Command):
        role = message.actor.role
        if role is ActorRole.STAFF:
            return STAFF_TOOLS
        if role is ActorRole.SYSTEM and message.NAME in WAREHOUSE_STEPS:
            return WAREHOUSE
        return STOREFRONT
    if isinstance(message, Query):
        return STOREFRONT
    return message.owner()
