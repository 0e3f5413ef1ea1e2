"""Notifications: conversation, notes, preferences, webhooks and inbox (spec §6)."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import AnyHttpUrl, AwareDatetime, EmailStr, Field

from .base import Actor, ActorRole, Command, Event, Reply
from .common import Language
from .orders import CUSTOMER, CUSTOMER_OR_STAFF, STAFF

MAX_BODY = 10_000
BODY_RULE = (
    "Surrounding whitespace is stripped; what remains is not blank and at most 10,000 "
    "characters (checked by the service, so a body over it is a validation_error rejection)."
)


class Channel(StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"
    WEBHOOK = "webhook"


class NoteVisibility(StrEnum):
    PRIVATE = "private"
    CUSTOMER = "customer"


class PostMessage(Command):
    """A message in an order's conversation, between the customer and order staff."""

    NAME: ClassVar[str] = "notifications.post-message"
    ALLOWED_ROLES = CUSTOMER_OR_STAFF

    message_id: UUID | None = Field(
        default=None, description="Chosen by the caller to make retries safe; generated if absent."
    )
    order_id: UUID
    body: str = Field(description=BODY_RULE)


class AddNote(Command):
    """A staff note on an order: ``private`` notes are seen by staff only, ever."""

    NAME: ClassVar[str] = "notifications.add-note"
    ALLOWED_ROLES = STAFF

    note_id: UUID | None = Field(
        default=None, description="Chosen by the caller to make retries safe; generated if absent."
    )
    order_id: UUID
    body: str = Field(description=BODY_RULE)
    visibility: NoteVisibility


class SetPreferences(Command):
    """Replaces the customer's preferences. The in-app inbox is always on; ``email`` needs an
    address; webhooks are for subscribed systems, not a customer channel."""

    NAME: ClassVar[str] = "notifications.set-preferences"
    ALLOWED_ROLES = CUSTOMER

    email: EmailStr | None = None
    language: Language = Language.VI
    channels: list[Channel] = Field(default_factory=lambda: [Channel.IN_APP])


class SubscribeWebhook(Command):
    """A system subscribes a URL to events; each delivery is signed with ``secret``
    (HMAC-SHA256 over ``<timestamp>.<body>``, headers ``X-AZL-Timestamp`` and
    ``X-AZL-Signature: sha256=<hex>``)."""

    NAME: ClassVar[str] = "notifications.subscribe-webhook"
    ALLOWED_ROLES = frozenset({ActorRole.STAFF, ActorRole.SYSTEM})

    subscription_id: UUID | None = Field(
        default=None, description="Chosen by the caller to make retries safe; generated if absent."
    )
    url: AnyHttpUrl = Field(description="http or https")
    secret: str = Field(min_length=16, max_length=256)
    event_types: list[str] = Field(
        min_length=1, max_length=100, description="Routing-key patterns, e.g. orders.order.#"
    )


class UnsubscribeWebhook(Command):
    NAME: ClassVar[str] = "notifications.unsubscribe-webhook"
    ALLOWED_ROLES = frozenset({ActorRole.STAFF, ActorRole.SYSTEM})

    subscription_id: UUID


class MarkRead(Command):
    """Marks notifications of the actor's inbox read (staff share one staff inbox):
    the listed ones, or ``all``."""

    NAME: ClassVar[str] = "notifications.mark-read"
    ALLOWED_ROLES = CUSTOMER_OR_STAFF

    notification_ids: list[UUID] = Field(default_factory=list, max_length=500)
    all: bool = False


# --- replies (the ``result`` of an accepted command) -------------------------------------


class PostMessageResult(Reply):
    NAME: ClassVar[str] = "notifications.post-message.result"

    message_id: UUID


class AddNoteResult(Reply):
    NAME: ClassVar[str] = "notifications.add-note.result"

    note_id: UUID


class SubscribeWebhookResult(Reply):
    NAME: ClassVar[str] = "notifications.subscribe-webhook.result"

    subscription_id: UUID


class MarkReadResult(Reply):
    NAME: ClassVar[str] = "notifications.mark-read.result"

    marked: int = Field(description="How many notifications went from unread to read.")


class NotificationsEvent(Event):
    occurred_at: AwareDatetime


class MessagePosted(NotificationsEvent):
    NAME: ClassVar[str] = "notifications.message.posted"

    message_id: UUID
    order_id: UUID
    customer_id: str
    author: Actor
    body: str


class NoteAdded(NotificationsEvent):
    """Only customer-visible notes are published; private notes never leave the service."""

    NAME: ClassVar[str] = "notifications.note.added"

    note_id: UUID
    order_id: UUID
    customer_id: str
    author: Actor
    body: str
    visibility: NoteVisibility


class PreferencesUpdated(NotificationsEvent):
    NAME: ClassVar[str] = "notifications.preferences.updated"

    customer_id: str
    language: Language
    channels: list[Channel]
    email_set: bool


class NotificationCreated(NotificationsEvent):
    NAME: ClassVar[str] = "notifications.notification.created"

    notification_id: UUID
    recipient: str
    recipient_role: ActorRole
    order_id: UUID | None = None
    source_event_id: UUID
    source_event_type: str
    template: str
    channels: list[Channel]
    language: Language | None = None


class DeliveryFailed(NotificationsEvent):
    """An email or webhook delivery gave up: a permanent refusal (SMTP 5yz, HTTP 4xx) or the
    retry limit reached. Webhook deliveries belong to no notification."""

    NAME: ClassVar[str] = "notifications.delivery.failed"

    notification_id: UUID | None = None
    delivery_id: UUID
    channel: Channel
    target: str
    attempts: int
    last_error: str
    recipient: str | None = None
    subscription_id: UUID | None = None
    order_id: UUID | None = None
    source_event_id: UUID | None = None
    source_event_type: str | None = None


class WebhookSubscribed(NotificationsEvent):
    NAME: ClassVar[str] = "notifications.webhook.subscribed"

    subscription_id: UUID
    url: str
    event_types: list[str]


class WebhookUnsubscribed(NotificationsEvent):
    NAME: ClassVar[str] = "notifications.webhook.unsubscribed"

    subscription_id: UUID
