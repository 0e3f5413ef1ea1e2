"""The one wiring place of the complaints service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from azl_kit.service import ServiceDefinition, build_app
from azl_kit.waiting import Waits

from . import api, ports
from .handlers import build_handlers
from .settings import ComplaintsSettings
from .storage import ComplaintsUnitOfWork

MIGRATIONS = Path(__file__).parent / "migrations"
UNIT_OF_WORK: type[ports.UnitOfWork] = ComplaintsUnitOfWork  # mypy holds the storage to the port


def create_app(settings: ComplaintsSettings | None = None) -> FastAPI:
    settings = settings or ComplaintsSettings()
    app = build_app(
        ServiceDefinition(
            settings=settings,
            handlers=build_handlers(settings.policy, Waits(settings.order_wait_seconds)),
            uow_factory=ComplaintsUnitOfWork,
            migrations=MIGRATIONS,
            routers=[api.router],
            title="AZL complaints",
            description="Complaints: claims, disputes and refund requests, their lifecycle "
            "and comment thread.",
        )
    )
    app.state.policy = settings.policy
    return app
