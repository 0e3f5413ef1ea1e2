from __future__ import annotations

from typing import Annotated, Self

from pydantic import EmailStr, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from azl_contracts.common import Language
from azl_kit.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    SERVICE = "notifications"
    DEFAULT_HTTP_PORT = 8003

    # --- email (SMTP) -------------------------------------------------------------------
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool | None = Field(
        default=None, description="STARTTLS: always (true), never (false), when offered (unset)."
    )
    smtp_tls: bool = Field(default=False, description="Implicit TLS (usually port 465).")
    smtp_timeout: float = Field(default=30.0, gt=0, description="Seconds one email may take.")
    smtp_from: str = Field(default="AZLOGISTIC <no-reply@azlogistic.vn>", min_length=3)

    # --- webhooks -----------------------------------------------------------------------
    webhook_timeout: float = Field(default=10.0, gt=0, description="Seconds one call may take.")
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Development only: let webhooks call loopback, private and link-local "
        "addresses (refused otherwise, when subscribing and before each delivery).",
    )

    # --- deliveries (email and webhook) --------------------------------------------------
    delivery_max_attempts: int = Field(default=10, ge=1, le=100)
    delivery_base_delay: float = Field(default=10.0, gt=0, description="First retry delay (s).")
    delivery_max_delay: float = Field(default=3600.0, gt=0, description="Longest retry delay (s).")
    delivery_poll_interval: float = Field(default=1.0, gt=0)
    delivery_batch_size: int = Field(default=20, ge=1, le=500)
    delivery_lease: float = Field(
        default=60.0,
        gt=0,
        description="A claimed delivery whose attempt never reported back (the instance died) "
        "is tried again after this many seconds; longer than any send may take.",
    )

    # --- commands that overtake the order's events ---------------------------------------
    order_wait_seconds: float = Field(
        default=5.0,
        ge=0,
        description="AZL_ORDER_WAIT_SECONDS: how long a command about an order this service "
        "has not heard of yet waits for the order's events (they travel on another queue, so "
        "a command sent right after place-order can overtake them) before it is refused "
        "not_found.",
    )

    # --- staff recipients ----------------------------------------------------------------
    staff_emails: Annotated[list[EmailStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses that receive staff notifications by email.",
    )
    staff_language: Language = Language.VI

    @field_validator("staff_emails", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> Self:
        longest = max(self.smtp_timeout, self.webhook_timeout)
        if self.delivery_lease <= longest:
            raise ValueError(
                f"AZL_DELIVERY_LEASE ({self.delivery_lease}s) must exceed the longest send "
                f"({longest}s), or a slow send could be claimed twice"
            )
        return self
