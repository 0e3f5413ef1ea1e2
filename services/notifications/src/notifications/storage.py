"""Notifications tables, the unit of work, and the delivery worker's claims and records.

Unique constraints carry "one event gives one notification per recipient and channel":
``notifications_once`` (event, recipient, template) for the inbox, ``deliveries_once``
(event, channel, recipient) for email and webhooks — whatever happens to the message that
carried the event. Ids are derived from the event (``domain.plan``), so a second try of the
same event collides with the first rather than adding to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    and_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from azl_contracts import ActorRole
from azl_contracts.common import Language
from azl_contracts.notifications import Channel
from azl_kit import tracing
from azl_kit.tables import messaging_tables
from azl_kit.uow import UnitOfWork

from .domain import (
    AttemptOutcome,
    Claimed,
    ConversationEntry,
    CustomerPreferences,
    Decision,
    DeliveryDraft,
    DeliveryStatus,
    KnownOrder,
    NotificationDraft,
    SendResult,
    Subscription,
)

metadata = MetaData()
messaging_tables(metadata)

order_recipients_table = Table(
    "order_recipients",
    metadata,
    Column("order_id", Uuid, primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("order_code", Text, nullable=False),
)

preferences_table = Table(
    "preferences",
    metadata,
    Column("customer_id", Text, primary_key=True),
    Column("email", Text, nullable=True),
    Column("language", Text, nullable=False),
    Column("channels", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

notifications_table = Table(
    "notifications",
    metadata,
    Column("notification_id", Uuid, primary_key=True),
    Column("seq", BigInteger, Identity(always=True), nullable=False),
    Column("recipient_id", Text, nullable=False),
    Column("recipient_role", Text, nullable=False),
    Column("order_id", Uuid, nullable=True),
    Column("source_event_id", Uuid, nullable=False),
    Column("source_event_type", Text, nullable=False),
    Column("template", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("channels", JSONB, nullable=False, server_default=text("'[\"in_app\"]'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("read_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("source_event_id", "recipient_id", "template", name="notifications_once"),
    Index("notifications_inbox", "recipient_id", "created_at"),
    Index("notifications_by_recipient", "recipient_role", "recipient_id", "seq"),
    Index("notifications_by_order", "order_id"),
)

conversation_table = Table(
    "conversation_entries",
    metadata,
    Column("entry_id", Uuid, primary_key=True),
    Column("seq", BigInteger, Identity(always=True), nullable=False),
    Column("order_id", Uuid, nullable=False),
    Column("kind", Text, nullable=False),
    Column("visibility", Text, nullable=False),
    Column("author_id", Text, nullable=False),
    Column("author_role", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("conversation_by_order", "order_id", "seq"),
)

subscriptions_table = Table(
    "webhook_subscriptions",
    metadata,
    Column("subscription_id", Uuid, primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("event_types", JSONB, nullable=False),
    Column("created_by_id", Text, nullable=False),
    Column("created_by_role", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("unsubscribed_at", DateTime(timezone=True), nullable=True),
)

deliveries_table = Table(
    "deliveries",
    metadata,
    Column("delivery_id", Uuid, primary_key=True),
    Column("notification_id", Uuid, nullable=True),
    Column("channel", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column(
        "subscription_id",
        Uuid,
        ForeignKey("webhook_subscriptions.subscription_id"),
        nullable=True,
    ),
    Column("order_id", Uuid, nullable=True),
    Column("source_event_id", Uuid, nullable=False),
    Column("source_event_type", Text, nullable=False),
    # the flow of the message that caused it: the worker logs and reports in that flow
    Column("correlation_id", Text, nullable=False),
    Column("causation_id", Uuid, nullable=False),
    Column("payload", JSONB, nullable=False),
    # the trace context of the handling that queued it (azl_kit.tracing); null when off
    Column("trace_context", JSONB, nullable=True),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("source_event_id", "channel", "recipient", name="deliveries_once"),
    Index(
        "deliveries_due",
        "next_attempt_at",
        postgresql_where=text("status IN ('pending', 'sending')"),
    ),
    Index("deliveries_by_order", "order_id"),
    Index("deliveries_by_notification", "notification_id"),
)

delivery_attempts_table = Table(
    "delivery_attempts",
    metadata,
    Column("delivery_id", Uuid, ForeignKey("deliveries.delivery_id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("outcome", Text, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    PrimaryKeyConstraint("delivery_id", "attempt", name="delivery_attempts_pkey"),
)


class NotificationsUnitOfWork(UnitOfWork):
    # --- orders and customers ------------------------------------------------------------

    async def remember_order(self, order_id: UUID, customer_id: str, order_code: str) -> None:
        await self.connection.execute(
            insert(order_recipients_table)
            .values(order_id=order_id, customer_id=customer_id, order_code=order_code)
            .on_conflict_do_nothing()
        )

    async def known_order(self, order_id: UUID) -> KnownOrder | None:
        row = (
            await self.connection.execute(
                select(order_recipients_table).where(order_recipients_table.c.order_id == order_id)
            )
        ).first()
        if row is None:
            return None
        return KnownOrder(row.order_id, row.customer_id, row.order_code)

    async def preferences_of(self, customer_id: str) -> CustomerPreferences:
        row = (
            await self.connection.execute(
                select(preferences_table).where(preferences_table.c.customer_id == customer_id)
            )
        ).first()
        return CustomerPreferences(customer_id) if row is None else preferences_from_row(row)

    async def save_preferences(self, preferences: CustomerPreferences) -> None:
        values = {
            "email": preferences.email,
            "language": preferences.language.value,
            "channels": sorted(c.value for c in preferences.channels),
            "updated_at": self.now(),
        }
        await self.connection.execute(
            insert(preferences_table)
            .values(customer_id=preferences.customer_id, **values)
            .on_conflict_do_update(index_elements=["customer_id"], set_=values)
        )

    # --- notifications and deliveries ----------------------------------------------------

    async def add_notification(self, draft: NotificationDraft) -> bool:
        """False when this event already notified this recipient with this template."""
        result = await self.connection.execute(
            insert(notifications_table)
            .values(
                notification_id=draft.notification_id,
                recipient_id=draft.recipient_id,
                recipient_role=draft.recipient_role.value,
                order_id=draft.order_id,
                source_event_id=draft.source_event_id,
                source_event_type=draft.source_event_type,
                template=draft.template,
                language=draft.language.value,
                title=draft.title,
                body=draft.body,
                channels=[c.value for c in draft.channels],
                created_at=draft.created_at,
            )
            .on_conflict_do_nothing()
            .returning(notifications_table.c.notification_id)
        )
        return result.first() is not None

    async def add_delivery(self, draft: DeliveryDraft) -> bool:
        """False when this event already went to this recipient on this channel. The
        delivery keeps the flow of the message being handled (its correlation id, and the
        message itself as the cause)."""
        result = await self.connection.execute(
            insert(deliveries_table)
            .values(
                delivery_id=draft.delivery_id,
                notification_id=draft.notification_id,
                channel=draft.channel.value,
                recipient=draft.recipient,
                target=draft.target,
                subscription_id=draft.subscription_id,
                order_id=draft.order_id,
                source_event_id=draft.source_event_id,
                source_event_type=draft.source_event_type,
                correlation_id=self.flow.correlation_id,
                causation_id=self.flow.causation_id or draft.source_event_id,
                payload=draft.payload,
                trace_context=tracing.context_headers(),
                status=DeliveryStatus.PENDING.value,
                attempts=0,
                next_attempt_at=draft.created_at,
                created_at=draft.created_at,
                updated_at=draft.created_at,
            )
            .on_conflict_do_nothing()
            .returning(deliveries_table.c.delivery_id)
        )
        return result.first() is not None

    async def mark_read(
        self, recipient_id: str | None, role: ActorRole, ids: Sequence[UUID] | None
    ) -> tuple[int, list[UUID]]:
        """Mark the recipient's notifications read (``ids`` None: all). Returns how many went
        from unread to read, and the ids that are not in the recipient's inbox."""
        mine = and_(
            notifications_table.c.recipient_role == role.value,
            notifications_table.c.recipient_id == recipient_id,
        )
        missing: list[UUID] = []
        if ids is not None:
            found = set(
                (
                    await self.connection.execute(
                        select(notifications_table.c.notification_id).where(
                            mine, notifications_table.c.notification_id.in_(list(ids))
                        )
                    )
                )
                .scalars()
                .all()
            )
            missing = [i for i in ids if i not in found]
            if missing:
                return 0, missing
        statement = update(notifications_table).where(mine, notifications_table.c.read_at.is_(None))
        if ids is not None:
            statement = statement.where(notifications_table.c.notification_id.in_(list(ids)))
        result = await self.connection.execute(statement.values(read_at=self.now()))
        return int(result.rowcount), []

    # --- the conversation ----------------------------------------------------------------

    async def entry_exists(self, entry_id: UUID) -> bool:
        found = await self.connection.scalar(
            select(conversation_table.c.entry_id).where(conversation_table.c.entry_id == entry_id)
        )
        return found is not None

    async def add_entry(self, entry: ConversationEntry) -> None:
        await self.connection.execute(
            insert(conversation_table).values(
                entry_id=entry.entry_id,
                order_id=entry.order_id,
                kind=entry.kind.value,
                visibility=entry.visibility.value,
                author_id=entry.author.id,
                author_role=entry.author.role.value,
                body=entry.body,
                created_at=entry.created_at,
            )
        )

    # --- webhook subscriptions -----------------------------------------------------------

    async def active_subscriptions(self) -> list[Subscription]:
        rows = (
            await self.connection.execute(
                select(subscriptions_table).where(subscriptions_table.c.active.is_(True))
            )
        ).all()
        return [Subscription(r.subscription_id, r.url, tuple(r.event_types)) for r in rows]

    async def subscription_exists(self, subscription_id: UUID) -> bool:
        found = await self.connection.scalar(
            select(subscriptions_table.c.subscription_id).where(
                subscriptions_table.c.subscription_id == subscription_id
            )
        )
        return found is not None

    async def add_subscription(
        self, subscription: Subscription, secret: str, created_by: tuple[str, ActorRole]
    ) -> None:
        await self.connection.execute(
            insert(subscriptions_table).values(
                subscription_id=subscription.subscription_id,
                url=subscription.url,
                secret=secret,
                event_types=list(subscription.event_types),
                created_by_id=created_by[0],
                created_by_role=created_by[1].value,
                created_at=self.now(),
                active=True,
            )
        )

    async def end_subscription(
        self, subscription_id: UUID, made_by: tuple[str, ActorRole] | None = None
    ) -> bool:
        """Deactivate it and cancel what it has pending; False if it is not active (or,
        with ``made_by``, was made by someone else)."""
        statement = update(subscriptions_table).where(
            subscriptions_table.c.subscription_id == subscription_id,
            subscriptions_table.c.active.is_(True),
        )
        if made_by is not None:
            statement = statement.where(
                subscriptions_table.c.created_by_id == made_by[0],
                subscriptions_table.c.created_by_role == made_by[1].value,
            )
        ended = await self.connection.execute(
            statement.values(active=False, unsubscribed_at=self.now()).returning(
                subscriptions_table.c.subscription_id
            )
        )
        if ended.first() is None:
            return False
        await self.connection.execute(
            update(deliveries_table)
            .where(
                deliveries_table.c.subscription_id == subscription_id,
                deliveries_table.c.status.in_(
                    [DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value]
                ),
            )
            .values(
                status=DeliveryStatus.CANCELLED.value,
                next_attempt_at=None,
                last_error="the subscription ended",
                updated_at=self.now(),
            )
        )
        return True


