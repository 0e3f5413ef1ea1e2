"""A run removes exactly what carries its prefix: whatever created it (a stray observer
queue, an exchange, a broker user, a database), and nothing of a run sharing the servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import aio_pika
import asyncpg
import pytest_asyncio
from azl_testing.infra import Infra, leftovers, new_namespace, remove_everything


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
