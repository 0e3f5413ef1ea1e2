"""The benchmark: the platform beside a raw floor, measured in one run on this machine.

    uv run python bench/run.py            # everything (takes a few minutes)
    uv run python bench/run.py --quick    # smaller numbers, for a first look

It uses the local RabbitMQ and PostgreSQL (AZL_TEST_AMQP_URL / AZL_TEST_DATABASE_URL or the
local defaults), in a namespace and databases of its own that it removes at the end, and
prints a table with every figure, the platform/raw ratios and a last line with the
headline ratios. It asserts nothing: targets are judged from its figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from azl_testing import builders
from azl_testing.bus import Bus
from azl_testing.infra import (
    Infra,
    created_queue_names,
    declare_topology,
    leftovers,
    new_namespace,
    remove_everything,
)
from azl_testing.otlp import OtlpReceiver
from azl_testing.processes import ServiceProcess
from azl_testing.tokens import bearer
from seed import seed_orders

from azl_contracts import orders as o
from azl_kit.settings import ServiceSettings

AMQP = os.environ.get("AZL_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
ADMIN_DB = os.environ.get("AZL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass
class Figures:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    def add(self, what: str, platform: float | str, raw: float | str = "", unit: str = "") -> None:
        def show(value: float | str) -> str:
            return f"{value:,.1f}" if isinstance(value, float) else str(value)

        ratio = ""
        if isinstance(platform, float) and isinstance(raw, float) and raw:
            ratio = f"{platform / raw:.2f}"
        self.rows.append(
            (
                what,
                f"{show(platform)} {unit}".strip(),
                f"{show(raw)} {unit}".strip() if raw != "" else "",
                ratio,
            )
        )

    def print(self) -> None:
        widths = [
            max(len(r[i]) for r in [("measure", "platform", "raw / direct", "ratio"), *self.rows])
            for i in range(4)
        ]
        header = ("measure", "platform", "raw / direct", "ratio")
        for row in [header, tuple("-" * w for w in widths), *self.rows]:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


# --- resident memory ---------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    def __init__(self, processes: list[ServiceProcess]) -> None:
        self.processes = processes
        self.peak: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            for p in self.processes:
                if p.process is not None and p.process.poll() is None:
                    self.peak[p.service] = max(self.peak.get(p.service, 0.0), rss_mb(p.process.pid))
            await asyncio.sleep(0.2)

    def __enter__(self) -> PeakRss:
        self._task = asyncio.get_running_loop().create_task(self._sample())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


# --- load generation ---------------------------------------------------------------------


@dataclass
class Run:
    sent: dict[str, float] = field(default_factory=dict)  # message id → publish time
    done: dict[str, float] = field(default_factory=dict)  # message id → outcome time

    def latencies_ms(self) -> list[float]:
        return [(self.done[m] - self.sent[m]) * 1000 for m in self.sent if m in self.done]


async def saturate(
    publish: Callable[[str], Awaitable[None]], run: Run, count: int, timeout: float
) -> float:
    """Offer ``count`` commands as fast as possible; messages per second until all are done."""
    started = time.monotonic()
    for _ in range(count):
        message_id = str(uuid.uuid4())
        run.sent[message_id] = time.monotonic()
        await publish(message_id)
    await wait_all(run, timeout)
    return len(run.done) / (max(run.done.values()) - started)


async def fixed_rate(
    publish: Callable[[str], Awaitable[None]], run: Run, rate: float, seconds: float, timeout: float
) -> None:
    interval = 1 / rate
    started = time.monotonic()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + i * interval - time.monotonic()))
        message_id = str(uuid.uuid4())
        run.sent[message_id] = time.monotonic()
        await publish(message_id)
    await wait_all(run, timeout)


async def quiet(infra: Infra, seconds: float = 1.0, timeout: float = 120) -> None:
    """Until the platform's queues stayed empty for ``seconds``: the work a phase left
    behind (fees charging, notifications sending) is not measured in the next one."""
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        names = created_queue_names(infra)
        deadline = time.monotonic() + timeout
        empty_since: float | None = None
        while time.monotonic() < deadline:
            ready = 0
            for name in names:
                try:
                    queue = await channel.declare_queue(name, passive=True)
                except aio_pika.exceptions.ChannelNotFoundEntity:
                    channel = await connection.channel()  # not declared: service not running
                    continue
                ready += queue.declaration_result.message_count or 0
            now = time.monotonic()
            empty_since = (empty_since or now) if ready == 0 else None
            if empty_since is not None and now - empty_since >= seconds:
                return
            await asyncio.sleep(0.2)


async def wait_all(run: Run, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(run.done) < len(run.sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


# --- the raw floor -------------------------------------------------------------------------


class RawFloor:
    def __init__(self, namespace: str, orders: int) -> None:
        self.namespace = namespace
        self.database = f"{namespace}_raw"
        self.orders = [uuid.uuid4() for _ in range(orders)]
        self._tag: str | None = None

    @property
    def dsn(self) -> str:
        return ADMIN_DB.rsplit("/", 1)[0] + "/" + self.database

    async def setup(self) -> None:
        admin = await asyncpg.connect(ADMIN_DB)
        await admin.execute(f'CREATE DATABASE "{self.database}"')
        await admin.close()
        conn = await asyncpg.connect(self.dsn)
        await conn.execute(
            """
            CREATE TABLE raw_state (id uuid PRIMARY KEY, quantity int, version int);
            CREATE TABLE raw_inbox (message_id uuid PRIMARY KEY, at timestamptz DEFAULT now());
            CREATE TABLE raw_outbox (id bigserial PRIMARY KEY, message_id uuid, body bytea);
            """
        )
        await conn.executemany(
            "INSERT INTO raw_state VALUES ($1, 1, 1)", [(i,) for i in self.orders]
        )
        await conn.close()
        self.connection = await aio_pika.connect(AMQP)
        self.channel = await self.connection.channel(publisher_confirms=True)
        self.commands = await self.channel.declare_exchange(
            f"{self.namespace}.raw-commands", aio_pika.ExchangeType.TOPIC, durable=True
        )
        events = await self.channel.declare_exchange(
            f"{self.namespace}.raw-events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await self.channel.declare_queue(
            f"{self.namespace}.raw.commands", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(self.commands, "raw.#")
        self.sink = await self.channel.declare_queue(exclusive=True)
        await self.sink.bind(events, "#")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "raw_floor.py"), AMQP, self.dsn, self.namespace],
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        self.process.stdout.readline()  # "ready"

    async def listen(self, run: Run) -> None:
        """Outcomes count toward ``run`` from now on (and no longer toward the last one)."""
        if self._tag is not None:
            await self.sink.cancel(self._tag)

        async def on_event(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            cause = (message.headers or {}).get("x-causation-id")
            run.done[str(cause)] = time.monotonic()

        self._tag = await self.sink.consume(on_event, no_ack=True)

    def publisher(self) -> Callable[[str], Awaitable[None]]:
        counter = 0

        async def publish(message_id: str) -> None:
            nonlocal counter
            order_id = self.orders[counter % len(self.orders)]
            counter += 1
            await self.commands.publish(
                aio_pika.Message(
                    f'{{"order_id": "{order_id}", "add": 1}}'.encode(),
                    message_id=message_id,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key="raw.increase-quantities",
            )

        return publish

    async def teardown(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        await self.channel.queue_delete(f"{self.namespace}.raw.commands")
        await self.channel.exchange_delete(f"{self.namespace}.raw-commands")
        await self.channel.exchange_delete(f"{self.namespace}.raw-events")
        await self.connection.close()
        admin = await asyncpg.connect(ADMIN_DB)
        await admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        await admin.close()


# --- the platform -------------------------------------------------------------------------


class Platform:
    def __init__(self, infra: Infra, log_dir: Path, extra_env: dict[str, str]) -> None:
        self.infra = infra
        self.log_dir = log_dir
        self.extra_env = {"AZL_LOG_LEVEL": "INFO", **extra_env}
        self.processes: dict[str, ServiceProcess] = {}

    @property
    def service_env(self) -> dict[str, str]:
        """The services as deployed: the kit's default pool, not the suite's small one."""
        default_pool = ServiceSettings.model_fields["db_pool_size"].default
        return {
            "AZL_DB_POOL_SIZE": os.environ.get("AZL_DB_POOL_SIZE", str(default_pool)),
            **self.extra_env,
        }

    def start(self, *names: str) -> None:
        started = [
            ServiceProcess(n, self.infra, self.log_dir, extra_env=self.service_env).start()
            for n in names
        ]
        for process in started:
            process.wait_ready(timeout=120)
            self.processes[process.service] = process

    def pid(self, name: str) -> int:
        process = self.processes[name].process
        assert process is not None
        return process.pid

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()


async def prepare_orders(bus: Bus, count: int) -> list[tuple[o.PlaceOrderV1, list[uuid.UUID]]]:
    """Deposited orders to send ``increase-quantities`` to (spread, so commands rarely conflict)."""
    customer = builders.customer()
    placed: list[tuple[o.PlaceOrderV1, list[uuid.UUID]]] = []
    for batch in range(0, count, 50):
        commands = [builders.place_order(customer) for _ in range(min(50, count - batch))]
        replies = await asyncio.gather(*(bus.request(c) for c in commands))
        for reply in replies:
            assert reply["status"] == "accepted", reply
        for command in commands:
            event = (await bus.wait_for_order("orders.order.placed", command.order_id))[0].json
            await bus.emit(
                builders.deposit(event["order_id"], Decimal(event["required_deposit_vnd"]))
            )
            placed.append((command, [uuid.UUID(i["item_id"]) for i in event["goods"]["items"]]))
    await bus.wait_for("orders.order.deposited", count=count, timeout=120)
    return placed


def increase_publisher(
    bus: Bus, orders: list[tuple[o.PlaceOrderV1, list[uuid.UUID]]]
) -> Callable[[str], Awaitable[None]]:
    counter = 0

    async def publish(message_id: str) -> None:
        nonlocal counter
        command, items = orders[counter % len(orders)]
        counter += 1
        assert command.order_id is not None
        await bus.send(
            o.IncreaseQuantities(
                actor=command.actor,
                order_id=command.order_id,
                items=[o.ItemQuantity(item_id=items[0], add=1)],
            ),
            message_id=message_id,
        )

    return publish


def track_outcomes(bus: Bus, run: Run, event_type: str) -> None:
    async def on_event(event: Any) -> None:
        if event.type == event_type and event.causation_id in run.sent:
            run.done.setdefault(event.causation_id, time.monotonic())

    bus.on_event = on_event


# --- the read side ------------------------------------------------------------------------

LIST_QUERIES = [
    {"status": "deposited", "page_size": "20"},
    {"website": "taobao", "page_size": "50"},
    {"code": "AZ12", "page_size": "20"},
    {"page_size": "100", "page": "3"},
]


async def read_side(
    infra: Infra, platform: Platform, figures: Figures, count: int, requests: int
) -> None:
    dsn = infra.admin_database_url.rsplit("/", 1)[0] + f"/{infra.database_prefix}orders"
    started = time.monotonic()
    customers = await seed_orders(dsn, count)
    figures.add(f"seeded orders (in {time.monotonic() - started:.0f} s)", f"{count:,}")
    url = platform.processes["orders"].base_url
    staff = bearer("bench-staff", "staff")
    customer = bearer(customers[0], "customer")
    api: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for i in range(requests):
            params = LIST_QUERIES[i % len(LIST_QUERIES)]
            headers = customer if i % 5 == 4 else staff
            t0 = time.perf_counter()
            response = await http.get("/orders", params=params, headers=headers)
            api.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.text
    direct = await direct_queries(dsn, requests, customers[0])
    figures.add(
        "GET /orders p50 (filters + tab counts)", percentile(api, 50), percentile(direct, 50), "ms"
    )
    figures.add("GET /orders p95", percentile(api, 95), percentile(direct, 95), "ms")
    figures.rows[-1] = (
        *figures.rows[-1][:3],
        f"{percentile(api, 95) / percentile(direct, 95):.2f}",
    )


async def direct_queries(dsn: str, requests: int, customer_id: str) -> list[float]:
    """The same page and tab-count queries, straight through asyncpg."""
    conn = await asyncpg.connect(dsn)
    timings: list[float] = []
    try:
        for i in range(requests):
            params = LIST_QUERIES[i % len(LIST_QUERIES)]
            where, args = ["true"], []
            if i % 5 == 4:
                args.append(customer_id)
                where.append(f"customer_id = ${len(args)}")
                where.append("deposited_at IS NOT NULL")
            if "website" in params:
                args.append(params["website"])
                where.append(f"website = ${len(args)}")
            if "code" in params:
                args.append(params["code"] + "%")
                where.append(f"code LIKE ${len(args)}")
            filters = " AND ".join(where)
            status_filter = ""
            if "status" in params:
                args.append(params["status"])
                status_filter = f" AND status = ${len(args)}"
            size, page = int(params["page_size"]), int(params.get("page", "1"))
            t0 = time.perf_counter()
            await conn.fetch(
                "SELECT o.order_id, code, customer_id, website, status, goods_total_vnd, "
                "created_at, o.updated_at, l.balance_due_vnd FROM orders o "
                "LEFT JOIN order_ledgers l ON l.order_id = o.order_id "
                f"WHERE {filters}{status_filter} "
                f"ORDER BY o.updated_at DESC, o.order_id DESC "
                f"LIMIT {size} OFFSET {(page - 1) * size}",
                *args,
            )
            await conn.fetch(
                f"SELECT status, count(*) FROM orders WHERE {filters} GROUP BY status",
                *args[: len(args) - (1 if status_filter else 0)],
            )
            timings.append((time.perf_counter() - t0) * 1000)
    finally:
        await conn.close()
    return timings


# --- the run ------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    namespace = new_namespace()
    infra = Infra(AMQP, ADMIN_DB, namespace, "bench")
    await declare_topology(infra)  # the deployment's exchanges, as the operator
    log_dir = Path(f"/tmp/azl-bench-{namespace}")
    log_dir.mkdir(parents=True)
    figures = Figures()
    # --tracing: the services export every span to a receiver in this process (OTLP/HTTP)
    collector = OtlpReceiver().start() if args.tracing else None
    tracing_env = {} if collector is None else {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint}
    platform = Platform(infra, log_dir, tracing_env)
    raw = RawFloor(namespace, args.orders)
    bus: Bus | None = None
    try:
        print(f"namespace {namespace}; logs in {log_dir}", flush=True)
        print(f"tracing {'on' if collector else 'off'}", flush=True)
        await raw.setup()
        platform.start("orders")
        bus = await Bus(infra).connect()
        rest = {n: rss_mb(p.process.pid) for n, p in platform.processes.items() if p.process}
        orders = await prepare_orders(bus, args.orders)

        # 1-2. single hop, in rounds interleaved with the raw floor: saturation, then a
        # fixed offered rate; CPU per message from each process's own accounting
        rounds: list[Round] = []
        with PeakRss(list(platform.processes.values())) as peak:
            for number in range(1, args.rounds + 1):
                rounds.append(await single_hop_round(raw, platform, bus, orders, args))
                print(f"round {number}: {rounds[-1]}", flush=True)
        add_single_hop(figures, rounds, args.rate)

        # 3. the full flow through all four services
        peaks = [peak]
        if args.single_hop_only:
            add_memory(figures, rest, peak)
            add_spans(figures, collector)
            figures.print()
            print_headline(rounds, args, peaks)
            return
        platform.start("fees", "notifications", "complaints")
        rest.update(
            {
                n: rss_mb(p.process.pid)
                for n, p in platform.processes.items()
                if p.process and n not in rest
            }
        )
        with PeakRss(list(platform.processes.values())) as flow_peak:
            await quiet(infra)
            flow_throughput, _ = await full_flow(bus, args.flow_orders)
            await quiet(infra)
            _, flow_latencies = await full_flow(bus, int(args.flow_rate * 20), args.flow_rate)
        peaks.append(flow_peak)
        figures.add(
            "full flow at saturation (place → deposit → inbox)", flow_throughput, unit="orders/s"
        )
        for p in (50, 95, 99):
            figures.add(
                f"full flow at {args.flow_rate:g} orders/s: p{p} latency",
                percentile(flow_latencies, p),
                unit="ms",
            )

        # 4. the read side over many orders
        if args.seed:
            await quiet(infra)
            await read_side(infra, platform, figures, args.seed, args.requests)

        # 5. memory
        add_memory(figures, rest, peak, flow_peak)
        add_spans(figures, collector)
    finally:
        if bus is not None:
            await bus.close()
        platform.stop()
        if collector is not None:
            collector.stop()
        await raw.teardown()
        await remove_everything(infra)
        remaining = await leftovers(infra)
        if remaining:
            print(f"left behind: {remaining}", file=sys.stderr)

    print()
    figures.print()
    list_ratio = figures.rows[-1 - len(platform.processes)][3] if args.seed else None
    print_headline(rounds, args, peaks, list_ratio)


def print_headline(
    rounds: list[Round],
    args: argparse.Namespace,
    peaks: list[PeakRss],
    list_ratio: str | None = None,
) -> None:
    rate = f"{args.rate:.0f}/s"
    print(
        f"\nheadline (medians of {len(rounds)} rounds): CPU per message "
        f"{median(r.cpu_ratio_saturated for r in rounds):.2f}x raw saturated and "
        f"{median(r.cpu_ratio_fixed for r in rounds):.2f}x at {rate} (target <= 1.3x); "
        f"single-hop throughput {median(r.throughput_ratio for r in rounds):.0%} of raw "
        f"(target >= 90%); p99 at {rate} {median(r.p99_ratio for r in rounds):.2f}x raw "
        "(target <= 2x)"
        + (f"; list p95 {list_ratio}x direct (target <= 3x)" if list_ratio else "")
        + f"; max RSS {max(v for p in peaks for v in p.peak.values()):.0f} MB"
        " (target <= 150 MB)"
    )


@dataclass(frozen=True)
class Side:
    """One side of a round: the raw floor or the platform's orders service."""

    throughput: float  # msg/s, saturated
    cpu_saturated_ms: float  # CPU per message, saturated
    cpu_fixed_ms: float  # CPU per message, at the fixed rate
    latencies_ms: list[float]  # at the fixed rate
    missing: int  # outcomes not seen at the fixed rate

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)


