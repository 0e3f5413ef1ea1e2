"""The running platform: the four services as processes on this run's namespace."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from azl_testing import notifications
from azl_testing.bus import Bus
from azl_testing.infra import Infra
from azl_testing.mail import MailServer
from azl_testing.processes import ServiceProcess
from azl_testing.webhooks import WebhookReceiver

SERVICES = ("orders", "fees", "notifications", "complaints")


@dataclass
class Platform:
    services: dict[str, ServiceProcess]

    def url(self, service: str) -> str:
        return self.services[service].base_url

    def http(self, service: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url(service), timeout=10.0)


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


@pytest.fixture(scope="session")
def mail_server() -> Iterator[MailServer]:
    """The SMTP server the platform's notifications service sends its email to."""
    server = MailServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """An HTTP server for webhook subscriptions (each test makes its own hooks)."""
    receiver = WebhookReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture(scope="session")
def platform(infra: Infra, log_dir: Path, mail_server: MailServer) -> Iterator[Platform]:
    extra_env = {"notifications": notifications.service_env(mail_server.port)}
    processes = {
        name: ServiceProcess(name, infra, log_dir, extra_env=extra_env.get(name, {})).start()
        for name in SERVICES
    }
    try:
        for process in processes.values():
            process.wait_ready()
        yield Platform(processes)
    finally:
        codes = {name: process.stop() for name, process in processes.items()}
        failed = {name: code for name, code in codes.items() if code not in (0, None)}
        assert not failed, f"services did not stop cleanly: {failed}"


@pytest_asyncio.fixture(scope="session")
async def bus(infra: Infra, platform: Platform) -> AsyncIterator[Bus]:
    async with Bus(infra) as client:
        yield client


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)
