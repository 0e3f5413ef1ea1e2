"""The one wiring place of the orders service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from azl_kit.service import ServiceDefinition, build_app

from . import api, ports
from .handlers import build_handlers
from .scheduler import auto_complete_loop
from .settings import OrdersSettings
from .storage import OrdersUnitOfWork

MIGRATIONS = Path(__file__).parent / "migrations"
UNIT_OF_WORK: type[ports.UnitOfWork] = OrdersUnitOfWork  # mypy holds the storage to the port


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    settings = settings or OrdersSettings()
    return build_app(
        ServiceDefinition(
            settings=settings,
            handlers=build_handlers(deposit_ratio=settings.deposit_ratio),
            uow_factory=OrdersUnitOfWork,
            migrations=MIGRATIONS,
            routers=[api.router],
            background=[auto_complete_loop],
            title="AZL orders",
            description="Orders: every state transition of an order, and the order read API.",
        )
    )
