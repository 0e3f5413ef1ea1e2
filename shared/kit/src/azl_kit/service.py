"""The service app factory: everything a service runs, built from its settings.

A service describes itself once (``ServiceDefinition``: settings, handlers, unit of work,
migrations, HTTP routers, background jobs); ``build_app`` turns that into a FastAPI app
whose lifespan creates and migrates the database, connects to RabbitMQ, declares the
topology, starts one consumer per queue and the outbox relay, and on shutdown stops taking
messages, lets in-flight ones finish (or go back to the queue), and flushes the outbox.
Nothing connects at import time.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from azl_contracts.export import asyncapi_document
from azl_contracts.topology import queues_of

from . import broker, outbox, tracing
from .authorisation import Authorisation
from .broker import Broker
from .db import create_engine, ensure_database, migrate, transaction
from .dead_letters import DeadLetters
from .flow import FlowContext
from .handlers import Handlers
from .http import ERROR_RESPONSES, RefuseNul
from .http_access import ObservedHttp
from .logging import configure_logging, get_logger
from .metrics import Metrics
from .outbox import OutboxRelay
from .pausing import PauseSettings, PauseSwitch, ProbeLoop, State
from .pipeline import MessagePipeline
from .publisher import Publisher
from .retry import FailureKind, RetryPolicy
from .retrying import Exhausted, retrying
from .settings import ServiceSettings
from .topology import Topology
from .uow import UnitOfWork

log = get_logger(__name__)

S = TypeVar("S", bound=ServiceSettings)
U = TypeVar("U", bound=UnitOfWork)

# A job the service runs beside its consumers (a scheduler), given the running service.
BackgroundJob = Callable[["ServiceRuntime[S, U]"], Coroutine[Any, Any, None]]


@dataclass
class ServiceDefinition(Generic[S, U]):
    """A service, generic in its settings class and its unit of work: what its background
    jobs are handed is typed as the service's own (no downcasts)."""

    settings: S
    handlers: Handlers[Any]
    migrations: Path
    uow_factory: Callable[[AsyncConnection, FlowContext], U]
    routers: Sequence[APIRouter] = ()
    background: Sequence[BackgroundJob[S, U]] = ()
    title: str = ""
    description: str = ""


