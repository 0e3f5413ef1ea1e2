"""The kit's own tables, present in every service's database: inbox and outbox."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB


def messaging_tables(metadata: MetaData) -> tuple[Table, Table]:
    """Adds ``messaging_inbox`` and ``messaging_outbox`` to a service's metadata."""
    inbox = Table(
        "messaging_inbox",
        metadata,
        Column("consumer", Text, nullable=False),
        Column("message_id", Uuid, nullable=False),
        Column("message_type", Text, nullable=False),
        Column("outcome", JSONB, nullable=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "message_id", name="messaging_inbox_pkey"),
        Index("messaging_inbox_processed_at", "processed_at"),
    )
    outbox = Table(
        "messaging_outbox",
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("message_id", Uuid, nullable=False),
        Column("exchange", Text, nullable=False),
        Column("routing_key", Text, nullable=False),
        Column("message_type", Text, nullable=False),
        Column("correlation_id", Text, nullable=False),
        Column("causation_id", Uuid, nullable=True),
        Column("headers", JSONB, nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return inbox, outbox


_metadata = MetaData()
inbox_table, outbox_table = messaging_tables(_metadata)
