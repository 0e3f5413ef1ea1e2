"""Each service's migrations build exactly the tables its ``storage`` module declares.

Migrations are hand-written; comparing the database the service migrated on start with the
metadata (alembic ``compare_metadata``) catches a column or an index one side forgot.
"""

from __future__ import annotations

import importlib

import pytest
from azl_testing.infra import Infra
from azl_testing.schema import schema_differences
from sqlalchemy import MetaData

from .conftest import SERVICES, Platform


@pytest.mark.parametrize("service", SERVICES)
async def test_the_migrated_database_is_what_the_code_declares(
    infra: Infra, platform: Platform, service: str
) -> None:
    metadata: MetaData = importlib.import_module(f"{service}.storage").metadata
    differences = await schema_differences(infra, service, metadata)
    assert metadata.tables, f"{service}.storage declares no table"
    assert differences == []
