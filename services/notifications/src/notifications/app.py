"""The one wiring place of the notifications service."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from azl_contracts.notifications import Channel
from azl_kit.service import ServiceDefinition, build_app
from azl_kit.waiting import Waits

from . import api, ports
from .delivery import NotificationsRuntime, delivery_loop
from .domain import StaffDirectory
from .handlers import Context, build_handlers
from .senders import Sender, SmtpSender, WebhookSender
from .settings import NotificationsSettings
from .storage import NotificationsUnitOfWork
from .templates import Renderer

MIGRATIONS = Path(__file__).parent / "migrations"
UNIT_OF_WORK: type[ports.UnitOfWork] = NotificationsUnitOfWork  # mypy holds it to the port


def senders(settings: NotificationsSettings, client: httpx.AsyncClient) -> dict[Channel, Sender]:
    """The delivery worker's sender per channel."""
    return {
        Channel.EMAIL: SmtpSender(settings),
        Channel.WEBHOOK: WebhookSender(
            client,
            settings.webhook_timeout,
            allow_private_targets=settings.webhook_allow_private_targets,
        ),
    }


async def deliveries(runtime: NotificationsRuntime) -> None:
    """The delivery worker, with its senders and their one HTTP client, until the service
    stops."""
    settings = runtime.settings
    async with httpx.AsyncClient(
        timeout=settings.webhook_timeout, follow_redirects=False
    ) as client:
        await delivery_loop(runtime, senders(settings, client))


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
            background=[deliveries],
            title="AZL notifications",
            description="Notifications: alerts to customers, staff and subscribed systems; "
            "the in-app inbox; each order's conversation and notes.",
        )
    )