@dataclass(frozen=True)
class Round:
    load: float  # the machine's 1-minute load average as the round began
    raw: Side
    platform: Side

    @property
    def throughput_ratio(self) -> float:
        return self.platform.throughput / self.raw.throughput

    @property
    def cpu_ratio_saturated(self) -> float:
        return self.platform.cpu_saturated_ms / self.raw.cpu_saturated_ms

    @property
    def cpu_ratio_fixed(self) -> float:
        return self.platform.cpu_fixed_ms / self.raw.cpu_fixed_ms

    @property
    def p99_ratio(self) -> float:
        return self.platform.p99 / self.raw.p99

    def __str__(self) -> str:
        return (
            f"load {self.load:.2f}; CPU/msg saturated {self.platform.cpu_saturated_ms:.2f} / "
            f"{self.raw.cpu_saturated_ms:.2f} ms ({self.cpu_ratio_saturated:.2f}x), at fixed "
            f"rate {self.platform.cpu_fixed_ms:.2f} / {self.raw.cpu_fixed_ms:.2f} ms "
            f"({self.cpu_ratio_fixed:.2f}x); throughput {self.platform.throughput:.0f} / "
            f"{self.raw.throughput:.0f} msg/s ({self.throughput_ratio:.2f}); p99 "
            f"{self.platform.p99:.1f} / {self.raw.p99:.1f} ms"
        )


