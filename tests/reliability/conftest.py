"""Each fault test gets the platform in a namespace of its own, reachable through proxies the
test controls, and adds one line to the summary table printed at the end of the run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from azl_testing.bus import Bus
from azl_testing.infra import Infra
from azl_testing.proxy import Proxy

from .faults import FaultPlatform
from .report import ROWS, table


@pytest.fixture
def fault_infra(fresh_infra: Infra) -> Infra:
    return fresh_infra


def _proxy_for(url: str) -> Proxy:
    parts = urlsplit(url)
    return Proxy(parts.hostname or "127.0.0.1", parts.port or 0).start()


@pytest.fixture
def platform(fault_infra: Infra, tmp_path: Path) -> Iterator[FaultPlatform]:
    amqp = _proxy_for(fault_infra.amqp_url)
    database = _proxy_for(fault_infra.admin_database_url)
    running = FaultPlatform(fault_infra, tmp_path, amqp, database)
    try:
        yield running
    finally:
        running.stop_all()
        amqp.close()
        database.close()


@pytest_asyncio.fixture
async def bus(fault_infra: Infra) -> AsyncIterator[Bus]:
    async with Bus(fault_infra) as client:
        yield client


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ROWS:
        return
    terminalreporter.section("reliability: faults injected into the running platform")
    for line in table():
        terminalreporter.write_line(line)
