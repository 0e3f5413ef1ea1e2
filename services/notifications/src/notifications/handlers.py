"""One function per message the notifications service takes: load, call the domain, save.

Each runs in the pipeline's transaction: the notifications and the deliveries an event
causes are committed together with the inbox mark, and delivered afterwards by the
delivery worker (``delivery.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from uuid import UUID

from azl_contracts import Event, orders
from azl_contracts import notifications as contract
from azl_kit.handlers import Handlers
from azl_kit.waiting import Waits

from . import domain, targets
from .ports import UnitOfWork
from .rules import events_with_rules
from .templates import Renderer


@dataclass(frozen=True)
class Context:
    """What handlers need beyond the unit of work; built once, in ``app.py``."""

    staff: domain.StaffDirectory
    renderer: Renderer
    waits: Waits = field(default_factory=Waits)
    allow_private_webhook_targets: bool = False


async def apply_rules(event: Event, event_id: UUID, uow: UnitOfWork, context: Context) -> None:
    order_id: UUID | None = getattr(event, "order_id", None)
    known = None if order_id is None else await uow.known_order(order_id)
    order_code = getattr(event, "order_code", None) or (known.order_code if known else None)
    customer_id: str | None = getattr(event, "customer_id", None)
    plan = domain.plan(
        event,
        event_id=event_id,
        order_code=order_code or str(order_id or "")[:8],
        customer=(
            await uow.preferences_of(customer_id)
            if customer_id is not None and domain.needs_customer(event)
            else None
        ),
        staff=context.staff,
        subscriptions=(await uow.active_subscriptions() if domain.needs_subscribers(event) else []),
        renderer=context.renderer,
        now=uow.now(),
    )
    for notification in plan.notifications:
        if not await uow.add_notification(notification):
            continue  # this event already notified this recipient
        uow.publish(notification.created_event())
        for delivery in plan.deliveries_of(notification.notification_id):
            await uow.add_delivery(delivery)
    for webhook in plan.webhooks:
        await uow.add_delivery(webhook)


async def on_event(event: Event, uow: UnitOfWork, *, context: Context) -> None:
    """An event of another service: apply the rules to it (once: its message id is the key)."""
    assert uow.flow.causation_id is not None, "the pipeline names the message being handled"
    if isinstance(event, orders.OrderEvent):
        await uow.remember_order(event.order_id, event.customer_id, event.order_code)
    await apply_rules(event, uow.flow.causation_id, uow, context)


# --- the conversation ---------------------------------------------------------------------


async def _record(
    entry: domain.ConversationEntry,
    order: domain.KnownOrder,
    uow: UnitOfWork,
    context: Context,
) -> None:
    if await uow.entry_exists(entry.entry_id):
        raise domain.EntryExists(
            f"{entry.kind.value} {entry.entry_id} already exists", entry_id=str(entry.entry_id)
        )
    await uow.add_entry(entry)
    event = domain.published(entry, order)
    if event is not None:
        uow.publish(event)
        await apply_rules(event, entry.entry_id, uow, context)


async def _known_order(uow: UnitOfWork, order_id: UUID, context: Context) -> domain.KnownOrder:
    """The order, once its ``orders.order.placed`` event has arrived: a command sent right
    after ``place-order`` may overtake it, so it waits for it (``azl_kit.waiting``) before it
    is refused ``not_found``."""
    order = await uow.known_order(order_id)
    if order is None:
        context.waits.until(
            uow.flow.causation_id,
            domain.OrderNotKnown(f"order {order_id} does not exist", order_id=str(order_id)),
        )
    context.waits.done(uow.flow.causation_id)
    assert order is not None
    return order


async def post_message(
    command: contract.PostMessage, uow: UnitOfWork, *, context: Context
) -> contract.PostMessageResult:
    order = await _known_order(uow, command.order_id, context)
    entry = domain.post_message(command, order, uow.now())
    await _record(entry, domain.known(order, command.order_id), uow, context)
    return contract.PostMessageResult(message_id=entry.entry_id)


async def add_note(
    command: contract.AddNote, uow: UnitOfWork, *, context: Context
) -> contract.AddNoteResult:
    order = await _known_order(uow, command.order_id, context)
    entry = domain.add_note(command, order, uow.now())
    await _record(entry, domain.known(order, command.order_id), uow, context)
    return contract.AddNoteResult(note_id=entry.entry_id)


# --- preferences, inbox and subscriptions -----------------------------------------------------


async def set_preferences(command: contract.SetPreferences, uow: UnitOfWork) -> None:
    preferences = domain.preferences_from(command)
    await uow.save_preferences(preferences)
    uow.publish(
        contract.PreferencesUpdated(
            occurred_at=uow.now(),
            customer_id=preferences.customer_id,
            language=preferences.language,
            channels=sorted(preferences.channels),
            email_set=preferences.email is not None,
        )
    )


async def mark_read(command: contract.MarkRead, uow: UnitOfWork) -> contract.MarkReadResult:
    domain.marking(command)
    recipient_id, role = domain.inbox_of(command.actor)
    ids = None if command.all else list(dict.fromkeys(command.notification_ids))
    marked, missing = await uow.mark_read(recipient_id, role, ids)
    if missing:
        raise domain.NotificationsNotFound(
            "no such notification in your inbox", notification_ids=[str(i) for i in missing]
        )
    return contract.MarkReadResult(marked=marked)


async def subscribe_webhook(
    command: contract.SubscribeWebhook, uow: UnitOfWork, context: Context
) -> contract.SubscribeWebhookResult:
    subscription = domain.subscription_from(command)
    if not context.allow_private_webhook_targets:
        await targets.check_subscribable(subscription.url)
    if await uow.subscription_exists(subscription.subscription_id):
        raise domain.SubscriptionExists(
            f"subscription {subscription.subscription_id} already exists",
            subscription_id=str(subscription.subscription_id),
        )
    await uow.add_subscription(subscription, command.secret, (command.actor.id, command.actor.role))
    uow.publish(
        contract.WebhookSubscribed(
            occurred_at=uow.now(),
            subscription_id=subscription.subscription_id,
            url=subscription.url,
            event_types=list(subscription.event_types),
        )
    )
    return contract.SubscribeWebhookResult(subscription_id=subscription.subscription_id)


async def unsubscribe_webhook(command: contract.UnsubscribeWebhook, uow: UnitOfWork) -> None:
    actor = command.actor
    made_by = None if domain.sees_every_subscription(actor.role) else (actor.id, actor.role)
    if not await uow.end_subscription(command.subscription_id, made_by):
        raise domain.SubscriptionNotFound(
            f"no active subscription {command.subscription_id}",
            subscription_id=str(command.subscription_id),
        )
    uow.publish(
        contract.WebhookUnsubscribed(occurred_at=uow.now(), subscription_id=command.subscription_id)
    )


def build_handlers(context: Context) -> Handlers[UnitOfWork]:
    handlers: Handlers[UnitOfWork] = Handlers()
    handlers.add(contract.PostMessage, partial(post_message, context=context))
    handlers.add(contract.AddNote, partial(add_note, context=context))
    handlers.add(contract.SetPreferences, set_preferences)
    handlers.add(contract.MarkRead, mark_read)
    handlers.add(contract.SubscribeWebhook, partial(subscribe_webhook, context=context))
    handlers.add(contract.UnsubscribeWebhook, unsubscribe_webhook)
    for event in events_with_rules():
        if event.owner() != "notifications":  # its own events are applied where they happen
            handlers.add(event, partial(on_event, context=context))
    return handlers
