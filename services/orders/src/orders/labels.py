"""What the read API, the export and the invoice show people: Vietnamese and English labels.

Order status labels are the spec's own (``azl_contracts.common.ORDER_STATUS_LABELS``); the
others are the orders service's wording.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from azl_contracts.common import (
    ItemStatus,
    Language,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
    ServiceCode,
    Website,
)


class Label(BaseModel):
    model_config = ConfigDict(frozen=True)

    vi: str
    en: str


ITEM_STATUS_LABELS: dict[ItemStatus, Label] = {
    ItemStatus.PENDING: Label(vi="Chờ mua", en="To be ordered"),
    ItemStatus.AWAITING_CONFIRMATION: Label(vi="Chờ xác nhận", en="Awaiting confirmation"),
    ItemStatus.ORDERED: Label(vi="Đặt được hàng", en="Ordered"),
    ItemStatus.CANCELLED: Label(vi="Đã hủy", en="Cancelled"),
}

PAYMENT_STATUS_LABELS: dict[PaymentStatus, Label] = {
    PaymentStatus.PAID: Label(vi="Đã thanh toán", en="Paid"),
    PaymentStatus.UNPAID: Label(vi="Chưa thanh toán", en="Unpaid"),
}

PAYMENT_METHOD_LABELS: dict[PaymentMethod, Label] = {
    PaymentMethod.BANK_TRANSFER: Label(vi="Chuyển khoản", en="Bank transfer"),
    PaymentMethod.WALLET: Label(vi="Ví", en="Wallet"),
    PaymentMethod.COD: Label(vi="Thu hộ (COD)", en="Cash on delivery"),
}

SERVICE_LABELS: dict[ServiceCode, Label] = {
    ServiceCode.PURCHASE_FEE: Label(vi="Phí mua hàng", en="Purchase fee"),
    ServiceCode.TALLYING: Label(vi="Kiểm đếm", en="Tallying"),
    ServiceCode.FAST_ORDER: Label(vi="Đặt hàng nhanh", en="Fast order"),
    ServiceCode.INSURANCE: Label(vi="Bảo hiểm", en="Insurance"),
    ServiceCode.WOODEN_CRATE: Label(vi="Đóng gỗ", en="Wooden crate"),
    ServiceCode.BUBBLE_WRAP: Label(vi="Bọc chống sốc", en="Bubble wrap"),
    ServiceCode.INTERNATIONAL_SHIPPING: Label(vi="Vận chuyển quốc tế", en="International shipping"),
}

WEBSITE_LABELS: dict[Website, str] = {
    Website.TAOBAO: "Taobao",
    Website.TMALL: "Tmall",
    Website.ALIBABA_1688: "1688",
}


def order_status_label(status: OrderStatus) -> Label:
    return Label(vi=status.label(Language.VI), en=status.label(Language.EN))
