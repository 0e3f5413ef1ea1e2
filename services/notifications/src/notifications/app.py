"""The one wiring place of the notifications service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from azl_kit.service import ServiceDefinition, build_app
from azl_kit.settings import ServiceSettings

from . import api
from .handlers import build_handlers
from .settings import NotificationsSettings
from .storage import NotificationsUnitOfWork

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return build_app(
        ServiceDefinition(
            settings=settings or NotificationsSettings(),
            handlers=build_handlers(),
            uow_factory=NotificationsUnitOfWork,
            migrations=MIGRATIONS,
            routers=[api.router],
            title="AZL notifications",
            description="Notifications: alerts to customers, staff and subscribed systems.",
        )
    )
