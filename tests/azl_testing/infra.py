"""Real RabbitMQ and PostgreSQL for a test run, isolated from anything else on them.

Where they come from, in order:
1. ``AZL_TEST_AMQP_URL`` and ``AZL_TEST_DATABASE_URL`` (an admin URL of the PostgreSQL
   server, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``) — what CI sets;
2. otherwise testcontainers (``RabbitMqContainer``, ``PostgresContainer``) when a Docker
   engine answers;
3. otherwise the run fails, saying so: it never silently skips.

Every run gets its own namespace (``{ns}`` prefix of every exchange and queue) and its own
databases, and removes exactly those at the end — nothing it did not create.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import aio_pika
import asyncpg
from aio_pika.exceptions import ChannelNotFoundEntity

from azl_contracts.topology import (
    COMMANDS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    REPLIES_EXCHANGE,
    SERVICES,
    all_queues,
)

AMQP_ENV = "AZL_TEST_AMQP_URL"
DATABASE_ENV = "AZL_TEST_DATABASE_URL"


class InfrastructureUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Infra:
    amqp_url: str
    admin_database_url: str  # plain libpq URL of the server's maintenance database
    namespace: str
    source: str
    rabbitmq_container: Any = None  # testcontainers' container, when it started one

    def rabbitmqctl(self, *args: str, stdin: bytes | None = None) -> str:
        """Run rabbitmqctl against the test broker: inside its container, or locally."""
        if self.rabbitmq_container is not None:
            command = ["rabbitmqctl", *args]
            if stdin is not None:
                command = [
                    "sh",
                    "-c",
                    f"echo {shlex.quote(stdin.decode())} | rabbitmqctl "
                    + " ".join(map(shlex.quote, args)),
                ]
            code, output = self.rabbitmq_container.exec(command)
            if code != 0:
                raise RuntimeError(f"rabbitmqctl {args}: {output.decode(errors='replace')}")
            return str(output.decode(errors="replace"))
        if shutil.which("rabbitmqctl") is None:
            raise InfrastructureUnavailable(
                "this test manages broker users with rabbitmqctl: run it on the broker's host "
                "or let testcontainers start the broker"
            )
        result = subprocess.run(
            ["rabbitmqctl", *args], input=stdin, capture_output=True, check=True, timeout=120
        )
        return result.stdout.decode(errors="replace")

    @property
    def database_prefix(self) -> str:
        return f"{self.namespace}_"

    @property
    def postgres_server_url(self) -> str:
        """SQLAlchemy asyncpg URL of the server, without a database (services add theirs)."""
        base = self.admin_database_url.split("://", 1)[1].rsplit("/", 1)[0]
        return f"postgresql+asyncpg://{base}"

    def database_url(self, service: str) -> str:
        return f"{self.postgres_server_url}/{self.database_prefix}{service}"

    def service_env(self, service: str) -> dict[str, str]:
        return {
            "AZL_ENV": "test",
            "AZL_NAMESPACE": self.namespace,
            "AZL_AMQP_URL": self.amqp_url,
            "AZL_POSTGRES_URL": self.postgres_server_url,
            "AZL_DATABASE_PREFIX": self.database_prefix,
        }

    def name(self, relative: str) -> str:
        return f"{self.namespace}.{relative}"


def new_namespace() -> str:
    return "azlt" + secrets.token_hex(4)


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


@contextmanager
def provide() -> Iterator[Infra]:
    amqp, database = os.environ.get(AMQP_ENV), os.environ.get(DATABASE_ENV)
    namespace = new_namespace()
    if amqp and database:
        infra = Infra(amqp, database, namespace, "environment")
        with _cleaned_up(infra):
            yield infra
        return
    if amqp or database:
        raise InfrastructureUnavailable(f"set both {AMQP_ENV} and {DATABASE_ENV}, or neither")
    if not _docker_available():
        raise InfrastructureUnavailable(
            f"no RabbitMQ/PostgreSQL for the tests: set {AMQP_ENV} and {DATABASE_ENV} "
            "(e.g. amqp://guest:guest@127.0.0.1:5672/ and "
            "postgresql://postgres@127.0.0.1:5432/postgres), or run a Docker engine so "
            "testcontainers can start them"
        )
    with ExitStack() as stack:
        from testcontainers.community.postgres import PostgresContainer
        from testcontainers.community.rabbitmq import RabbitMqContainer

        rabbit = stack.enter_context(
            RabbitMqContainer(os.environ.get("AZL_TEST_RABBITMQ_IMAGE", "rabbitmq:4-management"))
        )
        postgres = stack.enter_context(
            PostgresContainer(os.environ.get("AZL_TEST_POSTGRES_IMAGE", "postgres:16"), driver=None)
        )
        amqp_url = (
            f"amqp://{rabbit.username}:{rabbit.password}@{rabbit.get_container_host_ip()}:"
            f"{rabbit.get_exposed_port(rabbit.port)}/"
        )
        admin_url = postgres.get_connection_url().replace(f"/{postgres.dbname}", "/postgres")
        infra = Infra(amqp_url, admin_url, namespace, "testcontainers", rabbit)
        with _cleaned_up(infra):
            yield infra


@contextmanager
def _cleaned_up(infra: Infra) -> Iterator[None]:
    try:
        yield
    finally:
        asyncio.run(remove_everything(infra))


def created_queue_names(infra: Infra) -> list[str]:
    names = []
    for spec in all_queues():
        names += [infra.name(spec.name), infra.name(spec.dead_letter_queue)]
    return names


def created_exchange_names(infra: Infra) -> list[str]:
    names = (COMMANDS_EXCHANGE, EVENTS_EXCHANGE, DEAD_LETTER_EXCHANGE, REPLIES_EXCHANGE)
    return [infra.name(e) for e in names]


async def remove_everything(infra: Infra) -> None:
    """Delete this run's queues, exchanges and databases — and only those."""
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in created_queue_names(infra):
            await channel.queue_delete(queue)
        for exchange in created_exchange_names(infra):
            await channel.exchange_delete(exchange)
    conn = await asyncpg.connect(infra.admin_database_url)
    try:
        for service in SERVICES:
            await conn.execute(
                f'DROP DATABASE IF EXISTS "{infra.database_prefix}{service}" WITH (FORCE)'
            )
    finally:
        await conn.close()


async def leftovers(infra: Infra) -> list[str]:
    """What of this run is still on the servers (empty after ``remove_everything``)."""
    found = []
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        for queue in created_queue_names(infra):
            channel = await connection.channel()
            try:
                await channel.declare_queue(queue, passive=True)
                found.append(f"queue {queue}")
            except ChannelNotFoundEntity:
                pass
        for exchange in created_exchange_names(infra):
            channel = await connection.channel()
            try:
                await channel.declare_exchange(exchange, passive=True)
                found.append(f"exchange {exchange}")
            except ChannelNotFoundEntity:
                pass
    conn = await asyncpg.connect(infra.admin_database_url)
    try:
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", infra.database_prefix
        )
        found += [f"database {r['datname']}" for r in rows]
    finally:
        await conn.close()
    return found
