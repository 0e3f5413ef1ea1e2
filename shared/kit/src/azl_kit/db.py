"""The service's database: create it if asked, connect, and migrate it to head.

Migrations run under a PostgreSQL advisory lock, so several instances starting together
(``--scale orders=3``) apply them once.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .logging import get_logger

log = get_logger(__name__)


def create_engine(url: str, *, pool_size: int = 5, max_overflow: int = 5) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping (a round trip before every transaction): a connection that died is
        # invalidated when used, and the pipeline retries the message on a fresh one.
        pool_recycle=600,
        pool_timeout=10,
    )


async def ensure_database(url: str) -> None:
    """Create the service's database on its server when it does not exist yet."""
    target = make_url(url)
    name = target.database
    if not name:
        raise ValueError("the database URL names no database")
    admin = create_async_engine(
        target.set(database="postgres"), isolation_level="AUTOCOMMIT", pool_size=1
    )
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                try:
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
                    log.info("database created", database=name)
                except DBAPIError as error:  # another instance created it meanwhile
                    if "already exists" not in str(error):
                        raise
    finally:
        await admin.dispose()


async def migrate(engine: AsyncEngine, script_location: Path) -> None:
    lock_key = zlib.crc32(str(script_location.name).encode()) + 0x617A6C  # "azl"
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
        await conn.run_sync(_upgrade_to_head, script_location)


def _upgrade_to_head(connection: Connection, script_location: Path) -> None:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
