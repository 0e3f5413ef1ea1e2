from __future__ import annotations

import pytest
from pydantic import ValidationError

from azl_kit.settings import ServiceSettings


class _Settings(ServiceSettings):
    SERVICE = "orders"


def test_database_url_is_derived_per_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZL_POSTGRES_URL", "postgresql+asyncpg://u@db:5432")
    monkeypatch.setenv("AZL_DATABASE_PREFIX", "azlt1_")
    assert _Settings().effective_database_url == "postgresql+asyncpg://u@db:5432/azlt1_orders"


def test_production_refuses_development_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZL_ENV", "production")
    with pytest.raises(ValidationError, match="unsafe settings"):
        _Settings()
    monkeypatch.setenv("AZL_JWT_SECRET", "a-real-secret-from-the-vault-0123456789")
    monkeypatch.setenv("AZL_AMQP_URL", "amqp://orders:pw@rabbit:5672/")
    assert _Settings().env == "production"


def test_namespace_is_a_safe_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZL_NAMESPACE", "bad name!")
    with pytest.raises(ValidationError):
        _Settings()
