"""In-memory stand-ins for the notifications ports (``notifications.ports``): the handlers'
rules proven without a broker or a database, as cosmicpython's ``FakeUnitOfWork`` does.

The unique constraints the tables carry (one notification per event, recipient and
template; one delivery per event, channel and recipient) are kept here too, by key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from azl_testing.fakes import FakeUnitOfWorkBase

from azl_contracts import ActorRole, Event
from notifications.domain import (
    ConversationEntry,
    CustomerPreferences,
    DeliveryDraft,
    KnownOrder,
    NotificationDraft,
    Subscription,
)

from .conftest import NOW


class FakeUnitOfWork(FakeUnitOfWorkBase):
    def __init__(self, now: datetime = NOW) -> None:
        super().__init__(now)
        self.orders: dict[UUID, KnownOrder] = {}
        self.preferences: dict[str, CustomerPreferences] = {}
        self.notifications: dict[tuple[UUID, str, str], NotificationDraft] = {}
        self.read: set[UUID] = set()
        self.deliveries: dict[tuple[UUID, str, str], DeliveryDraft] = {}
        self.entries: dict[UUID, ConversationEntry] = {}
        self.subscriptions: dict[UUID, tuple[Subscription, tuple[str, ActorRole]]] = {}
        self.ended: set[UUID] = set()

    def commit(self) -> list[Event]:
        return self.take_published()

    async def remember_order(self, order_id: UUID, customer_id: str, order_code: str) -> None:
        self.orders.setdefault(order_id, KnownOrder(order_id, customer_id, order_code))

    async def known_order(self, order_id: UUID) -> KnownOrder | None:
        return self.orders.get(order_id)

    async def preferences_of(self, customer_id: str) -> CustomerPreferences:
        return self.preferences.get(customer_id, CustomerPreferences(customer_id))

    async def save_preferences(self, preferences: CustomerPreferences) -> None:
        self.preferences[preferences.customer_id] = preferences

    async def add_notification(self, draft: NotificationDraft) -> bool:
        key = (draft.source_event_id, draft.recipient_id, draft.template)
        if key in self.notifications:
            return False
        self.notifications[key] = draft
        return True

    async def add_delivery(self, draft: DeliveryDraft) -> bool:
        key = (draft.source_event_id, draft.channel.value, draft.recipient)
        if key in self.deliveries:
            return False
        self.deliveries[key] = draft
        return True

    async def mark_read(
        self, recipient_id: str | None, role: ActorRole, ids: Sequence[UUID] | None
    ) -> tuple[int, list[UUID]]:
        mine = {
            n.notification_id
            for n in self.notifications.values()
            if n.recipient_id == recipient_id and n.recipient_role is role
        }
        missing = [] if ids is None else [i for i in ids if i not in mine]
        if missing:
            return 0, missing
        wanted = mine if ids is None else set(ids)
        newly = wanted - self.read
        self.read |= newly
        return len(newly), []

    async def entry_exists(self, entry_id: UUID) -> bool:
        return entry_id in self.entries

    async def add_entry(self, entry: ConversationEntry) -> None:
        self.entries[entry.entry_id] = entry

    async def active_subscriptions(self) -> list[Subscription]:
        return [s for i, (s, _) in self.subscriptions.items() if i not in self.ended]

    async def subscription_exists(self, subscription_id: UUID) -> bool:
        return subscription_id in self.subscriptions

    async def add_subscription(
        self, subscription: Subscription, secret: str, created_by: tuple[str, ActorRole]
    ) -> None:
        self.subscriptions[subscription.subscription_id] = (subscription, created_by)

    async def end_subscription(
        self, subscription_id: UUID, made_by: tuple[str, ActorRole] | None = None
    ) -> bool:
        kept = self.subscriptions.get(subscription_id)
        if kept is None or subscription_id in self.ended:
            return False
        if made_by is not None and kept[1] != made_by:
            return False
        self.ended.add(subscription_id)
        return True
