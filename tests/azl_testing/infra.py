"""Real RabbitMQ and PostgreSQL for a test run, isolated from anything else on them.

Where they come from, in order:
1. ``AZL_TEST_AMQP_URL`` and ``AZL_TEST_DATABASE_URL`` (an admin URL of the PostgreSQL
   server, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``) — what CI sets;
2. otherwise testcontainers (``RabbitMqContainer``, ``PostgresContainer``) when a Docker
   engine answers;
3. otherwise the run fails, saying so: it never silently skips.

Every run gets its own namespace (``{ns}`` prefix of every exchange, queue and broker user)
and its own databases (``{ns}_`` prefix), and removes exactly what carries its prefix at the
end — whatever created it (a service, a test's observer, a definitions import), and nothing
of another run sharing the servers. What the broker holds is listed with ``rabbitmqctl``
(locally or inside the testcontainers broker): AMQP cannot list queues.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
import asyncpg
from aio_pika.abc import AbstractChannel, AbstractConnection
from aio_pika.exceptions import AMQPError

from azl_cli import definitions
from azl_cli.deployment import declare_topology as declare_deployment_topology
from azl_contracts import trust
from azl_contracts.topology import all_queues

from . import leases

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
    rabbitmq_nodes: tuple[str, ...] = ()
    """Node names for ``rabbitmqctl -n`` (the first that answers), when the broker at
    ``amqp_url`` is not the local default node (a local cluster)."""

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
                "the tests list and manage what the broker holds with rabbitmqctl: run them on "
                "the broker's host or let testcontainers start the broker"
            )
        failures = []
        for node in self.rabbitmq_nodes or (None,):
            target = ["-n", node] if node else []
            result = subprocess.run(
                ["rabbitmqctl", *target, *args], input=stdin, capture_output=True, timeout=120
            )
            if result.returncode == 0:
                return result.stdout.decode(errors="replace")
            failures.append(f"{node or 'default node'}: {result.stderr.decode(errors='replace')}")
        raise RuntimeError(f"rabbitmqctl {args}: " + "; ".join(failures))

    def owns(self, name: str) -> bool:
        """Whether a broker or database name carries this run's prefix (``{ns}.``, ``{ns}-``,
        ``{ns}_``) — never a name of another run, whose namespace merely starts alike."""
        rest = name.removeprefix(self.namespace)
        return rest != name and rest[:1] in (".", "-", "_")

    @property
    def vhost(self) -> str:
        path = unquote(urlsplit(self.amqp_url).path)
        return path[1:] if len(path) > 1 else "/"

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
        """A service runs as its own least-privilege broker user of this namespace."""
        return {
            "AZL_ENV": "test",
            "AZL_NAMESPACE": self.namespace,
            "AZL_AMQP_URL": self.url_as(service),
            "AZL_POSTGRES_URL": self.postgres_server_url,
            "AZL_DATABASE_PREFIX": self.database_prefix,
            # small pools: the suite's platforms, a developer's `azl run` and a scaled
            # platform fit on one default server together (docs/configuration.md)
            "AZL_DB_POOL_SIZE": "3",
            # the suite's webhook receiver runs on 127.0.0.1
            "AZL_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        }

    def name(self, relative: str) -> str:
        return f"{self.namespace}.{relative}"

    @property
    def user_prefix(self) -> str:
        """How this namespace names its publishers' users (``azl_contracts.trust``)."""
        return trust.default_user_prefix(self.namespace)

    def user(self, role: str) -> str:
        return definitions.user_name(self.namespace, role)

    def url_as(self, role: str) -> str:
        """The broker URL of one of this namespace's users (``broker_users`` creates them on
        first use): a role of the broker definitions, or ``BUS_ROLE``."""
        password = broker_users(self)[role]
        parts = urlsplit(self.amqp_url)
        host = parts.netloc.rsplit("@", 1)[-1]
        return parts._replace(netloc=f"{self.user(role)}:{password}@{host}").geturl()


