"""Preferences, the inbox and webhook subscriptions: what a customer chose, whose inbox an
actor reads, and which events a subscribed system asked for. Pure: no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID, uuid4

from azl_contracts import Actor, ActorRole
from azl_contracts import notifications as contract
from azl_contracts.common import Language
from azl_contracts.notifications import Channel
from azl_contracts.topology import routing_key_matches
from azl_kit.errors import Duplicate, NotFound, ValidationFailed
from notifications.rules import subscribable_routing_keys

STAFF_INBOX = "staff"
"""The recipient id of the shared staff inbox: every staff JWT reads it."""


class EmailChannelWithoutAddress(ValidationFailed):
    pass


class WebhookIsNotACustomerChannel(ValidationFailed):
    pass


class InvalidEventPattern(ValidationFailed):
    pass


class SubscriptionExists(Duplicate):
    pass


class SubscriptionNotFound(NotFound):
    pass


class NothingToMark(ValidationFailed):
    pass


class NotificationsNotFound(NotFound):
    pass


@dataclass(frozen=True)
class CustomerPreferences:
    customer_id: str
    email: str | None = None
    language: Language = Language.VI
    channels: frozenset[Channel] = frozenset({Channel.IN_APP})

    @property
    def wants_email(self) -> bool:
        return Channel.EMAIL in self.channels and bool(self.email)


@dataclass(frozen=True)
class Subscription:
    subscription_id: UUID
    url: str
    event_types: tuple[str, ...]

    def wants(self, routing_key: str) -> bool:
        return any(routing_key_matches(pattern, routing_key) for pattern in self.event_types)


def sees_every_subscription(role: ActorRole) -> bool:
    """Staff see every subscription and delivery; a system only the subscriptions it made
    and their webhooks (never another system's URLs, never a customer's email address)."""
    return role is ActorRole.STAFF


def preferences_from(command: contract.SetPreferences) -> CustomerPreferences:
    channels = frozenset(command.channels) | {Channel.IN_APP}  # the inbox is always on
    if Channel.WEBHOOK in channels:
        raise WebhookIsNotACustomerChannel(
            "webhooks are for subscribed systems; customers choose in_app and email"
        )
    if Channel.EMAIL in channels and not command.email:
        raise EmailChannelWithoutAddress("the email channel needs an email address")
    return CustomerPreferences(
        customer_id=command.actor.id,
        email=None if command.email is None else str(command.email),
        language=command.language,
        channels=channels,
    )


_WORD = r"(?:\*|#|[a-z0-9][a-z0-9_-]*)"
_PATTERN = re.compile(rf"^{_WORD}(?:\.{_WORD})*$")


def subscription_from(command: contract.SubscribeWebhook) -> Subscription:
    deliverable = subscribable_routing_keys()
    patterns = tuple(dict.fromkeys(p.strip() for p in command.event_types))
    for pattern in patterns:
        if not _PATTERN.match(pattern):
            raise InvalidEventPattern(
                f"{pattern!r} is not a routing-key pattern (words, * and #, joined by dots)",
                pattern=pattern,
            )
        if not any(routing_key_matches(pattern, key) for key in deliverable):
            raise InvalidEventPattern(
                f"{pattern!r} matches no event a webhook can receive",
                pattern=pattern,
                deliverable=deliverable,
            )
    return Subscription(
        subscription_id=command.subscription_id or uuid4(),
        url=str(command.url),
        event_types=patterns,
    )


def marking(command: contract.MarkRead) -> contract.MarkRead:
    if not command.all and not command.notification_ids:
        raise NothingToMark("give notification_ids, or all")
    return command


def inbox_of(actor: Actor) -> tuple[str | None, ActorRole]:
    """Whose inbox an actor reads: its own, or for staff the shared staff inbox."""
    if actor.role is ActorRole.STAFF:
        return STAFF_INBOX, ActorRole.STAFF
    return actor.id, actor.role
