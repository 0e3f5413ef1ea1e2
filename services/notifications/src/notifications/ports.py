"""What the notifications handlers use of the outside world, one small port per topic, and
the unit of work that offers them all.

``storage`` implements them on PostgreSQL; the unit tests' fakes keep them in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from azl_contracts import ActorRole
from azl_kit.uow import UnitOfWorkPort

from .domain import (
    ConversationEntry,
    CustomerPreferences,
    DeliveryDraft,
    KnownOrder,
    NotificationDraft,
    Subscription,
)


class KnownOrders(Protocol):
    async def remember_order(self, order_id: UUID, customer_id: str, order_code: str) -> None: ...

    async def known_order(self, order_id: UUID) -> KnownOrder | None: ...


class Preferences(Protocol):
    async def preferences_of(self, customer_id: str) -> CustomerPreferences: ...

    async def save_preferences(self, preferences: CustomerPreferences) -> None: ...


class Inbox(Protocol):
    async def add_notification(self, draft: NotificationDraft) -> bool:
        """False when this event already notified this recipient with this template."""
        ...

    async def add_delivery(self, draft: DeliveryDraft) -> bool:
        """False when this event already went to this recipient on this channel."""
        ...

    async def mark_read(
        self, recipient_id: str | None, role: ActorRole, ids: Sequence[UUID] | None
    ) -> tuple[int, list[UUID]]:
        """How many went from unread to read, and the ids not in the recipient's inbox."""
        ...


class Conversation(Protocol):
    async def entry_exists(self, entry_id: UUID) -> bool: ...

    async def add_entry(self, entry: ConversationEntry) -> None: ...


class Subscriptions(Protocol):
    async def active_subscriptions(self) -> list[Subscription]: ...

    async def subscription_exists(self, subscription_id: UUID) -> bool: ...

    async def add_subscription(
        self, subscription: Subscription, secret: str, created_by: tuple[str, ActorRole]
    ) -> None: ...

    async def end_subscription(
        self, subscription_id: UUID, made_by: tuple[str, ActorRole] | None = None
    ) -> bool:
        """Deactivate it and cancel what it has pending; False if it is not active (or, with
        ``made_by``, was made by someone else)."""
        ...


class UnitOfWork(
    UnitOfWorkPort, KnownOrders, Preferences, Inbox, Conversation, Subscriptions, Protocol
):
    pass