BUS_ROLE = "bus"
"""The test Bus's user: tagged ``impersonator``, it stamps the ``user_id`` of whichever
publisher it plays (``azl_contracts.trust.publisher_for``)."""

_USERS: dict[str, dict[str, str]] = {}


def broker_users(infra: Infra) -> dict[str, str]:
    """The namespace's users, created on first use from the broker definitions (random
    passwords) plus the Bus's impersonator; ``remove_everything`` deletes them with the
    rest of the namespace (they carry its prefix)."""
    known = _USERS.get(infra.namespace)
    if known is not None:
        return known
    passwords = {role: secrets.token_urlsafe(16) for role in (*definitions.ROLES, BUS_ROLE)}
    document = definitions.definitions(infra.namespace, passwords)
    for topology in ("exchanges", "queues", "bindings"):  # declare_topology's part
        document.pop(topology)
    bus = infra.user(BUS_ROLE)
    document["users"].append(
        {
            "name": bus,
            "password_hash": definitions.password_hash(bus, passwords[BUS_ROLE]),
            "hashing_algorithm": "rabbit_password_hashing_sha256",
            "tags": ["impersonator"],
        }
    )
    document["permissions"].append(
        {"user": bus, "vhost": infra.vhost, "configure": ".*", "write": ".*", "read": ".*"}
    )
    for entry in (*document["permissions"], *document["topic_permissions"]):
        entry["vhost"] = infra.vhost
    document["vhosts"] = [{"name": infra.vhost}]
    infra.rabbitmqctl("import_definitions", "--format", "json", stdin=json.dumps(document).encode())
    _wait_for_users(infra, [u["name"] for u in document["users"]])
    _USERS[infra.namespace] = passwords
    return passwords


def broker_passwords(infra: Infra) -> dict[str, str]:
    """The namespace's user passwords as a deployment gives them to ``azl run`` and compose
    (``AZL_<ROLE>_AMQP_PASSWORD``)."""
    return {
        f"AZL_{role.upper().replace('-', '_')}_AMQP_PASSWORD": password
        for role, password in broker_users(infra).items()
    }


