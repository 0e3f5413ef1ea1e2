"""Whether a service's migrations built exactly the tables its ``storage`` module declares:
alembic's ``compare_metadata`` of the database the service migrated on start against the
metadata, which catches a column or an index one side forgot."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from .infra import Infra


async def schema_differences(infra: Infra, service: str, metadata: MetaData) -> list[Any]:
    """What differs between ``service``'s database in ``infra`` and ``metadata`` (empty:
    nothing)."""
    engine = create_async_engine(infra.database_url(service), pool_size=1)
    try:
        async with engine.connect() as conn:
            differences: list[Any] = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await engine.dispose()
    return differences
