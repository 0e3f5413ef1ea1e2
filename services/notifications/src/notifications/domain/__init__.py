"""The notifications domain: every business rule of the service, and no I/O, in four topics.

- ``plan``: what one event causes — the notifications per recipient (in-app inbox) and the
  deliveries per channel (email, webhook), with deterministic ids so that an event handled
  twice can never yield a second notification for the same recipient and channel;
- ``conversation``: messages and notes on an order, who may write what;
- ``subscriptions``: preferences, the inbox and webhook subscriptions, validated;
- ``policy``: deliveries — which failures are worth another attempt, and when.

Their names are gathered here, so a caller says ``domain.plan(...)`` whatever the topic.
"""

from .conversation import (
    BlankBody,
    BodyTooLong,
    ConversationEntry,
    EntryExists,
    EntryKind,
    KnownOrder,
    NotYourOrder,
    OrderNotKnown,
    add_note,
    checked_body,
    known,
    may_read_private_notes,
    post_message,
    published,
)
from .plan import (
    Delivery,
    DeliveryDraft,
    NotificationDraft,
    Plan,
    StaffDirectory,
    needs_customer,
    needs_subscribers,
    plan,
)
from .policy import (
    AttemptOutcome,
    Claimed,
    Decision,
    DeliveryPolicy,
    DeliveryStatus,
    SendResult,
    failure_reason,
    http_result,
    smtp_result,
)
from .subscriptions import (
    STAFF_INBOX,
    CustomerPreferences,
    EmailChannelWithoutAddress,
    InvalidEventPattern,
    NothingToMark,
    NotificationsNotFound,
    Subscription,
    SubscriptionExists,
    SubscriptionNotFound,
    WebhookIsNotACustomerChannel,
    inbox_of,
    marking,
    preferences_from,
    sees_every_subscription,
    subscription_from,
)

__all__ = [
    "STAFF_INBOX",
    "AttemptOutcome",
    "BlankBody",
    "BodyTooLong",
    "Claimed",
    "ConversationEntry",
    "CustomerPreferences",
    "Decision",
    "Delivery",
    "DeliveryDraft",
    "DeliveryPolicy",
    "DeliveryStatus",
    "EmailChannelWithoutAddress",
    "EntryExists",
    "EntryKind",
    "InvalidEventPattern",
    "KnownOrder",
    "NotYourOrder",
    "NothingToMark",
    "NotificationDraft",
    "NotificationsNotFound",
    "OrderNotKnown",
    "Plan",
    "SendResult",
    "StaffDirectory",
    "Subscription",
    "SubscriptionExists",
    "SubscriptionNotFound",
    "WebhookIsNotACustomerChannel",
    "add_note",
    "checked_body",
    "failure_reason",
    "http_result",
    "inbox_of",
    "known",
    "marking",
    "may_read_private_notes",
    "needs_customer",
    "needs_subscribers",
    "plan",
    "post_message",
    "preferences_from",
    "published",
    "sees_every_subscription",
    "smtp_result",
    "subscription_from",
]
