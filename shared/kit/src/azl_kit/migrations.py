"""What every service's Alembic ``env.py`` does, written once.

A service's ``env.py`` is::

    from azl_kit.migrations import run_migrations
    from orders.storage import metadata
    from orders.settings import OrdersSettings

    run_migrations(metadata, OrdersSettings)

Inside the service, migrations run on the connection the service hands over (see
``azl_kit.db.migrate``); from the command line (``alembic upgrade head``) the database URL
comes from the service's settings.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from .settings import ServiceSettings


def run_migrations(metadata: MetaData, settings_class: type[ServiceSettings]) -> None:
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection, metadata)
        return
    if context.is_offline_mode():
        context.configure(
            url=settings_class().effective_database_url,
            target_metadata=metadata,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(metadata, settings_class().effective_database_url))


async def _run_online(metadata: MetaData, url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run, metadata)
    finally:
        await engine.dispose()


def _run(connection: Connection, metadata: MetaData) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def create_messaging_tables_v1() -> None:
    """The kit's inbox and outbox as of version 1; call it from a service's first migration."""
    import sqlalchemy as sa
    from alembic import op
    from sqlalchemy.dialects import postgresql

    op.create_table(
        "messaging_inbox",
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("message_type", sa.Text(), nullable=False),
        sa.Column("outcome", postgresql.JSONB(), nullable=True),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("consumer", "message_id", name="messaging_inbox_pkey"),
    )
    op.create_index("messaging_inbox_processed_at", "messaging_inbox", ["processed_at"])
    op.create_table(
        "messaging_outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("exchange", sa.Text(), nullable=False),
        sa.Column("routing_key", sa.Text(), nullable=False),
        sa.Column("message_type", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.Column("causation_id", sa.Uuid(), nullable=True),
        sa.Column("headers", postgresql.JSONB(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