async def measure_side(
    publish: Callable[[], Callable[[str], Awaitable[None]]],
    follow: Callable[[Run], Awaitable[None]],
    pid: int,
    args: argparse.Namespace,
) -> Side:
    saturated, fixed = Run(), Run()
    await follow(saturated)
    cpu = cpu_seconds(pid)
    throughput = await saturate(publish(), saturated, args.commands, timeout=300)
    cpu_saturated = cpu_seconds(pid) - cpu
    await follow(fixed)
    cpu = cpu_seconds(pid)
    await fixed_rate(publish(), fixed, args.rate, args.seconds, timeout=120)
    cpu_fixed = cpu_seconds(pid) - cpu
    return Side(
        throughput=throughput,
        cpu_saturated_ms=cpu_saturated / len(saturated.sent) * 1000,
        cpu_fixed_ms=cpu_fixed / len(fixed.sent) * 1000,
        latencies_ms=fixed.latencies_ms(),
        missing=len(fixed.sent) - len(fixed.done),
    )


async def single_hop_round(
    raw: RawFloor,
    platform: Platform,
    bus: Bus,
    orders: list[tuple[o.PlaceOrderV1, list[uuid.UUID]]],
    args: argparse.Namespace,
) -> Round:
    load = os.getloadavg()[0]

    async def follow_platform(run: Run) -> None:
        track_outcomes(bus, run, "orders.order.quantities-increased.v1")

    raw_side = await measure_side(raw.publisher, raw.listen, raw.process.pid, args)
    platform_side = await measure_side(
        lambda: increase_publisher(bus, orders), follow_platform, platform.pid("orders"), args
    )
    return Round(load, raw_side, platform_side)


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def spread(values: Iterable[float], digits: int = 2) -> str:
    """The median and, in brackets, the lowest and highest of the rounds."""
    listed = list(values)
    return (
        f"{statistics.median(listed):.{digits}f} "
        f"({min(listed):.{digits}f}–{max(listed):.{digits}f})"
    )


