"""The one wiring place of the fees service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from azl_kit.service import ServiceDefinition, build_app

from . import api, ports
from .catalog import load_catalogs
from .handlers import build_handlers
from .settings import FeesSettings
from .storage import FeesUnitOfWork

MIGRATIONS = Path(__file__).parent / "migrations"
UNIT_OF_WORK: type[ports.UnitOfWork] = FeesUnitOfWork  # mypy holds the storage to the port


def create_app(settings: FeesSettings | None = None) -> FastAPI:
    settings = settings or FeesSettings()
    catalogs = load_catalogs()
    app = build_app(
        ServiceDefinition(
            settings=settings,
            handlers=build_handlers(
                catalogs,
                deduct_shipping=settings.deduct_shipping_from_refunds,
                deposit_ratio=settings.deposit_ratio,
            ),
            uow_factory=FeesUnitOfWork,
            migrations=MIGRATIONS,
            routers=[api.router],
            title="AZL fees",
            description=(
                f"Fees: the catalog (version {catalogs.current.version}), pricing and the "
                "per-order ledger."
            ),
        )
    )
    app.state.catalogs = catalogs
    return app
