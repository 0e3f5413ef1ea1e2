"""Typed settings read from the environment (``AZL_*``), one class per service.

Unsafe defaults (guest broker credentials, the development JWT secret) are refused outside
development and test.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from yarl import URL

from azl_contracts import trust, versions
from azl_contracts.money import DEFAULT_DEPOSIT_RATIO

DEV_JWT_SECRET = "azl-development-secret-change-me-0123456789"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AZL_", extra="ignore")

    SERVICE: ClassVar[str] = ""
    DEFAULT_HTTP_PORT: ClassVar[int] = 8000

    env: Environment = Environment.DEVELOPMENT
    namespace: str = Field(default="azl", pattern=r"^[a-z][a-z0-9_-]{0,30}$")

    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    broker_user_prefix: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{0,60}$",
        description="How the deployment names its publishers' broker users: publisher p is "
        "<prefix><p> (azl_contracts.trust); <namespace>- if unset.",
    )
    postgres_url: SecretStr = SecretStr("postgresql+asyncpg://postgres@127.0.0.1:5432")
    database_prefix: str = Field(default="azl_", pattern=r"^[a-z][a-z0-9_]{0,40}$")
    database_url: SecretStr | None = Field(
        default=None, description="This service's database; derived from postgres_url if unset."
    )
    create_database: bool = True
    # Measured (docs/configuration.md, "Database connection budget"): one process's consumers,
    # read API and schedulers gain nothing measurable beyond 5 connections on this machine.
    db_pool_size: int = Field(default=5, ge=1, le=200)
    db_max_overflow: int = Field(default=0, ge=0, le=200)

    http_host: str = "127.0.0.1"
    http_port: int | None = Field(default=None, ge=0, le=65535)
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)

    log_level: str = "INFO"
    prefetch: int = Field(default=32, ge=1, le=1000)
    retry_max_attempts: int = Field(default=8, ge=1, le=100)
    retry_base_delay: float = Field(default=0.2, gt=0)
    retry_max_delay: float = Field(default=10.0, gt=0)
    conflict_max_attempts: int = Field(default=50, ge=1)
    unexpected_max_attempts: int = Field(default=3, ge=1)
    retry_later_timeout: float = Field(
        default=300.0,
        gt=0,
        description="How long a message that needs another one first (an event about an "
        "order not seen yet) waits for it before it is dead-lettered.",
    )
    redelivery_limit: int = Field(
        default=10, ge=1, description="Dead-letter a message redelivered this often (crash loop)."
    )
    broker_delivery_limit: int = Field(default=20, ge=1)
    pause_trip_after: int = Field(
        default=3,
        ge=1,
        description="Consecutive outage failures (database unreachable or out of "
        "connections, broker unreachable) of one message that pause the consumers.",
    )
    pause_probe_base: float = Field(
        default=1.0, gt=0, description="First pause between outage probes (seconds)."
    )
    pause_probe_max: float = Field(
        default=30.0, gt=0, description="Longest pause between outage probes (seconds)."
    )
    pause_max_per_message: int = Field(
        default=10,
        ge=0,
        description="Pauses one message may wait through before its retry policy decides "
        "(a message that is its own outage still reaches its DLQ); 0 turns the switch off.",
    )
    max_message_bytes: int = Field(default=1024 * 1024, ge=1024)
    outbox_poll_interval: float = Field(default=1.0, gt=0)
    outbox_grace: float = Field(
        default=10.0, ge=0, description="Rows older than this are published by the sweeper."
    )
    outbox_batch_size: int = Field(default=200, ge=1)
    graceful_timeout: float = Field(default=20.0, gt=0)
    startup_timeout: float = Field(
        default=60.0, gt=0, description="How long start-up waits for the broker and database."
    )
    retired_message_types: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Legacy message versions whose migration window is over, comma-separated "
        "(e.g. orders.place-order.v1): refused with version_retired, never upcast.",
    )

    @field_validator("retired_message_types", mode="before")
    @classmethod
    def _legacy_versions(cls, value: Any) -> tuple[str, ...]:
        names = value.split(",") if isinstance(value, str) else list(value or ())
        return versions.check_retirable(n.strip() for n in names if n.strip())

    @property
    def service(self) -> str:
        return self.SERVICE

    @property
    def user_prefix(self) -> str:
        if self.broker_user_prefix is not None:
            return self.broker_user_prefix
        return trust.default_user_prefix(self.namespace)

    @property
    def broker_user(self) -> str:
        """The user of ``amqp_url``: what this service stamps as ``user_id``."""
        return URL(self.amqp_url.get_secret_value()).user or "guest"

    @property
    def port(self) -> int:
        return self.DEFAULT_HTTP_PORT if self.http_port is None else self.http_port

    @property
    def database_name(self) -> str:
        return f"{self.database_prefix}{self.SERVICE}"

    @property
    def effective_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        server = self.postgres_url.get_secret_value().rstrip("/")
        return f"{server}/{self.database_name}"

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Self:
        if self.env is not Environment.PRODUCTION:
            return self
        problems = []
        if self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
            problems.append("AZL_JWT_SECRET is the development default")
        if "guest:guest@" in self.amqp_url.get_secret_value():
            problems.append("AZL_AMQP_URL uses the guest account")
        if problems:
            raise ValueError("unsafe settings for production: " + "; ".join(problems))
        return self


class DepositRatioSetting(BaseSettings):
    """``AZL_DEPOSIT_RATIO``, the one setting of the deposit rule
    (``azl_contracts.money.required_deposit_vnd``), declared once for the services that
    apply it: orders decides each order's required deposit with it, and the fees quote
    estimates the deposit with the same value. A deployment sets it once for both."""

    model_config = SettingsConfigDict(env_prefix="AZL_", extra="ignore")

    deposit_ratio: Decimal = Field(
        default=DEFAULT_DEPOSIT_RATIO,
        gt=0,
        le=1,
        description="AZL_DEPOSIT_RATIO: the required deposit's share of the goods total.",
    )