@dataclass
class ServiceRuntime(Generic[S, U]):
    """What a running service holds; reachable from HTTP routes as ``app.state.runtime``."""

    definition: ServiceDefinition[S, U]
    metrics: Metrics = field(default_factory=Metrics)
    engine: AsyncEngine | None = None
    broker: Broker | None = None
    relay: OutboxRelay | None = None
    relay_engine: AsyncEngine | None = None
    ready: bool = False
    switch: PauseSwitch | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def settings(self) -> S:
        return self.definition.settings

    @property
    def topology(self) -> Topology:
        return Topology(self.settings.namespace, self.settings.broker_delivery_limit)

    def database(self) -> AsyncEngine:
        if self.engine is None:
            raise RuntimeError("the service is not started")
        return self.engine

    def transaction(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A unit of work's transaction for work not caused by a message (schedulers), the
        same kind the pipeline runs each message in."""
        return transaction(self.database())

    def new_unit_of_work(self, conn: AsyncConnection, flow: FlowContext | None = None) -> U:
        """For work not caused by a message (schedulers): a flow of its own."""
        return self.definition.uow_factory(conn, flow or FlowContext.new())

    async def commit_events(self, conn: AsyncConnection, uow: U) -> list[outbox.Stored]:
        """Store what ``uow`` collected in the outbox (within ``conn``'s transaction); once
        the transaction committed, hand the result to ``publish_committed``."""
        return await outbox.store(
            conn, await outbox.collect(uow, namespace=self.settings.namespace)
        )

    async def publish_committed(self, stored: list[outbox.Stored]) -> None:
        if self.relay is not None:
            await self.relay.publish_committed(stored)

    async def start(self) -> None:
        settings = self.settings
        self.definition.handlers.retire(settings.retired_message_types)
        missing = self.definition.handlers.uncovered(settings.service, commands=False)
        if missing:
            raise RuntimeError(f"{settings.service} has no handler for {', '.join(missing)}")
        url = settings.effective_database_url
        if settings.create_database:
            await self._when_reachable("database", lambda: ensure_database(url))
        self.engine = create_engine(
            url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
        )
        engine = self.engine
        await self._when_reachable("database", lambda: migrate(engine, self.definition.migrations))

        self.broker = Broker(
            settings.amqp_url.get_secret_value(),
            app_id=settings.service,
            graceful_timeout=settings.graceful_timeout,
        )
        topology = self.topology
        publisher = Publisher(settings.service, settings.broker_user)
        self.relay_engine = create_engine(url, pool_size=2, max_overflow=0)
        self.relay = OutboxRelay(
            self.relay_engine,
            publisher,
            self.metrics,
            batch_size=settings.outbox_batch_size,
            poll_interval=settings.outbox_poll_interval,
            grace=settings.outbox_grace,
        )
        dead_letters = DeadLetters(
            publisher, exchange=topology.dead_letters.name, service=settings.service
        )
        retry = RetryPolicy(
            max_attempts=settings.retry_max_attempts,
            base_delay=settings.retry_base_delay,
            max_delay=settings.retry_max_delay,
            conflict_max_attempts=settings.conflict_max_attempts,
            unexpected_max_attempts=settings.unexpected_max_attempts,
            waiting_timeout=settings.retry_later_timeout,
        )
        switch = self._pause_switch()
        specs = queues_of(settings.service)
        for spec in specs:
            pipeline = MessagePipeline(
                service=settings.service,
                namespace=settings.namespace,
                queue=spec,
                handlers=self.definition.handlers,
                uow_factory=self.definition.uow_factory,
                engine=self.engine,
                publisher=publisher,
                relay=self.relay,
                dead_letters=dead_letters,
                retry=retry,
                metrics=self.metrics,
                max_message_bytes=settings.max_message_bytes,
                redelivery_limit=settings.redelivery_limit,
                authorise=Authorisation.trusted(spec, settings.user_prefix),
                switch=switch,
            )
            self.broker.consume(
                topology.queue(spec),
                pipeline,
                prefetch=settings.prefetch,
            )

        await self._when_reachable("broker", self.broker.connect)
        exchanges, queues = topology.checked(specs)
        await deployment_topology_declared(
            self.broker, exchanges, queues, timeout=self.settings.startup_timeout
        )
        publisher.bind(await topology.declare(self.broker, specs))
        await self.broker.start()
        self.relay.start()
        if switch is not None:
            probes = ProbeLoop(switch, [self._database_answers, self._broker_answers])
            self._tasks.append(asyncio.create_task(probes.run(), name="outage-probe"))
        for job in self.definition.background:
            self._tasks.append(asyncio.create_task(job(self), name=getattr(job, "__name__", "job")))
        _settle_garbage_collector()
        self.ready = True
        log.info("service started", queues=[topology.name(s.name) for s in specs])

    async def _when_reachable(self, what: str, step: Callable[[], Awaitable[Any]]) -> None:
        await when_reachable(what, step, timeout=self.settings.startup_timeout)

    def _pause_switch(self) -> PauseSwitch | None:
        settings = self.settings
        if settings.pause_max_per_message == 0:
            return None
        switch = PauseSwitch(
            PauseSettings(
                trip_after=settings.pause_trip_after,
                probe_base=settings.pause_probe_base,
                probe_max=settings.pause_probe_max,
                max_pauses_per_message=settings.pause_max_per_message,
            )
        )
        metrics = self.metrics

        def show(state: State) -> None:
            metrics.consumer_paused.set(1 if state is State.PAUSED else 0)
            if state is State.PAUSED:
                metrics.consumer_pauses.inc()

        switch.on_change(show)
        self.switch = switch
        return switch

    async def _database_answers(self) -> bool:
        async with self.database().connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def _broker_answers(self) -> bool:
        return self.broker is not None and await self.broker.ping(timeout=2.0)

    async def stop(self) -> None:
        """Within the graceful timeout whatever state the connections are in: held and
        retrying messages are let go (unsettled, the broker takes them back), background
        jobs cancelled, and each step that waits on a connection bounded."""
        self.ready = False
        deadline = asyncio.get_running_loop().time() + self.settings.graceful_timeout

        def left(cap: float) -> float:
            return max(0.1, min(cap, deadline - asyncio.get_running_loop().time()))

        if self.switch is not None:
            self.switch.stop()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=left(5.0))
            for task in pending:
                log.warning("background job did not stop in time", job=task.get_name())
        if self.broker is not None:
            # stops consuming, waits for in-flight messages
            await _bounded("broker", self.broker.stop(), left(self.settings.graceful_timeout))
        if self.relay is not None:
            await _bounded("outbox relay", self.relay.stop(), left(5.0))
        for engine in (self.engine, self.relay_engine):
            if engine is not None:
                await _bounded("database pool", engine.dispose(), left(3.0))
        tracing.shutdown()
        log.info("service stopped")

    async def is_ready(self) -> tuple[bool, dict[str, str]]:
        checks: dict[str, str] = {}
        checks["started"] = "ok" if self.ready else "starting"
        if self.switch is not None and self.switch.paused:
            checks["consumers"] = f"paused: {self.switch.reason}"
        broker_ok = self.broker is not None and await self.broker.ping(timeout=1.0)
        checks["broker"] = "ok" if broker_ok else "unreachable"
        try:
            async with self.database().connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=2.0)
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"unreachable: {type(error).__name__}"
        return all(v == "ok" for v in checks.values()), checks


class TopologyMissing(RuntimeError):
    pass


async def deployment_topology_declared(
    bus: Broker,
    exchanges: list[str],
    queues: list[str],
    *,
    timeout: float,
    interval: float = 1.0,
) -> None:
    """Wait, up to ``timeout``, for the deployment to declare the shared exchanges and this
    service's queues: a service may not create them (its broker user has no configure
    right), so one started before the broker definitions were loaded, or before ``azl run``
    declared them, waits as it waits for the broker itself, saying what it waits for, then
    fails naming what is missing."""
    deadline = asyncio.get_running_loop().time() + timeout
    while missing := await bus.missing(exchanges=exchanges, queues=queues):
        if asyncio.get_running_loop().time() >= deadline:
            raise TopologyMissing(
                f"{missing} do not exist after {timeout:.0f} s: the deployment declares "
                "them (broker definitions, `azl declare-topology`, `azl run`), never a service"
            )
        log.warning(
            "topology not declared yet (the deployment declares it); waiting", missing=missing
        )
        await asyncio.sleep(interval)


async def when_reachable(what: str, step: Callable[[], Awaitable[Any]], *, timeout: float) -> None:
    """Run ``step``, waiting out a broker or database that is briefly away (still starting,
    or out of connections) instead of failing; a fault that is not transient fails at once."""
    policy = RetryPolicy(max_delay=5.0, waiting_timeout=timeout, waiting_base_delay=0.5)

    def classify(error: BaseException) -> FailureKind | None:
        transient = policy.classify(error) is not FailureKind.UNEXPECTED
        transient = transient or broker.unreachable(error)
        return FailureKind.WAITING if transient else None  # waiting for it, up to ``timeout``

    def report(kind: FailureKind, attempt: int, delay: float, error: BaseException) -> None:
        log.warning(f"{what} not reachable yet; retrying", error=repr(error)[:300], delay=delay)

    reached = await retrying(step, policy, classify=classify, on_retry=report)
    if isinstance(reached, Exhausted):
        raise reached.error


async def _bounded(what: str, step: Coroutine[Any, Any, Any], timeout: float) -> None:
    """A stop step that may hang on a dead connection, given up after ``timeout``."""
    try:
        await asyncio.wait_for(step, timeout=timeout)
    except TimeoutError:
        log.warning(f"stopping the {what} timed out; going on", timeout=round(timeout, 1))
    except Exception as error:
        log.warning(f"stopping the {what} failed; going on", error=repr(error)[:300])


def _settle_garbage_collector() -> None:
    """Full collections of everything imported and built at start-up stalled the event loop
    for over 100 ms (the benchmark's p99). Frozen, those objects are never scanned again;
    per-message garbage is mostly freed by reference counting, so collections can be rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def build_app(definition: ServiceDefinition[S, U]) -> FastAPI:
    settings = definition.settings
    runtime = ServiceRuntime(definition)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service, settings.log_level)
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title=definition.title or f"AZL {settings.service}",
        description=definition.description,
        version="1.0.0",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.add_middleware(RefuseNul)
    if tracing.configure(settings.service):  # decided once, before anything is built
        app.add_middleware(tracing.HttpSpans)
    app.add_middleware(ObservedHttp, metrics=runtime.metrics)  # outermost: sees every request
    app.include_router(operations_router())
    for router in definition.routers:
        app.include_router(router, responses=ERROR_RESPONSES)
    return app


ASYNCAPI_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AZL Orders — AsyncAPI</title>
<link rel="stylesheet" href="https://unpkg.com/@asyncapi/react-component@1.4.10/styles/default.min.css">
</head><body>
<div id="asyncapi"></div>
<script src="https://unpkg.com/@asyncapi/react-component@1.4.10/browser/standalone/index.js"></script>
<script>
AsyncApiStandalone.render({schema: {url: "asyncapi.json"}, config: {show: {sidebar: true}}},
  document.getElementById("asyncapi"));
</script>
</body></html>
"""


def operations_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        """Started, connected to RabbitMQ and PostgreSQL."""
        ready, checks = await request.app.state.runtime.is_ready()
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @router.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {
                "description": f"Prometheus's text exposition format ({CONTENT_TYPE_LATEST})",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    async def metrics(request: Request) -> Response:
        """Prometheus metrics: messages, retries, dead letters, outbox, consumers paused, HTTP
        requests, the process (docs/operations.md lists them)."""
        registry = request.app.state.runtime.metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @router.get("/asyncapi", response_class=HTMLResponse)
    async def asyncapi_page() -> str:
        """The AsyncAPI document, rendered (the browser loads AsyncAPI's web component)."""
        return ASYNCAPI_PAGE

    @router.get("/asyncapi.json")
    async def asyncapi() -> dict[str, Any]:
        """The AsyncAPI document of the whole platform's topology."""
        return asyncapi_document()

    return router