def preferences_from_row(row: Any) -> CustomerPreferences:
    return CustomerPreferences(
        customer_id=row.customer_id,
        email=row.email,
        language=Language(row.language),
        channels=frozenset(Channel(c) for c in row.channels),
    )


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# --- the delivery worker's rows ------------------------------------------------------------


async def claim_due(
    conn: AsyncConnection, *, now: datetime, batch_size: int, lease: timedelta
) -> list[Claimed]:
    """Lock the deliveries due (``FOR UPDATE SKIP LOCKED``: safe with several instances),
    log as interrupted the attempts whose lease ran out without a result, and count and
    lease each one's new attempt until ``now + lease``."""
    due = (
        await conn.execute(
            select(deliveries_table, subscriptions_table.c.secret)
            .outerjoin(
                subscriptions_table,
                subscriptions_table.c.subscription_id == deliveries_table.c.subscription_id,
            )
            .where(
                deliveries_table.c.status.in_(
                    [DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value]
                ),
                deliveries_table.c.next_attempt_at <= now,
            )
            .order_by(deliveries_table.c.next_attempt_at)
            .limit(batch_size)
            .with_for_update(of=deliveries_table, skip_locked=True)
        )
    ).all()
    if not due:
        return []
    interrupted = [r for r in due if r.status == DeliveryStatus.SENDING.value]
    if interrupted:
        await conn.execute(
            insert(delivery_attempts_table)
            .values(
                [
                    {
                        "delivery_id": r.delivery_id,
                        "attempt": r.attempts,
                        "started_at": r.updated_at,
                        "finished_at": now,
                        "outcome": AttemptOutcome.INTERRUPTED.value,
                        "error": "no result before the lease ran out "
                        "(the instance stopped or died mid-send)",
                    }
                    for r in interrupted
                ]
            )
            .on_conflict_do_nothing()
        )
    await conn.execute(
        update(deliveries_table)
        .where(deliveries_table.c.delivery_id.in_([r.delivery_id for r in due]))
        .values(
            status=DeliveryStatus.SENDING.value,
            attempts=deliveries_table.c.attempts + 1,
            next_attempt_at=now + lease,
            updated_at=now,
        )
    )
    return [
        Claimed(
            **delivery_fields(r),
            payload=r.payload,
            attempt=r.attempts + 1,
            secret=r.secret,
            correlation_id=r.correlation_id,
            causation_id=r.causation_id,
            trace_context=r.trace_context,
        )
        for r in due
    ]


