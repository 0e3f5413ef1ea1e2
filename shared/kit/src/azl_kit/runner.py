"""The process entry point of a service: ``python -m <service> [serve|migrate]``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from .db import create_engine, ensure_database, migrate
from .logging import configure_logging
from .service import when_reachable
from .settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def main(
    create_app: Callable[[S], FastAPI],
    settings_class: type[S],
    migrations: Path,
    argv: list[str] | None = None,
) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {settings_class.SERVICE}")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    settings = settings_class()
    configure_logging(settings.service, settings.log_level)
    if args.command == "migrate":
        asyncio.run(_migrate_only(settings, migrations))
        return
    config = uvicorn.Config(
        create_app(settings),
        host=settings.http_host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(settings.graceful_timeout),
    )
    _Server(config).run()


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT after shutting down, so a graceful stop would end
    with status -15; a service that finished its in-flight work exits 0 instead."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


async def _migrate_only(settings: ServiceSettings, migrations: Path) -> None:
    """The one-shot migration step (compose runs it before the service): it waits for a
    database that is still starting, as the service itself does."""
    url = settings.effective_database_url
    timeout = settings.startup_timeout
    if settings.create_database:
        await when_reachable("database", lambda: ensure_database(url), timeout=timeout)
    engine = create_engine(url, pool_size=1)
    try:
        await when_reachable("database", lambda: migrate(engine, migrations), timeout=timeout)
    finally:
        await engine.dispose()
