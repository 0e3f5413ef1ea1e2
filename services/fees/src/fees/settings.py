from __future__ import annotations

from pydantic import Field

from azl_kit.settings import ServiceSettings


class FeesSettings(ServiceSettings):
    SERVICE = "fees"
    DEFAULT_HTTP_PORT = 8002

    deduct_shipping_from_refunds: bool = Field(
        default=False,
        description="AZL_DEDUCT_SHIPPING_FROM_REFUNDS: a complaint refund pays the resolved "
        "amount minus the order's charged international shipping (deducted once per order, "
        "never below 0).",
    )
