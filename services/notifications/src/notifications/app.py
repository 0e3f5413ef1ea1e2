"""The one wiring place of the notifications service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from azl_kit.service import ServiceDefinition, build_app
from azl_kit.waiting import Waits

from . import api, ports
from .delivery import delivery_loop
from .domain import StaffDirectory
from .handlers import Context, build_handlers
from .settings import NotificationsSettings
from .storage import NotificationsUnitOfWork
from .templates import Renderer

MIGRATIONS = Path(__file__).parent / "migrations"
UNIT_OF_WORK: type[ports.UnitOfWork] = NotificationsUnitOfWork  # mypy holds it to the port


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    context = Context(
        staff=StaffDirectory(
            emails=tuple(str(e) for e in settings.staff_emails), language=settings.staff_language
        ),
        renderer=Renderer(),
        waits=Waits(settings.order_wait_seconds),
        allow_private_webhook_targets=settings.webhook_allow_private_targets,
    )
    return build_app(
        ServiceDefinition(
            settings=settings,
            handlers=build_handlers(context),
            uow_factory=NotificationsUnitOfWork,
            migrations=MIGRATIONS,
            routers=[api.router],
            background=[delivery_loop],
            title="AZL notifications",
            description="Notifications: alerts to customers, staff and subscribed systems; "
            "the in-app inbox; each order's conversation and notes.",
        )
    )
