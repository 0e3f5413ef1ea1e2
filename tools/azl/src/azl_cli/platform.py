"""Run the whole platform locally as processes: migrations, the four services and the
reply relay (which delivers RPC replies to callers using direct reply-to).

Each service migrates its own database on start (creating it if needed); this starts them,
waits until each answers ``/readyz``, prints where everything is, and on Ctrl-C stops them
all gracefully (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

from . import development
from .deployment import declare_topology
from .failures import Failure, TimedOut, reaching_broker

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
SERVICES = {"orders": 8001, "fees": 8002, "notifications": 8003, "complaints": 8004}


@dataclass
class Running:
    name: str
    port: int
    process: subprocess.Popen[bytes]


def _ready(port: int, host: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/readyz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start(env: dict[str, str], host: str = "127.0.0.1") -> list[Running]:
    """Each service, and the relay, connects as its own broker user (never the operator)."""
    amqp_url = env.get("AZL_AMQP_URL", DEFAULT_AMQP_URL)
    namespace = env.get("AZL_NAMESPACE", "azl")

    def as_user(role: str) -> dict[str, str]:
        return {**env, "AZL_AMQP_URL": development.url_as(amqp_url, namespace, role, env)}

    running = []
    for name, default_port in SERVICES.items():
        port = int(env.get(f"AZL_{name.upper()}_HTTP_PORT", default_port))
        service_env = {**as_user(name), "AZL_HTTP_PORT": str(port), "AZL_HTTP_HOST": host}
        process = subprocess.Popen([sys.executable, "-m", name], env=service_env)
        running.append(Running(name, port, process))
    relay = subprocess.Popen([sys.executable, "-m", "azl_kit.reply_relay"], env=as_user("relay"))
    running.append(Running("reply-relay", 0, relay))  # no HTTP: ready when it runs
    return running


def wait_ready(
    running: list[Running], host: str, timeout: float, signals: StopSignals | None = None
) -> None:
    deadline = time.monotonic() + timeout
    pending = list(running)
    while pending and not (signals and signals.received):
        for service in list(pending):
            if service.process.poll() is not None:
                raise Failure(
                    f"{service.name} exited with {service.process.returncode} while starting",
                    "its log above says why",
                )
            if service.port == 0 or _ready(service.port, host):
                pending.remove(service)
        if time.monotonic() > deadline:
            raise TimedOut(
                f"not ready within {timeout:g} s: {', '.join(s.name for s in pending)}",
                "their logs above say what they wait for; or raise --ready-timeout",
            )
        time.sleep(0.3)


def stop(running: list[Running], grace: float = 25.0) -> int:
    for service in running:
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    worst = 0
    for service in running:
        try:
            code = service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            service.process.kill()
            code = service.process.wait()
        worst = worst or code
    return worst


class StopSignals:
    """Ctrl-C (SIGINT), a process manager's SIGTERM and a closed terminal's SIGHUP each ask
    ``azl run`` to stop its services. The handler only notes the request and the loops look
    at it: an exception raised at an arbitrary point (KeyboardInterrupt) can land inside
    ``subprocess``'s own locking and leave the stop waiting on a child forever, and without
    a handler SIGTERM killed this process alone, leaving its services running, orphaned."""

    def __init__(self) -> None:
        self.received: str | None = None
        for stop_signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(stop_signal, self._note)

    def _note(self, signum: int, _frame: object) -> None:
        self.received = signal.Signals(signum).name


def run(host: str = "127.0.0.1", ready_timeout: float = 90.0) -> int:
    env = dict(os.environ)
    # the deployment's part, as the operator (AZL_OPERATOR_AMQP_URL, else the services'
    # URL): services only check exchanges and queues, their users may not create them
    operator_url = env.get("AZL_OPERATOR_AMQP_URL") or env.get("AZL_AMQP_URL", DEFAULT_AMQP_URL)
    namespace = env.get("AZL_NAMESPACE", "azl")
    with reaching_broker(operator_url, option="AZL_OPERATOR_AMQP_URL or AZL_AMQP_URL"):
        asyncio.run(declare_topology(operator_url, namespace))
    try:
        created = development.ensure_users(namespace, env)
    except development.UsersUnavailable as missing:
        print(f"not started: {missing}", file=sys.stderr, flush=True)
        return 2
    if created:
        print(f"created broker users: {', '.join(created)}", flush=True)
    signals = StopSignals()
    running = start(env, host)
    try:
        wait_ready(running, host, ready_timeout, signals)
        if not signals.received:
            _print_where(running, host, namespace)
        while not signals.received and all(s.process.poll() is None for s in running):
            time.sleep(0.5)
        if signals.received:
            print(f"\nstopping ({signals.received})…", flush=True)
            return stop(running)
        dead = [s.name for s in running if s.process.poll() is not None]
        print(f"stopping: {', '.join(dead)} exited", file=sys.stderr, flush=True)
        return stop(running) or 1
    except BaseException:
        stop(running)
        raise


def _print_where(running: list[Running], host: str, namespace: str) -> None:
    print(f"\nAZL Orders is running (namespace {namespace!r}); Ctrl-C stops it.\n", flush=True)
    for service in running:
        if service.port == 0:
            continue
        base = f"http://{host}:{service.port}"
        print(
            f"  {service.name:<14} API {base}/docs   AsyncAPI {base}/asyncapi   "
            f"metrics {base}/metrics",
            flush=True,
        )
    print(flush=True)
