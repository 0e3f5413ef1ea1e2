"""Operating it: the README's run command starts the platform, ``azl demo`` drives an
order through it, ``azl story`` shows the result, and Ctrl-C stops every process cleanly."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from azl_testing.infra import Infra, broker_passwords
from azl_testing.processes import JWT_SECRET, free_port

SERVICES = ("orders", "fees", "notifications", "complaints")


def _cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "azl_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _still_running(namespace: str) -> list[int]:
    """Processes of this namespace's platform that are still alive."""
    alive = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if f"AZL_NAMESPACE={namespace}".encode() in environ.split(b"\0"):
            alive.append(int(proc.name))
    return alive


class _Output:
    """``azl run``'s standard output, read line by line on a thread so that waiting for a
    line has a deadline and ends, with what was printed, if the process dies."""

    def __init__(self, run: subprocess.Popen[str]) -> None:
        assert run.stdout is not None
        self._run = run
        self._stdout = run.stdout
        self._queue: queue.Queue[str] = queue.Queue()
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._stdout:
            self._queue.put(line)
        self._queue.put("")  # end of output

    def until(
        self, condition: Callable[[list[str]], bool], log_dir: Path, timeout: float = 120
    ) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self.lines):
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(
                    f"azl run printed no such line in {timeout:g} s:\n{self._shown(log_dir)}"
                )
            if line == "":
                code = self._run.wait(timeout=30)
                pytest.fail(
                    f"azl run ended (exit {code}) before it was ready:\n{self._shown(log_dir)}"
                )
            self.lines.append(line)

    def close(self) -> None:
        """After the process ended: the reader has seen the end of its output."""
        self._reader.join(timeout=30)
        self._stdout.close()

    def _shown(self, log_dir: Path) -> str:
        stderr = (log_dir / "run.log").read_text(errors="replace")[-3000:]
        return "".join(self.lines) + "\n--- stderr ---\n" + stderr


def _run_environment(infra: Infra) -> dict[str, str]:
    ports = {name: free_port() for name in SERVICES}
    return {
        **os.environ,
        **infra.service_env("orders"),
        # as on a developer's machine: the operator's URL, and the namespace's users (made
        # by the harness here, so their passwords are given as compose gives them)
        "AZL_AMQP_URL": infra.amqp_url,
        **broker_passwords(infra),
        "AZL_JWT_SECRET": JWT_SECRET,
        **{f"AZL_{name.upper()}_HTTP_PORT": str(port) for name, port in ports.items()},
        **{f"AZL_{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in ports.items()},
    }


def _azl_run(env: dict[str, str], log_dir: Path) -> tuple[subprocess.Popen[str], _Output]:
    with (log_dir / "run.log").open("w") as log:  # the child keeps its own descriptor
        run = subprocess.Popen(
            [sys.executable, "-m", "azl_cli", "run"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    return run, _Output(run)


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_run_command_demo_story_and_ctrl_c(fresh_infra: Infra, tmp_path: Path) -> None:
    env = _run_environment(fresh_infra)
    ports = {name: int(env[f"AZL_{name.upper()}_HTTP_PORT"]) for name in SERVICES}
    run, output = _azl_run(env, tmp_path)
    try:
        # ready, then where every API, AsyncAPI page and metrics endpoint is
        output.until(lambda lines: any("is running" in line for line in lines), tmp_path)
        output.until(
            lambda lines: sum("API http" in line for line in lines) >= len(SERVICES), tmp_path
        )
        listing = "".join(output.lines)
        for port in ports.values():
            assert f"http://127.0.0.1:{port}/docs" in listing
            assert f"http://127.0.0.1:{port}/asyncapi" in listing
            assert f"http://127.0.0.1:{port}/metrics" in listing

        demo = _cli("demo", env=env)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "orders.order.completed.v1" in demo.stdout
        order_id = demo.stdout.rsplit("demo order ", 1)[1].split()[0]

        story = _cli("story", order_id, "--json", env=env)
        assert story.returncode == 0, story.stderr
        whole = json.loads(story.stdout)
        assert whole["order"]["status"] == "completed"
        assert [h["to_status"] for h in whole["order"]["history"]][-2:] == [
            "delivered",
            "completed",
        ]
        ledger = whole["ledger"]
        assert ledger["refunds_total_vnd"] == 150_000  # the complaint's refund
        # the refund paid money back: the order cost less, the customer paid less, and the
        # order stays settled (spec §4)
        assert ledger["balance_due_vnd"] == 0
        assert ledger["cost_vnd"] == ledger["paid_vnd"]
        assert ledger["paid_vnd"] == ledger["payments_total_vnd"] - 150_000
        assert whole["order"]["payment_status"] == "paid"
        assert [c["status"] for c in whole["complaints"]["items"]] == ["resolved"]
        assert {"purchase_fee", "international_shipping", "bubble_wrap"} <= set(ledger["fees"])
        assert (
            ledger["payments_total_vnd"] == ledger["goods_total_vnd"] + ledger["charges_total_vnd"]
        )
        readable = _cli("story", order_id, env=env)
        assert "Hoàn thành" in readable.stdout
        print("\n".join(line for line in readable.stdout.splitlines() if "₫" in line[-3:]))
        assert "  due: 0 ₫" in readable.stdout
    finally:
        run.send_signal(signal.SIGINT)  # Ctrl-C
        code = run.wait(timeout=60)
        output.close()
    assert code == 0, (tmp_path / "run.log").read_text()[-3000:]
    assert _still_running(fresh_infra.namespace) == []


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_process_managers_stop_signal_stops_every_service(
    fresh_infra: Infra, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    """SIGTERM (a process manager, ``timeout``, ``kill``) and SIGHUP (a closed terminal)
    stop the platform as Ctrl-C does: no service is left running on the namespace."""
    run, output = _azl_run(_run_environment(fresh_infra), tmp_path)
    output.until(lambda lines: any("is running" in line for line in lines), tmp_path)
    run.send_signal(stop_signal)
    code = run.wait(timeout=60)
    orphans = _still_running(fresh_infra.namespace)
    _kill(orphans)  # so that they release the output pipe and the test ends, failing
    output.close()
    assert orphans == [], f"{len(orphans)} processes outlived azl run"
    assert code == 0, (tmp_path / "run.log").read_text()[-3000:]
