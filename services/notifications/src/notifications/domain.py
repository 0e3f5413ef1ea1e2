"""The notifications domain: every business rule of the service, and no I/O.

- ``plan``: what one event causes — the notifications per recipient (in-app inbox) and the
  deliveries per channel (email, webhook), with deterministic ids so that an event handled
  twice can never yield a second notification for the same recipient and channel;
- the conversation: messages and notes on an order, who may write what;
- preferences and webhook subscriptions, validated;
- deliveries: which failures are worth another attempt, and when.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4, uuid5

from azl_contracts import Actor, ActorRole, Event
from azl_contracts import notifications as contract
from azl_contracts.common import Language
from azl_contracts.notifications import MAX_BODY, Channel, NoteVisibility
from azl_contracts.topology import routing_key_matches
from azl_kit.errors import Duplicate, Forbidden, NotFound, ValidationFailed

from .rules import Audience, rules_for, subscribable_routing_keys
from .templates import Renderer

_IDS = UUID("5d0c6b8e-3f0e-4b59-9a53-6f0c1c2a7e11")
"""Namespace of the deterministic notification and delivery ids."""

STAFF_INBOX = "staff"
"""The recipient id of the shared staff inbox: every staff JWT reads it."""


# --- errors (business names; the kit turns them into reason codes) -------------------------


class OrderNotKnown(NotFound):
    """The order was never placed, as far as notifications has heard."""


class NotYourOrder(Forbidden):
    pass


class BlankBody(ValidationFailed):
    pass


class BodyTooLong(ValidationFailed):
    pass


class EntryExists(Duplicate):
    pass


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


# --- who the recipients are ----------------------------------------------------------------


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
class StaffDirectory:
    """Staff notifications go to the shared staff inbox and to these addresses."""

    emails: tuple[str, ...] = ()
    language: Language = Language.VI


@dataclass(frozen=True)
class Subscription:
    subscription_id: UUID
    url: str
    event_types: tuple[str, ...]

    def wants(self, routing_key: str) -> bool:
        return any(routing_key_matches(pattern, routing_key) for pattern in self.event_types)


# --- what an event causes ------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationDraft:
    notification_id: UUID
    recipient_id: str
    recipient_role: ActorRole
    order_id: UUID | None
    source_event_id: UUID
    source_event_type: str
    template: str
    language: Language
    title: str
    body: str
    channels: tuple[Channel, ...]
    created_at: datetime

    def created_event(self) -> contract.NotificationCreated:
        return contract.NotificationCreated(
            occurred_at=self.created_at,
            notification_id=self.notification_id,
            recipient=self.recipient_id,
            recipient_role=self.recipient_role,
            order_id=self.order_id,
            source_event_id=self.source_event_id,
            source_event_type=self.source_event_type,
            template=self.template,
            channels=list(self.channels),
            language=self.language,
        )


@dataclass(frozen=True)
class DeliveryDraft:
    delivery_id: UUID
    notification_id: UUID | None
    channel: Channel
    recipient: str
    target: str
    subscription_id: UUID | None
    order_id: UUID | None
    source_event_id: UUID
    source_event_type: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass
class Plan:
    notifications: list[NotificationDraft] = field(default_factory=list)
    deliveries: list[DeliveryDraft] = field(default_factory=list)

    def deliveries_of(self, notification_id: UUID) -> list[DeliveryDraft]:
        return [d for d in self.deliveries if d.notification_id == notification_id]

    @property
    def webhooks(self) -> list[DeliveryDraft]:
        return [d for d in self.deliveries if d.channel is Channel.WEBHOOK]


def _id(*parts: object) -> UUID:
    return uuid5(_IDS, "/".join(str(p) for p in parts))


def plan(
    event: Event,
    *,
    event_id: UUID,
    order_code: str,
    customer: CustomerPreferences | None,
    staff: StaffDirectory,
    subscriptions: Sequence[Subscription],
    renderer: Renderer,
    now: datetime,
) -> Plan:
    """Apply the rules table to one event. ``event_id`` (the event's message id) makes every
    id derived here the same each time the same event is planned."""
    result = Plan()
    order_id: UUID | None = getattr(event, "order_id", None)
    event_type = event.message_type()

    def notify(
        recipient_id: str,
        role: ActorRole,
        template: str,
        language: Language,
        emails: Sequence[tuple[str, str]],
    ) -> None:
        rendered = renderer.render(template, language, event, order_code=order_code)
        notification_id = _id(event_id, "notification", role.value, recipient_id, template)
        result.notifications.append(
            NotificationDraft(
                notification_id=notification_id,
                recipient_id=recipient_id,
                recipient_role=role,
                order_id=order_id,
                source_event_id=event_id,
                source_event_type=event_type,
                template=template,
                language=language,
                title=rendered.subject,
                body=rendered.text,
                channels=(Channel.IN_APP, Channel.EMAIL) if emails else (Channel.IN_APP,),
                created_at=now,
            )
        )
        for email_recipient, address in emails:
            result.deliveries.append(
                DeliveryDraft(
                    delivery_id=_id(event_id, Channel.EMAIL.value, email_recipient, template),
                    notification_id=notification_id,
                    channel=Channel.EMAIL,
                    recipient=email_recipient,
                    target=address,
                    subscription_id=None,
                    order_id=order_id,
                    source_event_id=event_id,
                    source_event_type=event_type,
                    payload={
                        "to": address,
                        "subject": rendered.subject,
                        "text": rendered.email_text,
                        "html": rendered.email_html,
                        "language": language.value,
                        "template": template,
                    },
                    created_at=now,
                )
            )

    for rule in rules_for(event):
        if rule.audience is Audience.CUSTOMER:
            assert rule.template is not None
            who = customer or CustomerPreferences(str(getattr(event, "customer_id", "")))
            emails: list[tuple[str, str]] = []
            if who.wants_email and who.email:
                emails.append((who.customer_id, who.email))
            notify(who.customer_id, ActorRole.CUSTOMER, rule.template, who.language, emails)
        elif rule.audience is Audience.STAFF:
            assert rule.template is not None
            notify(
                STAFF_INBOX,
                ActorRole.STAFF,
                rule.template,
                staff.language,
                [(address, address) for address in staff.emails],
            )
        else:
            for subscription in subscriptions:
                if subscription.wants(event.routing_key()):
                    result.deliveries.append(_webhook(event, event_id, order_id, subscription, now))
    return result


def needs_customer(event: Event) -> bool:
    return any(rule.audience is Audience.CUSTOMER for rule in rules_for(event))


def needs_subscribers(event: Event) -> bool:
    return any(rule.audience is Audience.SUBSCRIBERS for rule in rules_for(event))


def _webhook(
    event: Event, event_id: UUID, order_id: UUID | None, subscription: Subscription, now: datetime
) -> DeliveryDraft:
    delivery_id = _id(event_id, Channel.WEBHOOK.value, subscription.subscription_id)
    body = {
        "delivery_id": str(delivery_id),
        "subscription_id": str(subscription.subscription_id),
        "event_id": str(event_id),
        "event_type": event.message_type(),
        "routing_key": event.routing_key(),
        "data": event.model_dump(mode="json"),
    }
    return DeliveryDraft(
        delivery_id=delivery_id,
        notification_id=None,
        channel=Channel.WEBHOOK,
        recipient=str(subscription.subscription_id),
        target=subscription.url,
        subscription_id=subscription.subscription_id,
        order_id=order_id,
        source_event_id=event_id,
        source_event_type=event.message_type(),
        payload={"body": json.dumps(body, ensure_ascii=False, separators=(",", ":"))},
        created_at=now,
    )


# --- the conversation -------------------------------------------------------------------------


class EntryKind(StrEnum):
    MESSAGE = "message"
    NOTE = "note"


@dataclass(frozen=True)
class KnownOrder:
    order_id: UUID
    customer_id: str
    order_code: str


@dataclass(frozen=True)
class ConversationEntry:
    entry_id: UUID
    order_id: UUID
    kind: EntryKind
    visibility: NoteVisibility
    author: Actor
    body: str
    created_at: datetime

    @property
    def private(self) -> bool:
        return self.visibility is NoteVisibility.PRIVATE


def checked_body(body: str) -> str:
    text = body.strip()
    if not text:
        raise BlankBody("the body is empty")
    if len(text) > MAX_BODY:
        raise BodyTooLong(f"the body is over {MAX_BODY} characters", length=len(text))
    return text


def known(order: KnownOrder | None, order_id: UUID) -> KnownOrder:
    if order is None:
        raise OrderNotKnown(f"order {order_id} does not exist", order_id=str(order_id))
    return order


def post_message(
    command: contract.PostMessage, order: KnownOrder | None, now: datetime
) -> ConversationEntry:
    """A customer writes about its own order; staff about any order."""
    order = known(order, command.order_id)
    if command.actor.role is ActorRole.CUSTOMER and command.actor.id != order.customer_id:
        raise NotYourOrder("the order belongs to another customer", order_id=str(order.order_id))
    return ConversationEntry(
        entry_id=command.message_id or uuid4(),
        order_id=order.order_id,
        kind=EntryKind.MESSAGE,
        visibility=NoteVisibility.CUSTOMER,
        author=command.actor,
        body=checked_body(command.body),
        created_at=now,
    )


def add_note(
    command: contract.AddNote, order: KnownOrder | None, now: datetime
) -> ConversationEntry:
    order = known(order, command.order_id)
    if command.actor.role is not ActorRole.STAFF:  # the contract says so too
        raise Forbidden("only staff add notes")
    return ConversationEntry(
        entry_id=command.note_id or uuid4(),
        order_id=order.order_id,
        kind=EntryKind.NOTE,
        visibility=command.visibility,
        author=command.actor,
        body=checked_body(command.body),
        created_at=now,
    )


def published(entry: ConversationEntry, order: KnownOrder) -> Event | None:
    """The event an entry publishes; a private note publishes nothing, ever."""
    if entry.kind is EntryKind.MESSAGE:
        return contract.MessagePosted(
            occurred_at=entry.created_at,
            message_id=entry.entry_id,
            order_id=entry.order_id,
            customer_id=order.customer_id,
            author=entry.author,
            body=entry.body,
        )
    if entry.private:
        return None
    return contract.NoteAdded(
        occurred_at=entry.created_at,
        note_id=entry.entry_id,
        order_id=entry.order_id,
        customer_id=order.customer_id,
        author=entry.author,
        body=entry.body,
        visibility=entry.visibility,
    )


def sees_every_subscription(role: ActorRole) -> bool:
    """Staff see every subscription and delivery; a system only the subscriptions it made
    and their webhooks (never another system's URLs, never a customer's email address)."""
    return role is ActorRole.STAFF


def may_read_private_notes(role: ActorRole) -> bool:
    """Only staff: customers never, and neither do systems (a storefront is customer-facing)."""
    return role is ActorRole.STAFF


# --- preferences and subscriptions ------------------------------------------------------------


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


# --- deliveries ----------------------------------------------------------------------------------


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class AttemptOutcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class SendResult:
    """What one attempt gave: sent, or an error that is worth retrying or not."""

    ok: bool
    retryable: bool = False
    error: str | None = None
    status_code: int | None = None

    @classmethod
    def sent(cls, status_code: int | None = None) -> SendResult:
        return cls(ok=True, status_code=status_code)

    @classmethod
    def transient(cls, error: str, status_code: int | None = None) -> SendResult:
        return cls(ok=False, retryable=True, error=error, status_code=status_code)

    @classmethod
    def permanent(cls, error: str, status_code: int | None = None) -> SendResult:
        return cls(ok=False, retryable=False, error=error, status_code=status_code)


def http_result(status_code: int) -> SendResult:
    """2xx delivered; 408, 429 and 5xx are worth another attempt; any other answer is final."""
    if 200 <= status_code < 300:
        return SendResult.sent(status_code)
    error = f"HTTP {status_code}"
    if status_code >= 500 or status_code in (408, 429):
        return SendResult.transient(error, status_code)
    return SendResult.permanent(error, status_code)


def smtp_result(code: int, message: str) -> SendResult:
    """RFC 5321: a 4yz reply is transient (try again later), a 5yz reply is permanent."""
    error = f"SMTP {code} {message}".strip()[:500]
    if 400 <= code < 500:
        return SendResult.transient(error, code)
    if code >= 500:
        return SendResult.permanent(error, code)
    return SendResult.transient(error, code)


@dataclass(frozen=True)
class Decision:
    status: DeliveryStatus
    outcome: AttemptOutcome
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int
    base_delay: float
    max_delay: float

    def delay(self, attempt: int, jitter: float) -> timedelta:
        """Exponential backoff after attempt ``attempt`` (1-based); ``jitter`` in [0, 1)
        spreads it over the upper half, so many failures do not retry in step."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return timedelta(seconds=ceiling * (0.5 + jitter / 2))

    def after(
        self, attempt: int, result: SendResult, now: datetime, jitter: Callable[[], float]
    ) -> Decision:
        if result.ok:
            return Decision(DeliveryStatus.SENT, AttemptOutcome.SENT, None)
        if result.retryable and attempt < self.max_attempts:
            return Decision(
                DeliveryStatus.PENDING, AttemptOutcome.RETRY, now + self.delay(attempt, jitter())
            )
        return Decision(DeliveryStatus.FAILED, AttemptOutcome.FAILED, None)


def failure_reason(result: SendResult, attempt: int, policy: DeliveryPolicy) -> str:
    error = result.error or "unknown error"
    if result.retryable and attempt >= policy.max_attempts:
        return f"gave up after {attempt} attempts: {error}"
    return error