async def record_attempt(
    conn: AsyncConnection,
    delivery: Claimed,
    result: SendResult,
    decision: Decision,
    last_error: str | None,
    *,
    started: datetime,
    now: datetime,
) -> bool:
    """The attempt's outcome on its delivery, guarded by the attempt number, and its log
    row. False when the claim was taken over or cancelled meanwhile: the delivery is left as
    the newer attempt (or the cancellation) made it."""
    changed = await conn.execute(
        update(deliveries_table)
        .where(
            deliveries_table.c.delivery_id == delivery.delivery_id,
            deliveries_table.c.status == DeliveryStatus.SENDING.value,
            deliveries_table.c.attempts == delivery.attempt,
        )
        .values(
            status=decision.status.value,
            next_attempt_at=decision.next_attempt_at,
            # a success keeps the last failure for the record; the log has them all
            last_error=deliveries_table.c.last_error if result.ok else last_error,
            updated_at=now,
            sent_at=now if result.ok else None,
        )
        .returning(deliveries_table.c.delivery_id)
    )
    current = changed.first() is not None
    await conn.execute(
        insert(delivery_attempts_table)
        .values(
            delivery_id=delivery.delivery_id,
            attempt=delivery.attempt,
            started_at=started,
            finished_at=now,
            outcome=decision.outcome.value,
            status_code=result.status_code,
            error=result.error,
        )
        .on_conflict_do_nothing()
    )
    return current


def delivery_fields(row: Any) -> dict[str, Any]:
    """The nine fields of ``domain.Delivery`` from a ``deliveries`` row."""
    return {
        "delivery_id": row.delivery_id,
        "notification_id": row.notification_id,
        "channel": Channel(row.channel),
        "recipient": row.recipient,
        "target": row.target,
        "subscription_id": row.subscription_id,
        "order_id": row.order_id,
        "source_event_id": row.source_event_id,
        "source_event_type": row.source_event_type,
    }
