"""Notifications tables and the unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from azl_contracts.common import Language
from azl_kit.flow import FlowContext
from azl_kit.tables import messaging_tables
from azl_kit.uow import Clock, UnitOfWork, utc_now

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
    Column("recipient_id", Text, nullable=False),
    Column("recipient_role", Text, nullable=False),
    Column("order_id", Uuid, nullable=True),
    Column("source_event_id", Uuid, nullable=False),
    Column("source_event_type", Text, nullable=False),
    Column("template", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("read_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("source_event_id", "recipient_id", "template", name="notifications_once"),
    Index("notifications_inbox", "recipient_id", "created_at"),
)


class NotificationsUnitOfWork(UnitOfWork):
    def __init__(self, connection: AsyncConnection, flow: FlowContext, clock: Clock = utc_now):
        super().__init__(connection, flow, clock)

    async def remember_order(self, order_id: UUID, customer_id: str, order_code: str) -> None:
        await self.connection.execute(
            insert(order_recipients_table)
            .values(order_id=order_id, customer_id=customer_id, order_code=order_code)
            .on_conflict_do_nothing()
        )

    async def language_of(self, customer_id: str) -> Language:
        language = await self.connection.scalar(
            select(preferences_table.c.language).where(
                preferences_table.c.customer_id == customer_id
            )
        )
        return Language(language) if language else Language.VI

    async def add_notification(self, values: dict[str, Any]) -> bool:
        """False when this event already notified this recipient with this template."""
        result = await self.connection.execute(
            insert(notifications_table)
            .values(**values)
            .on_conflict_do_nothing(constraint="notifications_once")
            .returning(notifications_table.c.notification_id)
        )
        return result.first() is not None


def inbox_row(row: Any) -> dict[str, Any]:
    return {
        "notification_id": str(row.notification_id),
        "order_id": None if row.order_id is None else str(row.order_id),
        "template": row.template,
        "language": row.language,
        "title": row.title,
        "body": row.body,
        "created_at": row.created_at.isoformat(),
        "read_at": None if row.read_at is None else _iso(row.read_at),
        "source_event_type": row.source_event_type,
    }


def _iso(value: datetime) -> str:
    return value.isoformat()
