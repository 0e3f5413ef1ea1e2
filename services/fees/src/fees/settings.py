from __future__ import annotations

from pydantic import Field

from azl_kit.settings import DepositRatioSetting, ServiceSettings


class FeesSettings(ServiceSettings, DepositRatioSetting):
    SERVICE = "fees"
    DEFAULT_HTTP_PORT = 8002

    deduct_shipping_from_refunds: bool = Field(
        default=False,
        description="AZL_DEDUCT_SHIPPING_FROM_REFUNDS: a complaint refund pays the resolved "
        "amount minus the order's charged international shipping (deducted once per order, "
        "never below 0). Fees owns it: every fees.ledger.updated states it "
        "(deducts_shipping_from_refunds), and complaints expects each payout by that.",
    )