def _wait_for_users(infra: Infra, users: list[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        listed = {str(u["user"]) for u in _listed(infra, "list_users", vhost=False)}
        if listed.issuperset(users):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the broker did not create the users {users}")
        time.sleep(0.2)


def new_namespace() -> str:
    """A namespace of this process's own, leased to it until ``remove_everything``."""
    namespace = "azlt" + secrets.token_hex(4)
    leases.take(namespace)
    return namespace


@contextmanager
def own_namespace(infra: Infra, **changes: Any) -> Iterator[Infra]:
    """``infra`` (with ``changes``) in a namespace, users and databases of its own, the
    deployment's exchanges and queues declared in it as the operator; afterwards (also when
    declaring failed) everything of it is removed, and nothing may be left."""
    own = replace(infra, namespace=new_namespace(), **changes)
    try:
        asyncio.run(declare_topology(own))
        yield own
    finally:
        asyncio.run(remove_everything(own))
        remaining = asyncio.run(leftovers(own))
        assert not remaining, f"left behind: {remaining}"


def sweep_abandoned(amqp_url: str, database_url: str) -> list[str]:
    """Remove from these servers the namespaces of test runs that were killed before they
    could clean up (``leases``)."""
    swept = leases.claim_abandoned()
    for namespace in swept:
        asyncio.run(remove_everything(Infra(amqp_url, database_url, namespace, "environment")))
    return swept


def _docker_available() -> bool:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not os.path.exists(host.removeprefix("unix://")):
        return False  # docker-py would leak the socket it failed to connect
    try:
        import docker

        client = docker.from_env()
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@contextmanager
def provide() -> Iterator[Infra]:
    amqp, database = os.environ.get(AMQP_ENV), os.environ.get(DATABASE_ENV)
    namespace = new_namespace()
    if amqp and database:
        if swept := sweep_abandoned(amqp, database):
            print(f"removed {len(swept)} namespaces of killed test runs: {swept}", file=sys.stderr)
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

        _configure_testcontainers()
        # the images compose runs (the same variables): the stand-ins of deploy/local-images
        # on a machine without registry access
        rabbit = stack.enter_context(
            RabbitMqContainer(os.environ.get(RABBITMQ_IMAGE_ENV, "rabbitmq:3.13-management"))
        )
        postgres = stack.enter_context(
            PostgresContainer(os.environ.get(POSTGRES_IMAGE_ENV, "postgres:16"), driver=None)
        )
        host = _ipv4(rabbit.get_container_host_ip())
        amqp_url = (
            f"amqp://{rabbit.username}:{rabbit.password}@{host}:"
            f"{rabbit.get_exposed_port(rabbit.port)}/"
        )
        admin_url = (
            f"postgresql://{postgres.username}:{postgres.password}@"
            f"{_ipv4(postgres.get_container_host_ip())}:{postgres.get_exposed_port(5432)}/postgres"
        )
        infra = Infra(amqp_url, admin_url, namespace, "testcontainers", rabbit)
        with _cleaned_up(infra):
            yield infra


RABBITMQ_IMAGE_ENV = "AZL_RABBITMQ_IMAGE"
POSTGRES_IMAGE_ENV = "AZL_POSTGRES_IMAGE"


def _ipv4(host: str) -> str:
    """``localhost`` may resolve to ::1 first, where an engine need not publish its ports."""
    return "127.0.0.1" if host == "localhost" else host


def _configure_testcontainers() -> None:
    """Ryuk (testcontainers' reaper, which removes a crashed run's containers) when its image
    is here or can be pulled; otherwise without it: the ExitStack of ``provide`` stops and
    removes both containers (and their volumes) itself. And, for Podman on this machine's
    own Unix socket, the published ports on this machine (``docker_host``): testcontainers
    would otherwise take a ``/.dockerenv`` for a sibling container of the engine and look
    for a gateway address that Podman's API does not report."""
    import docker
    from testcontainers.core.config import ConnectionMode, testcontainers_config

    client = docker.from_env()
    try:
        if testcontainers_config.connection_mode_override is None and _is_local_podman(client):
            testcontainers_config.connection_mode_override = ConnectionMode.docker_host
        if testcontainers_config.ryuk_disabled:
            return
        try:
            client.images.get(testcontainers_config.ryuk_image)
        except docker.errors.ImageNotFound:
            try:
                client.images.pull(testcontainers_config.ryuk_image)
            except docker.errors.APIError:
                testcontainers_config.ryuk_disabled = True
    finally:
        client.close()


def _is_local_podman(client: Any) -> bool:
    components = client.version().get("Components", [])
    podman = any("podman" in str(c.get("Name", "")).lower() for c in components)
    return podman and os.environ.get("DOCKER_HOST", "unix://").startswith("unix://")


@contextmanager
def _cleaned_up(infra: Infra) -> Iterator[None]:
    try:  # fail now, not after the run, if what the broker holds cannot be listed
        asyncio.run(leftovers(infra))
    except RuntimeError as error:
        raise InfrastructureUnavailable(
            f"cannot list what the test broker holds: {error}"
        ) from error
    try:
        asyncio.run(declare_topology(infra))
        yield
    finally:
        asyncio.run(remove_everything(infra))


async def declare_topology(infra: Infra) -> None:
    """The deployment's part, as the operator (the run's URL is guest's): the shared
    exchanges, every queue and binding, before any service starts — services only check
    them."""
    await declare_deployment_topology(infra.amqp_url, infra.namespace)


def created_queue_names(infra: Infra) -> list[str]:
    """The queues the topology declares in ``infra``'s namespace, with their DLQs."""
    names = []
    for spec in all_queues():
        names += [infra.name(spec.name), infra.name(spec.dead_letter_queue)]
    return names


@dataclass(frozen=True)
class BrokerHoldings:
    """What the broker holds under a run's prefix."""

    queues: list[str]
    exchanges: list[str]
    users: list[str]

    def described(self) -> list[str]:
        return (
            [f"queue {q}" for q in self.queues]
            + [f"exchange {e}" for e in self.exchanges]
            + [f"broker user {u}" for u in self.users]
        )


def _listed(infra: Infra, what: str, *columns: str, vhost: bool = True) -> list[dict[str, Any]]:
    scope = ["-p", infra.vhost] if vhost else []
    output = infra.rabbitmqctl(what, *scope, *columns, "--quiet", "--formatter", "json")
    rows: list[dict[str, Any]] = json.loads(output)
    return rows


async def broker_holdings(infra: Infra, connection: AbstractConnection) -> BrokerHoldings:
    """Every queue, exchange and user of ``infra``'s namespace on the broker.

    A probe queue declared through ``connection`` must show in the listing: otherwise
    rabbitmqctl reaches another broker than the tests do, and an empty listing would prove
    nothing."""
    probe = infra.name(f"leftover-probe-{secrets.token_hex(4)}")
    channel = await connection.channel()
    await channel.declare_queue(probe, exclusive=True, auto_delete=True)
    try:
        queues, exchanges, users = await asyncio.gather(
            asyncio.to_thread(_listed, infra, "list_queues", "name"),
            asyncio.to_thread(_listed, infra, "list_exchanges", "name"),
            asyncio.to_thread(_listed, infra, "list_users", vhost=False),
        )
    finally:
        await channel.queue_delete(probe)
        await channel.close()
    queue_names = [str(q["name"]) for q in queues]
    if probe not in queue_names:
        raise InfrastructureUnavailable(
            f"rabbitmqctl lists another broker than {urlsplit(infra.amqp_url).netloc}: "
            "run the tests on the broker's host, give Infra the broker's rabbitmq_nodes, "
            "or let testcontainers start the broker"
        )
    return BrokerHoldings(
        queues=sorted(q for q in queue_names if infra.owns(q) and q != probe),
        exchanges=sorted(str(e["name"]) for e in exchanges if infra.owns(str(e["name"]))),
        users=sorted(str(u["user"]) for u in users if infra.owns(str(u["user"]))),
    )


async def databases(infra: Infra) -> list[str]:
    """The databases of ``infra``'s namespace on the PostgreSQL server."""
    conn = await asyncpg.connect(infra.admin_database_url)
    try:
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", infra.database_prefix
        )
    finally:
        await conn.close()
    return sorted(str(r["datname"]) for r in rows)


async def remove_everything(infra: Infra) -> None:
    """Delete what carries this run's prefix on the servers — and nothing else. A name that
    cannot be deleted (an exclusive queue of a connection still open) is left for
    ``leftovers`` to report."""
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        holdings = await broker_holdings(infra, connection)
        channel = await connection.channel()
        for queue in holdings.queues:
            channel = await _deleting(connection, channel, channel.queue_delete, queue)
        for exchange in holdings.exchanges:
            channel = await _deleting(connection, channel, channel.exchange_delete, exchange)
    for user in holdings.users:
        await asyncio.to_thread(infra.rabbitmqctl, "delete_user", user)
    _USERS.pop(infra.namespace, None)
    conn = await asyncpg.connect(infra.admin_database_url)
    try:
        for database in await databases(infra):
            quoted = database.replace('"', '""')
            await conn.execute(f'DROP DATABASE IF EXISTS "{quoted}" WITH (FORCE)')
    finally:
        await conn.close()
    leases.release(infra.namespace)


async def _deleting(
    connection: AbstractConnection,
    channel: AbstractChannel,
    delete: Callable[[str], Awaitable[object]],
    name: str,
) -> AbstractChannel:
    """``delete(name)``; a refusal closes the channel, so go on with a new one."""
    try:
        await delete(name)
    except AMQPError:
        return await connection.channel()
    return channel


async def leftovers(infra: Infra) -> list[str]:
    """What of this run is still on the servers (empty after ``remove_everything``)."""
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        holdings = await broker_holdings(infra, connection)
    return holdings.described() + [f"database {d}" for d in await databases(infra)]
