"""Vocabulary shared by several messages: statuses, codes, money and addresses."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _whole(amount: Decimal) -> Decimal:
    if amount != amount.to_integral_value():
        raise ValueError("VND amounts are whole dong")
    return amount.quantize(Decimal(1))


VND = Annotated[Decimal, Field(ge=0, max_digits=18), AfterValidator(_whole)]
"""A non-negative amount of whole Vietnamese dong."""

SignedVND = Annotated[Decimal, Field(max_digits=18), AfterValidator(_whole)]
"""A whole-dong amount that may be negative (a balance, a difference)."""

CNY = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]
"""A positive price in Chinese yuan, to the fen."""

ExchangeRate = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=4)]
"""VND per CNY, fixed when an order is placed."""

Quantity = Annotated[int, Field(ge=1, le=100_000)]

ActorId = Annotated[str, Field(min_length=1, max_length=64)]


class ReasonCode(StrEnum):
    """Why a command was rejected. Closed: a caller can act on each value."""

    VALIDATION_ERROR = "validation_error"
    UNKNOWN_COMMAND = "unknown_command"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    INVALID_STATE = "invalid_state"
    QUANTITY_DECREASE_NOT_ALLOWED = "quantity_decrease_not_allowed"
    SERVICE_LOCKED = "service_locked"
    COMPLAINT_WINDOW_CLOSED = "complaint_window_closed"
    DUPLICATE = "duplicate"
    LIMIT_EXCEEDED = "limit_exceeded"
    VERSION_RETIRED = "version_retired"


REASON_DESCRIPTIONS: dict[ReasonCode, str] = {
    ReasonCode.VALIDATION_ERROR: "the command is malformed or breaks a field rule (see details)",
    ReasonCode.UNKNOWN_COMMAND: "no command of this type (and version) exists for this service",
    ReasonCode.NOT_FOUND: "the order, item, complaint or subscription does not exist",
    ReasonCode.FORBIDDEN: "the actor may not send this command or act on this resource",
    ReasonCode.INVALID_STATE: "the command is not allowed in the resource's current status",
    ReasonCode.QUANTITY_DECREASE_NOT_ALLOWED: "order-more can only raise quantities",
    ReasonCode.SERVICE_LOCKED: "the extra service can no longer be added or removed",
    ReasonCode.COMPLAINT_WINDOW_CLOSED: "the order is completed; complaints are closed",
    ReasonCode.DUPLICATE: "an equivalent open resource already exists",
    ReasonCode.LIMIT_EXCEEDED: "an amount is above what is allowed (e.g. paid minus refunded)",
    ReasonCode.VERSION_RETIRED: "this version's migration window is over: send the current "
    "version (details name it)",
}


class Language(StrEnum):
    VI = "vi"
    EN = "en"


class OrderStatus(StrEnum):
    AWAITING_DEPOSIT = "awaiting_deposit"
    DEPOSITED = "deposited"
    PURCHASING = "purchasing"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    PURCHASED = "purchased"
    CANCELLATION_REQUESTED = "cancellation_requested"
    SELLER_SHIPPED = "seller_shipped"
    IN_CHINA_WAREHOUSE = "in_china_warehouse"
    IN_TRANSIT = "in_transit"
    IN_VIETNAM_WAREHOUSE = "in_vietnam_warehouse"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    def label(self, language: Language) -> str:
        vi, en = ORDER_STATUS_LABELS[self]
        return vi if language is Language.VI else en


ORDER_STATUS_LABELS: dict[OrderStatus, tuple[str, str]] = {
    OrderStatus.AWAITING_DEPOSIT: ("Chờ đặt cọc", "Awaiting deposit"),
    OrderStatus.DEPOSITED: ("Đã đặt cọc", "Deposited"),
    OrderStatus.PURCHASING: ("Đang mua hàng", "Ordering"),
    OrderStatus.AWAITING_CONFIRMATION: ("Chờ xác nhận", "Awaiting confirmation"),
    OrderStatus.PURCHASED: ("Đã mua hàng", "Order placed"),
    OrderStatus.CANCELLATION_REQUESTED: ("Chờ hủy", "Cancellation requested"),
    OrderStatus.SELLER_SHIPPED: ("Shop đã phát hàng", "Seller shipped"),
    OrderStatus.IN_CHINA_WAREHOUSE: ("Kho Trung Quốc", "At China warehouse"),
    OrderStatus.IN_TRANSIT: ("Đang vận chuyển", "In transit"),
    OrderStatus.IN_VIETNAM_WAREHOUSE: ("Kho Việt Nam", "At Vietnam warehouse"),
    OrderStatus.DELIVERING: ("Đang giao hàng", "Out for delivery"),
    OrderStatus.DELIVERED: ("Đã giao hàng", "Delivered"),
    OrderStatus.COMPLETED: ("Hoàn thành", "Completed"),
    OrderStatus.CANCELLED: ("Đã hủy", "Cancelled"),
}


class ItemStatus(StrEnum):
    PENDING = "pending"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    ORDERED = "ordered"
    CANCELLED = "cancelled"


class Website(StrEnum):
    TAOBAO = "taobao"
    TMALL = "tmall"
    ALIBABA_1688 = "1688"


class ServiceTiming(StrEnum):
    AT_ORDER = "at_order"
    ON_COMPLETION = "on_completion"


class ServiceCode(StrEnum):
    """Fee codes of the catalog. Mandatory ones are charged whether selected or not."""

    PURCHASE_FEE = "purchase_fee"
    TALLYING = "tallying"
    FAST_ORDER = "fast_order"
    INSURANCE = "insurance"
    WOODEN_CRATE = "wooden_crate"
    BUBBLE_WRAP = "bubble_wrap"
    INTERNATIONAL_SHIPPING = "international_shipping"

    @property
    def timing(self) -> ServiceTiming:
        return SERVICE_TIMING[self]

    @property
    def mandatory(self) -> bool:
        return self in MANDATORY_SERVICES

    @property
    def selectable(self) -> bool:
        return not self.mandatory


SERVICE_TIMING: dict[ServiceCode, ServiceTiming] = {
    ServiceCode.PURCHASE_FEE: ServiceTiming.AT_ORDER,
    ServiceCode.TALLYING: ServiceTiming.AT_ORDER,
    ServiceCode.FAST_ORDER: ServiceTiming.AT_ORDER,
    ServiceCode.INSURANCE: ServiceTiming.AT_ORDER,
    ServiceCode.WOODEN_CRATE: ServiceTiming.ON_COMPLETION,
    ServiceCode.BUBBLE_WRAP: ServiceTiming.ON_COMPLETION,
    ServiceCode.INTERNATIONAL_SHIPPING: ServiceTiming.ON_COMPLETION,
}

MANDATORY_SERVICES = frozenset({ServiceCode.PURCHASE_FEE, ServiceCode.INTERNATIONAL_SHIPPING})


class PaymentMethod(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    WALLET = "wallet"
    COD = "cod"


class PaymentStatus(StrEnum):
    PAID = "paid"
    UNPAID = "unpaid"


class DeliveryAddress(BaseModel):
    """Where the goods go. Phone validity is checked by the orders service (libphonenumber)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    full_name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=1, max_length=32)
    address_line: str = Field(min_length=1, max_length=500)
    province: str = Field(min_length=1, max_length=100)
    district: str = Field(min_length=1, max_length=100)


class Recipient(BaseModel):
    """Who receives the goods."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    full_name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=1, max_length=32)


class Address(BaseModel):
    """Where the goods go."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    line: str = Field(min_length=1, max_length=500, description="Street, number, building.")
    district: str = Field(min_length=1, max_length=100)
    province: str = Field(min_length=1, max_length=100)


class Delivery(BaseModel):
    """Where the goods go and to whom (version 2 of the delivery address): the recipient and
    the place apart, as carriers and the warehouse's labels take them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recipient: Recipient
    address: Address

    @classmethod
    def of(cls, address: DeliveryAddress) -> Delivery:
        return cls(
            recipient=Recipient(full_name=address.full_name, phone=address.phone),
            address=Address(
                line=address.address_line, district=address.district, province=address.province
            ),
        )

    def flat(self) -> DeliveryAddress:
        """The same delivery as one flat address (the version-1 shape)."""
        return DeliveryAddress(
            full_name=self.recipient.full_name,
            phone=self.recipient.phone,
            address_line=self.address.line,
            province=self.address.province,
            district=self.address.district,
        )
