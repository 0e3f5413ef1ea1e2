"""One function per message the notifications service takes."""

from __future__ import annotations

from uuid import uuid4

from azl_contracts import ActorRole, orders
from azl_contracts import notifications as contract
from azl_contracts.notifications import Channel
from azl_kit.handlers import Handlers

from .rules import Recipient, rules_for
from .storage import NotificationsUnitOfWork
from .templates import render, values_of


async def remember_order(event: orders.OrderPlaced, uow: NotificationsUnitOfWork) -> None:
    await uow.remember_order(event.order_id, event.customer_id, event.order_code)


async def notify_customer(event: orders.OrderEvent, uow: NotificationsUnitOfWork) -> None:
    """Apply the rules of the event: one in-app notification per recipient, once."""
    assert uow.flow.causation_id is not None
    for rule in rules_for(event):
        if rule.recipient is not Recipient.CUSTOMER:
            continue
        language = await uow.language_of(event.customer_id)
        rendered = render(rule.template, language, values_of(event))
        notification_id = uuid4()
        created = await uow.add_notification(
            {
                "notification_id": notification_id,
                "recipient_id": event.customer_id,
                "recipient_role": ActorRole.CUSTOMER.value,
                "order_id": event.order_id,
                "source_event_id": uow.flow.causation_id,
                "source_event_type": event.message_type(),
                "template": rule.template,
                "language": language.value,
                "title": rendered.title,
                "body": rendered.body,
                "created_at": uow.now(),
            }
        )
        if created:
            uow.publish(
                contract.NotificationCreated(
                    occurred_at=uow.now(),
                    notification_id=notification_id,
                    recipient=event.customer_id,
                    recipient_role=ActorRole.CUSTOMER,
                    order_id=event.order_id,
                    source_event_id=uow.flow.causation_id,
                    source_event_type=event.message_type(),
                    template=rule.template,
                    channels=[Channel.IN_APP],
                )
            )


def build_handlers() -> Handlers[NotificationsUnitOfWork]:
    handlers: Handlers[NotificationsUnitOfWork] = Handlers()
    handlers.add(orders.OrderPlaced, remember_order)
    handlers.add(orders.OrderDeposited, notify_customer)
    handlers.add(orders.OrderCancelled, notify_customer)
    return handlers
