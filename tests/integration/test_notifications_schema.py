"""The notifications migrations build exactly the tables ``notifications.storage`` declares.

Migrations are hand-written; comparing the database the service migrated on start with the
metadata (alembic ``compare_metadata``) catches a column or an index one side forgot.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from azl_testing.infra import Infra
from sqlalchemy.ext.asyncio import create_async_engine

from notifications.storage import metadata

from .conftest import Platform


async def test_the_migrated_database_is_what_the_code_declares(
    infra: Infra, platform: Platform
) -> None:
    engine = create_async_engine(infra.database_url("notifications"), pool_size=1)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await engine.dispose()
    assert differences == []
