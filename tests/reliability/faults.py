"""Running the services for fault tests, and counting what became of each command."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from azl_testing.bus import Bus, Received
from azl_testing.infra import Infra
from azl_testing.processes import ServiceProcess
from azl_testing.proxy import Proxy
from prometheus_client.parser import text_string_to_metric_families

from azl_contracts.topology import all_queues, routing_key_matches

from .report import Tally

SERVICES = ("orders", "fees", "notifications", "complaints")

# Short retry delays so outages are retried within seconds, as in production but faster.
FAST_RETRIES = {
    "AZL_RETRY_MAX_ATTEMPTS": "12",  # about 15 s of backoff: a 3 s outage on a loaded machine
    "AZL_RETRY_BASE_DELAY": "0.1",
    "AZL_RETRY_MAX_DELAY": "2",
    "AZL_OUTBOX_POLL_INTERVAL": "0.5",
    "AZL_OUTBOX_GRACE": "2",
}


@dataclass
class FaultPlatform:
    infra: Infra
    log_dir: Path
    amqp: Proxy
    database: Proxy
    processes: list[ServiceProcess] = field(default_factory=list)

    def start(
        self, service: str, *, env: dict[str, str] | None = None, wait: bool = True
    ) -> ServiceProcess:
        """A service process whose broker and database connections go through the proxies,
        each through a port of its own (``client(process)``), so the proxies tell whose
        connections a fault closed."""
        process = ServiceProcess(service, self.infra, self.log_dir)
        process.extra_env = {
            # each service as its own broker user (PRODUCT.md §2), through the proxy
            "AZL_AMQP_URL": self.amqp.url_for(self.infra.url_as(service), client(process)),
            "AZL_POSTGRES_URL": self.database.url_for(
                self.infra.postgres_server_url, client(process)
            ),
            **FAST_RETRIES,
            **(env or {}),
        }
        process.start()
        self.processes.append(process)
        if wait:
            process.wait_ready()
        return process

    def start_all(self, env: dict[str, str] | None = None) -> dict[str, ServiceProcess]:
        started = {name: self.start(name, env=env, wait=False) for name in SERVICES}
        for process in started.values():
            process.wait_ready()
        return started

    def restart(self, process: ServiceProcess) -> ServiceProcess:
        process.start()
        return process.wait_ready()

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()


def client(process: ServiceProcess) -> str:
    """The name the proxies know a service process by."""
    return f"{process.service}:{process.port}"


def consumers(exchange: str, routing_key: str) -> tuple[str, ...]:
    """The queues (names without the namespace) a message published there reaches."""
    return tuple(
        queue.name
        for queue in all_queues()
        if queue.exchange == exchange
        and any(routing_key_matches(binding, routing_key) for binding in queue.bindings)
    )


def distinct(events: Iterable[Received]) -> list[Received]:
    """One per message id: a message published twice (a relay crash between confirm and
    delete) is one message, which consumers' inboxes take once."""
    seen: dict[str | None, Received] = {}
    for event in events:
        seen.setdefault(event.message_id, event)
    return list(seen.values())


def tally_commands(bus: Bus, command_ids: list[str], success_type: str, dlq: int = 0) -> Tally:
    """Each command's outcome: the distinct ``success_type`` events it caused, or its rejection."""
    caused: dict[str, set[str | None]] = defaultdict(set)
    for event in distinct(bus.seen(success_type)):
        if event.causation_id is not None:
            caused[event.causation_id].add(event.message_id)
    for event in distinct(bus.seen("orders.command.rejected")):
        caused[event.json["command_id"]].add(event.message_id)
    lost = sum(1 for c in command_ids if not caused.get(c))
    duplicated = sum(1 for c in command_ids if len(caused.get(c, ())) > 1)
    return Tally(
        sent=len(command_ids),
        outcomes=len(command_ids) - lost,
        lost=lost,
        duplicated=duplicated,
        dlq=dlq,
    )


def per_order(bus: Bus, event_type: str, order_ids: Iterable[str]) -> dict[str, int]:
    """How many distinct ``event_type`` events each order has."""
    counts = dict.fromkeys(order_ids, 0)
    for event in distinct(bus.seen(event_type)):
        order_id = event.json.get("order_id")
        if order_id in counts:
            counts[order_id] += 1
    return counts


async def wait_until(condition: Callable[[], object], timeout: float, step: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)
    return True


async def dead_letters(bus: Bus) -> list[Received]:
    """The messages in this namespace's dead-letter queues (taken out to look at them)."""
    letters: list[Received] = []
    for spec in all_queues():
        letters += await bus.drain_queue(spec.dead_letter_queue, wait=0, expect=0)
    return letters


def why(letters: Iterable[Received]) -> list[str]:
    """What an assertion shows of dead letters: type, origin queue and reason."""
    described = []
    for letter in letters:
        headers = letter.headers
        described.append(
            f"{letter.type} from {headers.get('x-azl-original-queue')}: "
            f"{headers.get('x-azl-dead-letter-code')} {headers.get('x-azl-dead-letter-reason')}"
            f" {headers.get('x-azl-error', '')}"
        )
    return described


async def dead_letter_count(bus: Bus) -> int:
    """Messages in this namespace's dead-letter queues (taken out to count them)."""
    return len(await dead_letters(bus))


async def metric(process: ServiceProcess, name: str, **labels: str) -> float:
    """The sum of a Prometheus sample of one process (``/metrics``) over the samples whose
    labels include ``labels``; 0 when there is none yet."""
    async with httpx.AsyncClient(base_url=process.base_url, timeout=10) as http:
        response = await http.get("/metrics")
    response.raise_for_status()
    families = list(text_string_to_metric_families(response.text))
    if not any(name == f.name or name.startswith(f.name + "_") for f in families):
        # a metric renamed or misspelt must fail the test, not read as 0
        raise KeyError(f"{process.service} exports no metric {name}")
    return sum(
        sample.value
        for family in families
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def service_database(infra: Infra, service: str) -> str:
    """A libpq URL of one service's database in this test's namespace."""
    server = infra.admin_database_url.rsplit("/", 1)[0]
    return f"{server}/{infra.database_prefix}{service}"


async def fetch(infra: Infra, service: str, query: str, *args: object) -> list[asyncpg.Record]:
    """Rows of a service's own database, read straight from PostgreSQL (not the proxy)."""
    conn = await asyncpg.connect(service_database(infra, service))
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()