def add_single_hop(figures: Figures, rounds: list[Round], rate: float) -> None:
    """Medians of the rounds, with their spreads; every round was also printed."""
    figures.add("machine load average as each round began", spread((r.load for r in rounds), 1))
    measures: list[tuple[str, Callable[[Side], float], int]] = [
        ("single hop, saturated: CPU per message (ms)", lambda s: s.cpu_saturated_ms, 2),
        (f"single hop at {rate:.0f}/s: CPU per message (ms)", lambda s: s.cpu_fixed_ms, 2),
        ("single hop, saturated: throughput (msg/s)", lambda s: s.throughput, 0),
        (
            f"single hop at {rate:.0f}/s: p50 latency (ms)",
            lambda s: percentile(s.latencies_ms, 50),
            1,
        ),
        (f"single hop at {rate:.0f}/s: p99 latency (ms)", lambda s: s.p99, 1),
    ]
    for what, per_round, digits in measures:
        platform = spread((per_round(r.platform) for r in rounds), digits)
        raw = spread((per_round(r.raw) for r in rounds), digits)
        ratio = median(per_round(r.platform) / per_round(r.raw) for r in rounds)
        figures.rows.append((what, platform, raw, f"{ratio:.2f}"))
    missing = sum(r.platform.missing for r in rounds)
    figures.add("single hop at fixed rate: outcomes missing", str(missing))


