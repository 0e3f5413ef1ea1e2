"""Fixtures shared by every test that needs real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from azl_testing.infra import (
    Infra,
    InfrastructureUnavailable,
    leftovers,
    own_namespace,
    provide,
)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """This run's broker namespace and databases; removed (and checked gone) at the end."""
    unavailable = None
    try:
        provider = provide()
        value = provider.__enter__()
    except InfrastructureUnavailable as error:
        unavailable = str(error)
    if unavailable is not None:
        # Once, for the whole run: every later test would fail for the same reason.
        pytest.exit(f"no servers for the tests: {unavailable}", returncode=4)
    try:
        yield value
    finally:
        provider.__exit__(None, None, None)
        if value.source != "testcontainers":  # those servers are gone, with all they held
            remaining = asyncio.run(leftovers(value))
            assert not remaining, f"the test run left behind: {remaining}"


@pytest.fixture
def fresh_infra(infra: Infra) -> Iterator[Infra]:
    """The same servers as the run, but a namespace (and databases) of this test's own."""
    with own_namespace(infra) as own:
        yield own
