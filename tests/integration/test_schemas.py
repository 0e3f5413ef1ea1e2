"""Each service's migrations build exactly the tables its ``storage`` module declares.

Migrations are hand-written; comparing the database the service migrated on start with the
metadata (alembic ``compare_metadata``) catches a column or an index one side forgot.
"""

from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from azl_testing.infra import Infra
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from .conftest import SERVICES, Platform


@pytest.mark.parametrize("service", SERVICES)
async def test_the_migrated_database_is_what_the_code_declares(
    infra: Infra, platform: Platform, service: str
) -> None:
    metadata: MetaData = importlib.import_module(f"{service}.storage").metadata
    engine = create_async_engine(infra.database_url(service), pool_size=1)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await engine.dispose()
    assert metadata.tables, f"{service}.storage declares no table"
    assert differences == []
