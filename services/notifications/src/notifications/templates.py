"""Notification texts in Vietnamese and English, by template name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azl_contracts.common import Language, OrderStatus


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str


_TEXTS: dict[str, dict[Language, tuple[str, str]]] = {
    "order_deposited": {
        Language.VI: (
            "Đơn {code} đã đặt cọc",
            "Đơn hàng {code} đã được đặt cọc {deposit} ₫. Chúng tôi sẽ mua hàng cho bạn.",
        ),
        Language.EN: (
            "Order {code} deposited",
            "Your deposit of {deposit} VND for order {code} was received. We will buy your goods.",
        ),
    },
    "order_cancelled": {
        Language.VI: (
            "Đơn {code} đã hủy",
            "Đơn hàng {code} đã hủy (trạng thái trước: {previous}).",
        ),
        Language.EN: (
            "Order {code} cancelled",
            "Order {code} was cancelled (it was {previous_en}).",
        ),
    },
}


def render(template: str, language: Language, values: dict[str, Any]) -> Rendered:
    title, body = _TEXTS[template][language]
    return Rendered(title.format(**values), body.format(**values))


def values_of(event: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"code": getattr(event, "order_code", "")}
    if hasattr(event, "deposit_paid_vnd"):
        values["deposit"] = f"{int(event.deposit_paid_vnd):,}".replace(",", ".")
    if hasattr(event, "cancelled_from"):
        previous = OrderStatus(event.cancelled_from)
        values["previous"] = previous.label(Language.VI)
        values["previous_en"] = previous.label(Language.EN)
    return values
