"""The one wiring place of the fees service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from azl_kit.service import ServiceDefinition, build_app
from azl_kit.settings import ServiceSettings

from .catalog import load_catalog
from .handlers import build_handlers
from .settings import FeesSettings
from .storage import FeesUnitOfWork

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or FeesSettings()
    catalog = load_catalog()
    return build_app(
        ServiceDefinition(
            settings=settings,
            handlers=build_handlers(catalog),
            uow_factory=FeesUnitOfWork,
            migrations=MIGRATIONS,
            title="AZL fees",
            description=f"Fees: the catalog (version {catalog.version}), pricing and the ledger.",
        )
    )
