from __future__ import annotations

from pydantic import AliasChoices, Field

from azl_kit.settings import DepositRatioSetting, ServiceSettings


class OrdersSettings(ServiceSettings, DepositRatioSetting):
    SERVICE = "orders"
    DEFAULT_HTTP_PORT = 8001

    auto_complete_days: float = Field(
        default=7,
        gt=0,
        validation_alias=AliasChoices("AZL_AUTO_COMPLETE_DAYS", "AUTO_COMPLETE_DAYS"),
        description="A delivered order completes by itself after this many days.",
    )
    auto_complete_interval_seconds: float = Field(default=60.0, gt=0)
