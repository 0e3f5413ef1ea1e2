"""Fixtures shared by every test that needs real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from azl_testing.infra import Infra, InfrastructureUnavailable, leftovers, provide


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """This run's broker namespace and databases; removed (and checked gone) at the end."""
    try:
        provider = provide()
        value = provider.__enter__()
    except InfrastructureUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield value
    finally:
        provider.__exit__(None, None, None)
        remaining = asyncio.run(leftovers(value))
        assert not remaining, f"the test run left behind: {remaining}"
