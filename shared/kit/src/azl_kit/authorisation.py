"""Authorisation: whether a decoded message may be believed, before anything acts on it.

Each check takes what arrived (the envelope: queue, routing key, publisher), the route it
resolved to and the validated message, and returns None when it allows the message or a
``Rejection`` saying why not (reason code ``forbidden``). The first refusal wins. The
pipeline turns a refusal into the command's rejection, a dead letter for an event, and a
``query.failed`` reply for a query; nothing else happens to the message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from azl_contracts import Command, Message, ReasonCode

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
class Authorisation:
    checks: Sequence[Check] = DEFAULT_CHECKS

    def __call__(self, envelope: Envelope, route: Route, message: Message) -> Rejection | None:
        for check in self.checks:
            refusal = check(envelope, route, message)
            if refusal is not None:
                return refusal
        return None
