"""Which test namespaces a live process still owns, so that a later run removes what a killed
run left behind on the shared servers.

A run that is killed (a hung test past CI's limit, a second Ctrl-C, SIGKILL) cannot clean
up: its queues, users and databases stay on the machine's RabbitMQ and PostgreSQL. RabbitMQ
then recovers every one of those quorum queues at each boot — a broker holding the leftovers
of a few killed runs answered ping but took more than ten minutes to accept connections.

So each namespace is leased, when it is made, to the process that made it (a file named
after the namespace, holding the process id and its start time, which tell a reused id
apart). A lease whose process is gone is abandoned; the next run claims it and removes the
namespace from the servers it uses. Only namespaces this harness made are ever touched.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

LEASES_ENV = "AZL_TEST_LEASES"
_DEFAULT_DIRECTORY = "/var/tmp/azl-test-namespaces"


def directory() -> Path:
    return Path(os.environ.get(LEASES_ENV, _DEFAULT_DIRECTORY))


def _started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22),
    or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may itself hold spaces
    return stat.rsplit(")", 1)[1].split()[19]


def take(namespace: str) -> None:
    """Lease ``namespace`` to this process."""
    leases = directory()
    leases.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    (leases / namespace).write_text(json.dumps({"pid": pid, "started": _started(pid)}))


def release(namespace: str) -> None:
    """Its namespace is gone from the servers: nothing is left to sweep."""
    with contextlib.suppress(FileNotFoundError):
        (directory() / namespace).unlink()


def _owner_alive(lease: Path) -> bool:
    try:
        owner = json.loads(lease.read_text())
    except (OSError, ValueError):
        return False  # half written by a process killed while writing it
    if not isinstance(owner, dict):
        return False
    pid, started = owner.get("pid"), owner.get("started")
    return isinstance(pid, int) and started is not None and _started(pid) == started


def claim_abandoned() -> list[str]:
    """The namespaces whose owner is gone, each claimed by this process (renamed under its
    own lease, so that two runs starting together never sweep the same one); the caller
    removes them from the servers and then ``release``s them."""
    leases = directory()
    if not leases.is_dir():
        return []
    claimed = []
    for lease in sorted(leases.iterdir()):
        if lease.name.startswith(".") or _owner_alive(lease):
            continue
        with contextlib.suppress(FileNotFoundError):  # another run claimed it first
            lease.rename(leases / f".{lease.name}.claimed")
            take(lease.name)
            (leases / f".{lease.name}.claimed").unlink()
            claimed.append(lease.name)
    return claimed
