"""What one event causes: the notifications per recipient (in-app inbox) and the deliveries
per channel (email, webhook), with ids derived from the event, so that an event handled
twice can never yield a second notification for the same recipient and channel. Pure: no
I/O."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from azl_contracts import ActorRole, Event
from azl_contracts import notifications as contract
from azl_contracts.common import Language
from azl_contracts.notifications import Channel
from notifications.rules import Audience, rules_for
from notifications.templates import Renderer

from .subscriptions import STAFF_INBOX, CustomerPreferences, Subscription

_IDS = UUID("5d0c6b8e-3f0e-4b59-9a53-6f0c1c2a7e11")
"""Namespace of the deterministic notification and delivery ids."""


@dataclass(frozen=True)
class StaffDirectory:
    """Staff notifications go to the shared staff inbox and to these addresses."""

    emails: tuple[str, ...] = ()
    language: Language = Language.VI


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


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """One email or webhook: where it goes and what caused it. The one row type of a
    delivery: the plan drafts it, the worker claims it, the read API lists it."""

    delivery_id: UUID
    notification_id: UUID | None
    channel: Channel
    recipient: str
    target: str
    subscription_id: UUID | None
    order_id: UUID | None
    source_event_id: UUID
    source_event_type: str


@dataclass(frozen=True, kw_only=True)
class DeliveryDraft(Delivery):
    """A delivery an event asks for: what to send, due from when it was drafted."""

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
