"""Every example of the README's "Five minutes with the platform" runs, against the platform.

The blocks after a ``<!-- example -->`` marker are taken as they are written: the shell ones
run in order as one script (a newcomer's terminal, with ``uv run`` and ``curl``), the Python
one as a program. They point at this run's platform through the same settings a newcomer's
``azl run`` defaults stand for (``AZL_AMQP_URL``, ``AZL_NAMESPACE``, ``AZL_<SERVICE>_URL``,
``AZL_JWT_SECRET``)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from azl_testing.bus import Bus
from azl_testing.infra import Infra, broker_passwords
from azl_testing.processes import JWT_SECRET

from .conftest import Platform

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = re.compile(r"<!-- example -->\s*```(\w+)\n(.*?)```", re.DOTALL)


def examples(language: str) -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return [code for lang, code in EXAMPLE.findall(readme) if lang == language]


@pytest.fixture(scope="module")
def environment(infra: Infra, platform: Platform) -> dict[str, str]:
    return {
        **os.environ,
        "AZL_AMQP_URL": infra.amqp_url,
        **broker_passwords(infra),
        "AZL_STOREFRONT_AMQP_URL": infra.url_as("storefront"),
        "AZL_NAMESPACE": infra.namespace,
        "AZL_JWT_SECRET": JWT_SECRET,
        "UV_PROJECT": str(ROOT),
        "UV_FROZEN": "1",
        **{f"AZL_{s.upper()}_URL": platform.url(s) for s in platform.services},
    }


def test_the_readme_has_its_examples() -> None:
    assert len(examples("sh")) >= 5
    assert len(examples("python")) == 1


async def test_the_shell_examples_run_in_order(
    environment: dict[str, str], tmp_path: Path, bus: Bus
) -> None:
    # `azl tail` runs until Ctrl-C: the test runs it for a moment and stops it
    script = "\n".join(examples("sh")).replace(
        "uv run azl tail 'orders.order.#' --bodies",
        "timeout -s INT 3 uv run azl tail 'orders.order.#' --bodies || true",
    )
    ran = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    out = ran.stdout
    quote, _ = json.JSONDecoder().raw_decode(out)
    assert (quote["goods_total_vnd"], quote["required_deposit_vnd"]) == ("901120", "630784")
    outcome = json.loads((tmp_path / "outcome.json").read_text())
    assert outcome["status"] == "accepted"
    order_id, code = outcome["result"]["order_id"], outcome["result"]["order_code"]
    assert "orders.order.deposited.v1" in out  # the deposit taken
    over_http = json.loads(next(line for line in out.splitlines() if '"history"' in line))
    assert (over_http["order_id"], over_http["status"]) == (order_id, "deposited")
    assert f"Order {code} ({order_id}) — deposited" in out  # its story
    await bus.wait_for_order("fees.fee.charged", order_id)


async def test_the_python_example_runs(environment: dict[str, str], tmp_path: Path) -> None:
    [program] = examples("python")
    ran = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", program],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    lines = ran.stdout.splitlines()
    assert lines[0].startswith("quoted ")
    assert lines[1] == "accepted"
    assert re.fullmatch(r"placed AZ\d{8} orders\.order\.placed\.v2", lines[2])
