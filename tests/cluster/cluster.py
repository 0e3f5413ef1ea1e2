"""A local three-node RabbitMQ cluster with HAProxy in front, for failover tests.

The nodes are extra ones (ports 5681–5683), started by ``local-rabbitmq-cluster.sh``; the
machine's own broker is left alone. HAProxy (TCP mode, health-checked backends) gives the
services one address that always leads to a live node — the usual way operators front a
cluster: clients need no list of nodes and reconnect through the same address.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from azl_testing.processes import free_port

# The failover test's figure lines, printed at the end of the run.
RESULTS: list[str] = []

SCRIPT = Path(__file__).with_name("local-rabbitmq-cluster.sh")
SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")  # what the script starts nodes with
REQUIRE_ENV = "AZL_TEST_REQUIRE_CLUSTER"
NODES = 3
PORT_BASE = 5680
HOST = os.uname().nodename.split(".")[0]
BASE = Path(os.environ.get("AZL_TEST_CLUSTER_DIR", "/tmp/azl-rmq-cluster"))


def missing_prerequisites() -> list[str]:
    """What this machine lacks to run the local cluster (nothing on CI's machine)."""
    missing = []
    if not SERVER.exists() or shutil.which("rabbitmqctl") is None or shutil.which("epmd") is None:
        missing.append(
            f"the RabbitMQ server (Debian package rabbitmq-server: {SERVER}, rabbitmqctl)"
        )
    if shutil.which("haproxy") is None:
        missing.append("haproxy (Debian package haproxy)")
    try:
        pwd.getpwnam("rabbitmq")
    except KeyError:
        missing.append("the rabbitmq user the nodes run as")
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != "rabbitmq":
        missing.append("root or the rabbitmq user to start the nodes as")
    return missing


def cluster_required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def unavailable_reason(missing: list[str]) -> str:
    consequence = (
        f"{REQUIRE_ENV}=1 makes that a failure"
        if cluster_required()
        else f"skipped; set {REQUIRE_ENV}=1 to fail instead, as CI does"
    )
    return (
        f"the local 3-node RabbitMQ cluster cannot run here: it needs {'; '.join(missing)}"
        f" ({consequence})"
    )


def node_name(index: int) -> str:
    return f"clu{index}@{HOST}"


def _script(*args: str, timeout: float = 240) -> str:
    result = subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={**os.environ, "BASE": str(BASE)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"cluster {args}: {result.stderr[-2000:]}")
    return result.stdout + result.stderr


HAPROXY_CONFIG = """\
global
    maxconn 4096
defaults
    mode tcp
    timeout connect 2s
    timeout client 3h
    timeout server 3h
    option tcpka
    # a connection attempt to a node that died but is not marked down yet goes to another
    retries 2
    option redispatch 1
frontend amqp
    bind 127.0.0.1:{port}
    default_backend rabbitmq
backend rabbitmq
    balance leastconn
    option tcp-check
    default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
{servers}
"""


@dataclass
class Cluster:
    haproxy_port: int = field(default_factory=free_port)
    haproxy: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.haproxy_port}/"

    def start(self) -> Cluster:
        if shutil.which("haproxy") is None:
            raise RuntimeError("haproxy is not installed (Debian package haproxy)")
        _script("start", str(NODES))
        servers = "\n".join(
            f"    server node{i} 127.0.0.1:{PORT_BASE + i} check" for i in range(1, NODES + 1)
        )
        config = BASE / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(port=self.haproxy_port, servers=servers))
        with (BASE / "haproxy.log").open("ab") as log:
            self.haproxy = subprocess.Popen(
                ["haproxy", "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        time.sleep(0.5)
        return self

    def stop(self) -> None:
        if self.haproxy is not None:
            self.haproxy.terminate()
            self.haproxy.wait(timeout=10)
        _script("stop")

    def ctl(self, *args: str) -> str:
        """rabbitmqctl against whichever node answers."""
        for index in range(1, NODES + 1):
            result = subprocess.run(
                ["rabbitmqctl", "-n", node_name(index), "-q", *args],
                capture_output=True,
                text=True,
                timeout=60,
            )
            if result.returncode == 0:
                return result.stdout
        raise RuntimeError(f"no node answered rabbitmqctl {args}")

    def leader_of(self, queue: str) -> int:
        for line in self.ctl("list_queues", "name", "leader", "--no-table-headers").splitlines():
            name, _, leader = line.partition("\t")
            if name == queue:
                return int(leader.split("@")[0].removeprefix("clu"))
        raise LookupError(queue)

    def members_of(self, queue: str) -> list[str]:
        for line in self.ctl("list_queues", "name", "members", "--no-table-headers").splitlines():
            name, _, members = line.partition("\t")
            if name == queue:
                return [m.strip() for m in members.strip("[]").split(",") if m.strip()]
        raise LookupError(queue)

    def stop_node(self, index: int) -> None:
        _script("stop-node", str(index))

    def kill_node(self, index: int) -> None:
        pid = int((BASE / f"n{index}" / "pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)

    def start_node(self, index: int) -> None:
        _script("start-node", str(index))
