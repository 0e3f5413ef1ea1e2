"""Authorisation: whether a decoded message may be believed, before anything acts on it.

Each check takes what arrived (the envelope: queue, routing key, publisher), the route it
resolved to and the validated message, and returns None when it allows the message or a
``Rejection`` saying why not (reason code ``forbidden``). The first refusal wins. The
pipeline turns a refusal into the command's rejection, a dead letter for an event, and a
``query.failed`` reply for a query; nothing else happens to the message.

The trust checks (``trust_checks``, PRODUCT.md §2 "Trust on the bus", the policy in
``azl_contracts.trust``) refuse a message that is not believable as sent: no ``user_id`` or
one the deployment's users do not include, a ``type`` that does not belong to the queue it
arrived on or whose routing key is not the one it arrived with, or a publisher that may not
send it (an event not its own, a command in a role it may not claim). Their refusal is an
``Untrusted`` rejection, which the pipeline also dead-letters with its reason, a command
and a query included, so an operator sees the attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from azl_contracts import Command, Message, ReasonCode, trust
from azl_contracts.topology import QueueSpec, exchange_for, routing_key_matches

from .envelope import Envelope
from .handlers import Route
from .outcomes import Rejection

Check = Callable[[Envelope, Route, Message], Rejection | None]


def actor_role_allowed(envelope: Envelope, route: Route, message: Message) -> Rejection | None:
    """A command's actor acts in a role the command accepts."""
    if isinstance(message, Command) and message.actor.role not in message.ALLOWED_ROLES:
        return Rejection(
            ReasonCode.FORBIDDEN,
            f"{message.actor.role.value} may not send {message.message_type()}",
            {"allowed_roles": sorted(r.value for r in message.ALLOWED_ROLES)},
        )
    return None


DEFAULT_CHECKS: tuple[Check, ...] = (actor_role_allowed,)


@dataclass(frozen=True)
class Untrusted(Rejection):
    """A refusal of the trust checks: the message is not believable as sent."""


def _untrusted(message: str, **details: object) -> Untrusted:
    return Untrusted(ReasonCode.FORBIDDEN, message, dict(details))


def known_publisher(user_prefix: str) -> Check:
    """The message carries a ``user_id`` and it is one of the deployment's publishers."""

    def check(envelope: Envelope, route: Route, message: Message) -> Rejection | None:
        if not envelope.user_id:
            return _untrusted("the message carries no user_id: its publisher is unknown")
        if trust.publisher_of(user_prefix, envelope.user_id) is None:
            return _untrusted(
                f"{envelope.user_id} is not a publisher of this deployment",
                user_id=envelope.user_id,
            )
        return None

    return check


def belongs_to_queue(queue: QueueSpec) -> Check:
    """The message's type is one the queue receives: its service's commands on a command
    queue, a type the queue binds on an event queue."""

    def check(envelope: Envelope, route: Route, message: Message) -> Rejection | None:
        kind = route.message
        on_own_exchange = exchange_for(kind) == queue.exchange
        bound = any(routing_key_matches(b, kind.routing_key()) for b in queue.bindings)
        if on_own_exchange and bound:
            return None
        return _untrusted(
            f"{kind.message_type()} does not belong to queue {envelope.queue}",
            queue=envelope.queue,
        )

    return check


def routing_key_of_type(envelope: Envelope, route: Route, message: Message) -> Rejection | None:
    """It arrived under the routing key of its type."""
    expected = route.message.routing_key()
    if envelope.routing_key == expected:
        return None
    if envelope.exchange == "" and envelope.routing_key == envelope.queue:
        # Straight into this queue through the default exchange: an operator's DLQ replay
        # (`azl dlq replay`). Only the operator and the reply relay may write there, and the
        # publisher checks still apply to the user_id it carries, so this is no way around them.
        return None
    return _untrusted(
        f"{route.message.message_type()} arrived with routing key {envelope.routing_key!r}, "
        f"not {expected!r}",
        routing_key=envelope.routing_key,
    )


def publisher_may_send(user_prefix: str) -> Check:
    """Its publisher may send it: an event its own, a command in a role it may claim."""

    def check(envelope: Envelope, route: Route, message: Message) -> Rejection | None:
        policy = trust.publisher_of(user_prefix, envelope.user_id)
        if policy is None:
            return _untrusted("the message's publisher is unknown", user_id=envelope.user_id)
        why_not = trust.may_send(policy, message)
        if why_not is None:
            return None
        return _untrusted(why_not, user_id=envelope.user_id, publisher=policy.name)

    return check


def trust_checks(queue: QueueSpec, user_prefix: str) -> tuple[Check, ...]:
    """The checks of a consumer of ``queue`` in a deployment whose users carry the prefix."""
    return (
        known_publisher(user_prefix),
        belongs_to_queue(queue),
        routing_key_of_type,
        publisher_may_send(user_prefix),
        actor_role_allowed,
    )


@dataclass(frozen=True)
class Authorisation:
    checks: Sequence[Check] = DEFAULT_CHECKS

    @classmethod
    def trusted(cls, queue: QueueSpec, user_prefix: str) -> Authorisation:
        return cls(trust_checks(queue, user_prefix))

    def __call__(self, envelope: Envelope, route: Route, message: Message) -> Rejection | None:
        for check in self.checks:
            refusal = check(envelope, route, message)
            if refusal is not None:
                return refusal
        return None