def add_memory(figures: Figures, rest: dict[str, float], *peaks: PeakRss) -> None:
    for name in rest:
        loaded = max(p.peak.get(name, 0) for p in peaks)
        figures.add(f"RSS {name}: at rest / under load", f"{rest[name]:.0f} / {loaded:.0f} MB")


def add_spans(figures: Figures, collector: OtlpReceiver | None) -> None:
    if collector is not None:
        figures.add("tracing on: spans received so far", str(len(collector.spans())))


async def full_flow(bus: Bus, count: int, rate: float | None = None) -> tuple[float, list[float]]:
    """Orders placed (all at once, or at ``rate`` per second), each paid when its placement
    is seen, until the customer's inbox entry exists: orders per second and latencies."""
    customer = builders.customer()
    commands = [builders.place_order(customer) for _ in range(count)]
    sent: dict[str, float] = {}
    done: dict[str, float] = {}
    deposited: set[str] = set()

    async def on_event(event: Any) -> None:
        order_id = event.json.get("order_id") if event.type else None
        if order_id not in sent:
            return
        if event.type == "orders.order.placed.v2" and order_id not in deposited:
            deposited.add(order_id)
            required = Decimal(event.json["required_deposit_vnd"])
            asyncio.get_running_loop().create_task(bus.emit(builders.deposit(order_id, required)))
        elif event.type == "notifications.notification.created.v1":
            done.setdefault(order_id, time.monotonic())

    bus.on_event = on_event
    started = time.monotonic()
    for index, command in enumerate(commands):
        if rate:
            await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
        sent[str(command.order_id)] = time.monotonic()
        await bus.send(command)
    deadline = time.monotonic() + 300
    while len(done) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    bus.on_event = None
    latencies = [(done[k] - sent[k]) * 1000 for k in done]
    return len(done) / (max(done.values()) - started), latencies


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--rounds", type=int, default=3, help="single hop rounds, interleaved with the raw floor"
    )
    parser.add_argument("--commands", type=int, default=4000, help="single hop, saturation")
    parser.add_argument("--rate", type=float, default=200.0, help="single hop, offered rate")
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="single hop, fixed-rate duration"
    )
    parser.add_argument("--orders", type=int, default=400, help="orders the commands spread over")
    parser.add_argument("--flow-orders", type=int, default=500)
    parser.add_argument("--flow-rate", type=float, default=5.0, help="full flow latency, orders/s")
    parser.add_argument(
        "--seed", type=int, default=200_000, help="orders seeded for the read side (0 skips)"
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--single-hop-only", action="store_true", help="stop after the single hop (for tuning)"
    )
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="services trace every message (OTLP to a receiver in this process)",
    )
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.commands, arguments.seconds, arguments.orders = 1000, 5.0, 100
        arguments.flow_orders, arguments.seed, arguments.requests = 100, 20_000, 100
        arguments.rounds = 2
    asyncio.run(main(arguments))
