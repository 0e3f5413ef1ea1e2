"""The contract is language-neutral: a Node.js client (``examples/node``, npm's amqplib)
places an order and reads its outcome knowing only the published AsyncAPI document and
JSON Schemas, and the official AsyncAPI parser finds nothing wrong with that document.

Run when ``node`` is on PATH (CI has it); ``npm ci`` installs the locked packages first."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from azl_testing.bus import Bus
from azl_testing.infra import Infra
from azl_testing.tokens import bearer

from .conftest import Platform

NODE_EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "node"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


@pytest.fixture(scope="module")
def node_modules() -> Path:
    installed = NODE_EXAMPLES / "node_modules"
    if not (installed / ".package-lock.json").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_EXAMPLES, check=True, timeout=600
        )
    return installed


def test_the_official_asyncapi_parser_finds_no_error_and_no_warning(node_modules: Path) -> None:
    ran = subprocess.run(
        ["node", "validate-asyncapi.mjs"],
        cwd=NODE_EXAMPLES,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert " 0 errors, 0 warnings " in ran.stdout


async def test_a_node_client_places_an_order_and_reads_its_outcome(
    node_modules: Path, infra: Infra, platform: Platform, bus: Bus
) -> None:
    ran = await asyncio.to_thread(
        subprocess.run,
        ["node", "place-order.mjs"],
        cwd=NODE_EXAMPLES,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "AZL_AMQP_URL": infra.url_as("storefront"),
            "AZL_NAMESPACE": infra.namespace,
        },
    )
    assert ran.returncode == 0, ran.stderr
    outcome = json.loads(ran.stdout)
    assert outcome["status"] == "accepted"
    assert outcome["command_type"] == "orders.place-order.v2"
    assert [e["type"] for e in outcome["events"]] == [
        "orders.order.placed.v2",
        "orders.order.status-changed.v1",
    ]
    assert outcome["result"]["order_code"].startswith("AZ")
    async with platform.http("orders") as http:
        response = await http.get(
            f"/orders/{outcome['order_id']}", headers=bearer(outcome["customer"])
        )
    assert response.status_code == 200
    order = response.json()
    assert order["info"]["delivery_address"]["address_line"] == "45 Lê Lợi"
    assert order["status"] == "awaiting_deposit"
