"""The CLI's failures, as an operator meets them: one line saying what is wrong and what to
do, no traceback unless ``--debug``, and an exit code per kind (docs/operations.md).

Unreachable is a closed local port; timed out a local port that accepts and never answers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from azl_cli import definitions, deployment
from azl_cli.failures import ExitCode
from azl_cli.main import app

ROLE_VARIABLES = [f"AZL_{r.upper().replace('-', '_')}_AMQP_PASSWORD" for r in definitions.ROLES]


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (bound once, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.fixture(autouse=True)
def no_inherited_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZL_AMQP_URL", "AZL_NAMESPACE", "AZL_DEBUG", *ROLE_VARIABLES):
        monkeypatch.delenv(name, raising=False)


def azl(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="azl")


def one_line(result: Result) -> str:
    """The failure as the operator reads it: exactly one line on stderr, no traceback."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert lines[0].startswith("azl: ")
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [
        ["dlq", "list"],
        ["dlq", "replay", "--all"],
        ["dlq", "purge", "--yes"],
        [
            "send",
            "orders.cancel-order",
            '{"actor": {"id": "c1", "role": "customer"}, '
            '"order_id": "7a4c2f6e-2c39-4a55-8d9b-1c2e3f4a5b6c"}',
        ],
        ["tail"],
        ["declare-topology"],
        ["demo"],
        ["pay-deposit", "7a4c2f6e-2c39-4a55-8d9b-1c2e3f4a5b6c", "100000"],
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_an_unreachable_broker_is_one_line_naming_it_and_what_to_do(
    command: list[str], closed_port: int
) -> None:
    result = azl(*command, "--amqp-url", f"amqp://guest:guest@127.0.0.1:{closed_port}/")

    assert result.exit_code == ExitCode.UNREACHABLE, result.output
    line = one_line(result)
    assert f"cannot reach RabbitMQ at guest@127.0.0.1:{closed_port}/ (connection refused)" in line
    assert "--amqp-url / AZL_AMQP_URL" in line
    assert "guest:guest" not in line  # never the password


def test_an_unreachable_service_is_one_line_naming_it_and_its_url_option(
    closed_port: int,
) -> None:
    result = azl("story", "some-order", "--orders-url", f"http://127.0.0.1:{closed_port}")

    assert result.exit_code == ExitCode.UNREACHABLE, result.output
    line = one_line(result)
    assert f"cannot reach the orders service at http://127.0.0.1:{closed_port}/orders/" in line
    assert "(connection refused)" in line
    assert "--orders-url / AZL_ORDERS_URL" in line


def test_a_service_that_does_not_answer_in_time_is_timed_out(silent_port: int) -> None:
    result = azl(
        "story", "some-order", "--orders-url", f"http://127.0.0.1:{silent_port}", "--timeout", "0.3"
    )

    assert result.exit_code == ExitCode.TIMED_OUT, result.output
    assert "the orders service at http://127.0.0.1:" in one_line(result)
    assert "did not answer in time" in one_line(result)


@pytest.mark.parametrize(
    "command", [["dlq", "list"], ["dlq", "replay", "--all"], ["dlq", "purge", "--yes"]]
)
def test_an_unknown_queue_is_a_usage_error_listing_the_queues(
    command: list[str], closed_port: int
) -> None:
    # checked before connecting: the closed port is never tried
    result = azl(
        *command,
        "--queue",
        "orders.no-such-queue",
        "--amqp-url",
        f"amqp://guest:guest@127.0.0.1:{closed_port}/",
    )

    assert result.exit_code == ExitCode.USAGE, result.output
    line = one_line(result)
    assert "azl.orders.no-such-queue.dlq is not a dead-letter queue of namespace 'azl'" in line
    assert "give one of orders.commands, orders.payment-events" in line


def test_a_missing_from_env_variable_is_a_usage_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ROLE_VARIABLES:
        monkeypatch.setenv(name, "a-password-0123456789")
    monkeypatch.delenv("AZL_RELAY_AMQP_PASSWORD")

    result = azl("broker-definitions", "--from-env")

    assert result.exit_code == ExitCode.USAGE, result.output
    line = one_line(result)
    assert line.startswith("azl: --from-env: AZL_RELAY_AMQP_PASSWORD not set: set every")
    assert result.stdout == ""


def test_with_every_from_env_variable_the_definitions_are_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ROLE_VARIABLES:
        monkeypatch.setenv(name, "a-password-0123456789")

    result = azl("broker-definitions", "--from-env")

    assert result.exit_code == ExitCode.OK, result.output
    assert '"users"' in result.stdout


def test_an_unknown_message_type_is_a_usage_error() -> None:
    result = azl("send", "orders.no-such-command", "{}")

    assert result.exit_code == ExitCode.USAGE, result.output
    assert "not sent: no message 'orders.no-such-command'; you can send: " in one_line(result)


def test_a_wrong_option_is_a_usage_error() -> None:
    result = azl("dlq", "list", "--no-such-option")

    assert result.exit_code == ExitCode.USAGE, result.output
    assert "No such option" in result.stderr


def test_a_stale_file_under_check_is_rejected(tmp_path: Path) -> None:
    stale = tmp_path / "definitions.json"
    stale.write_text("{}")

    result = azl("broker-definitions", "--out", str(stale), "--check")

    assert result.exit_code == ExitCode.REJECTED, result.output
    assert f"{stale} is stale: run `azl broker-definitions --out {stale}`" in one_line(result)


def test_an_unexpected_error_says_to_run_with_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(amqp_url: str, namespace: str) -> list[str]:
        raise KeyError("surprise")

    monkeypatch.setattr(deployment, "declare_topology", broken)

    result = azl("declare-topology")

    assert result.exit_code == ExitCode.FAILED, result.output
    assert one_line(result) == (
        "azl: unexpected KeyError: 'surprise': run again with --debug for the traceback, "
        "and report it"
    )


def test_version() -> None:
    assert azl("--version").stdout == "azl 0.1.0\n"
    assert azl("version").stdout == "azl 0.1.0\n"


def _azl_process(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AZL_")}
    return subprocess.run(
        [sys.executable, "-m", "azl_cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


def test_the_installed_command_fails_in_one_line_and_debug_shows_the_traceback(
    closed_port: int,
) -> None:
    url = f"amqp://guest:guest@127.0.0.1:{closed_port}/"

    plain = _azl_process("dlq", "list", "--amqp-url", url)
    debugged = _azl_process("--debug", "dlq", "list", "--amqp-url", url)

    assert plain.returncode == ExitCode.UNREACHABLE
    assert plain.stdout == ""
    [line] = plain.stderr.splitlines()
    assert line.startswith("azl: cannot reach RabbitMQ at guest@127.0.0.1:")
    assert debugged.returncode != 0
    assert "Traceback (most recent call last):" in debugged.stderr
    # the broker's own error, and the plain one raised from it
    assert "aiormq.exceptions.AMQPConnectionError: [Errno 111]" in debugged.stderr
    assert "azl_cli.failures.Unreachable: cannot reach RabbitMQ" in debugged.stderr
