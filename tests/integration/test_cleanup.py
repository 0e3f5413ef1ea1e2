"""A run removes exactly what carries its prefix: whatever created it (a stray observer
queue, an exchange, a broker user, a database), and nothing of a run sharing the servers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aio_pika
import asyncpg
import pytest
import pytest_asyncio
from azl_testing.infra import Infra, leftovers, new_namespace, remove_everything, sweep_abandoned
from azl_testing.leases import LEASES_ENV


async def _strays(infra: Infra, namespace: str) -> None:
    """What a careless test could leave under ``namespace``."""
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(f"{namespace}.observer", durable=True)
        await channel.declare_exchange(f"{namespace}.audit", aio_pika.ExchangeType.FANOUT)
    infra.rabbitmqctl("add_user", f"{namespace}-intruder", "not-a-secret")
    conn = await asyncpg.connect(infra.admin_database_url)
    try:
        await conn.execute(f'CREATE DATABASE "{namespace}_scratch"')
    finally:
        await conn.close()


@pytest_asyncio.fixture
async def namespaces(infra: Infra) -> AsyncIterator[tuple[Infra, Infra]]:
    """A namespace of the test's own, and one whose name starts with it yet is not it."""
    own = replace(infra, namespace=new_namespace())
    lookalike = replace(infra, namespace=own.namespace + "x")
    try:
        yield own, lookalike
    finally:
        await remove_everything(lookalike)
        await remove_everything(own)


async def test_leftovers_list_every_stray_and_removal_takes_only_them(
    infra: Infra, namespaces: tuple[Infra, Infra]
) -> None:
    own, lookalike = namespaces
    await _strays(infra, own.namespace)
    await _strays(infra, lookalike.namespace)
    expected = [
        f"queue {own.namespace}.observer",
        f"exchange {own.namespace}.audit",
        f"broker user {own.namespace}-intruder",
        f"database {own.namespace}_scratch",
    ]
    assert await leftovers(own) == expected

    await remove_everything(own)

    assert await leftovers(own) == []
    assert await leftovers(lookalike) == [
        line.replace(own.namespace, lookalike.namespace) for line in expected
    ]


def _lease_to_a_process_that_dies(namespace: str) -> None:
    take = "import sys; from azl_testing import leases; leases.take(sys.argv[1])"
    tests = str(Path(__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": tests}
    subprocess.run([sys.executable, "-c", take, namespace], env=env, check=True)


def _leased(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def test_a_killed_runs_namespace_is_removed_by_the_next_run_and_a_live_ones_is_kept(
    infra: Infra, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LEASES_ENV, str(tmp_path))  # only this test's leases
    killed = replace(infra, namespace=new_namespace())
    live = replace(infra, namespace=new_namespace())  # leased to this process, alive
    try:
        for namespace in (killed.namespace, live.namespace):
            await _strays(infra, namespace)
        _lease_to_a_process_that_dies(killed.namespace)
        kept = await leftovers(live)

        swept = await asyncio.to_thread(sweep_abandoned, infra.amqp_url, infra.admin_database_url)

        assert swept == [killed.namespace]
        assert await leftovers(killed) == []
        assert await leftovers(live) == kept != []
        assert _leased(tmp_path) == [live.namespace]
    finally:
        await remove_everything(killed)
        await remove_everything(live)
    assert _leased(tmp_path) == []
