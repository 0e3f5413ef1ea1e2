"""Commands the orders service takes and the events it publishes (spec §3)."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Self
from uuid import UUID

from pydantic import AnyHttpUrl, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from .base import Actor, ActorRole, Command, Event, Reply
from .common import (
    CNY,
    VND,
    ActorId,
    Delivery,
    DeliveryAddress,
    ExchangeRate,
    ItemStatus,
    OrderStatus,
    PaymentMethod,
    Quantity,
    ServiceCode,
    Website,
)
from .versions import versions

CUSTOMER = frozenset({ActorRole.CUSTOMER})
STAFF = frozenset({ActorRole.STAFF})
STAFF_OR_SYSTEM = frozenset({ActorRole.STAFF, ActorRole.SYSTEM})
CUSTOMER_OR_STAFF = frozenset({ActorRole.CUSTOMER, ActorRole.STAFF})
CUSTOMER_OR_SYSTEM = frozenset({ActorRole.CUSTOMER, ActorRole.SYSTEM})

MAX_ITEMS_PER_ORDER = 200


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# --- command payload parts -------------------------------------------------------------


class NewItem(_Strict):
    product_url: AnyHttpUrl
    title: str = Field(min_length=1, max_length=500)
    variant: str | None = Field(default=None, max_length=200)
    quantity: Quantity
    unit_price_cny: CNY


class ItemQuantity(_Strict):
    """Either the item's new quantity, or how many units to add to it."""

    item_id: UUID
    quantity: Quantity | None = Field(default=None, description="The new, higher quantity.")
    add: Quantity | None = Field(default=None, description="Units to add to the current quantity.")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.quantity is None) == (self.add is None):
            raise ValueError("give exactly one of quantity and add")
        return self


class ItemChange(_Strict):
    """What the shop changed on one item: the new quantity and/or the new unit price."""

    item_id: UUID
    new_quantity: Quantity | None = None
    new_unit_price_cny: CNY | None = None
    note: str | None = Field(default=None, max_length=1000)


class PackageDetails(_Strict):
    package_code: str = Field(min_length=1, max_length=64)
    tracking_number: str = Field(min_length=1, max_length=64)
    weight_kg: Decimal = Field(gt=0, le=10_000, max_digits=9, decimal_places=3)
    length_cm: Decimal = Field(gt=0, le=1_000, max_digits=7, decimal_places=1)
    width_cm: Decimal = Field(gt=0, le=1_000, max_digits=7, decimal_places=1)
    height_cm: Decimal = Field(gt=0, le=1_000, max_digits=7, decimal_places=1)


ItemIds = list[UUID]


# --- commands ------------------------------------------------------------------------


class PlaceOrderV1(Command):
    """A new order from the storefront, with a flat delivery address (superseded by v2)."""

    NAME: ClassVar[str] = "orders.place-order"
    VERSION: ClassVar[int] = 1
    ALLOWED_ROLES = CUSTOMER_OR_SYSTEM

    order_id: UUID | None = Field(
        default=None, description="Chosen by the caller to make retries safe; generated if absent."
    )
    customer_id: ActorId | None = Field(
        default=None, description="Required when the actor is the storefront (system)."
    )
    items: list[NewItem] = Field(min_length=1, max_length=MAX_ITEMS_PER_ORDER)
    delivery_address: DeliveryAddress
    services: list[ServiceCode] = Field(default_factory=list, max_length=10)
    exchange_rate: ExchangeRate


class PlaceOrder(Command):
    """A new order from the storefront. The website is derived from the product URLs."""

    NAME: ClassVar[str] = "orders.place-order"
    VERSION: ClassVar[int] = 2
    ALLOWED_ROLES = CUSTOMER_OR_SYSTEM

    order_id: UUID | None = Field(
        default=None, description="Chosen by the caller to make retries safe; generated if absent."
    )
    customer_id: ActorId | None = Field(
        default=None, description="Required when the actor is the storefront (system)."
    )
    items: list[NewItem] = Field(min_length=1, max_length=MAX_ITEMS_PER_ORDER)
    delivery: Delivery
    services: list[ServiceCode] = Field(default_factory=list, max_length=10)
    exchange_rate: ExchangeRate

    @property
    def delivery_address(self) -> DeliveryAddress:
        return self.delivery.flat()


@versions.upcaster(PlaceOrderV1, PlaceOrder)
def _place_order_v2(command: PlaceOrderV1) -> PlaceOrder:
    fields = {name: value for name, value in command if name != "delivery_address"}
    return PlaceOrder(**fields, delivery=Delivery.of(command.delivery_address))


class CancelOrder(Command):
    NAME: ClassVar[str] = "orders.cancel-order"
    ALLOWED_ROLES = CUSTOMER_OR_STAFF

    order_id: UUID
    reason: str | None = Field(default=None, max_length=1000)


class ApproveCancellation(Command):
    NAME: ClassVar[str] = "orders.approve-cancellation"
    ALLOWED_ROLES = STAFF

    order_id: UUID
    reason: str | None = Field(default=None, max_length=1000)


class RejectCancellation(Command):
    NAME: ClassVar[str] = "orders.reject-cancellation"
    ALLOWED_ROLES = STAFF

    order_id: UUID
    reason: str = Field(min_length=1, max_length=1000)


class IncreaseQuantities(Command):
    """Order more: each listed item gets the given (higher) quantity."""

    NAME: ClassVar[str] = "orders.increase-quantities"
    ALLOWED_ROLES = CUSTOMER

    order_id: UUID
    items: list[ItemQuantity] = Field(min_length=1, max_length=MAX_ITEMS_PER_ORDER)


class StartPurchasing(Command):
    NAME: ClassVar[str] = "orders.start-purchasing"
    ALLOWED_ROLES = STAFF

    order_id: UUID


class ReportItemChange(Command):
    NAME: ClassVar[str] = "orders.report-item-change"
    ALLOWED_ROLES = STAFF

    order_id: UUID
    changes: list[ItemChange] = Field(min_length=1, max_length=MAX_ITEMS_PER_ORDER)


class ConfirmItems(Command):
    NAME: ClassVar[str] = "orders.confirm-items"
    ALLOWED_ROLES = CUSTOMER

    order_id: UUID
    item_ids: ItemIds = Field(min_length=1, max_length=MAX_ITEMS_PER_ORDER)


class DeclineItems(Command):
    NAME: ClassVar[str] = "orders.decline-items"
    ALLOWED_ROLES = CUSTOMER

    order_id: UUID
    item_ids: ItemIds = Field(min_length=1, max_length=MAX_ITEMS_PER_ORDER)


class MarkItemsOrdered(Command):
    NAME: ClassVar[str] = "orders.mark-items-ordered"
    ALLOWED_ROLES = STAFF

    order_id: UUID
    item_ids: ItemIds = Field(min_length=1, max_length=MAX_ITEMS_PER_ORDER)


class UpdateServices(Command):
    """Replaces the set of selected extra services."""

    NAME: ClassVar[str] = "orders.update-services"
    ALLOWED_ROLES = CUSTOMER

    order_id: UUID
    services: list[ServiceCode] = Field(max_length=10)


class UpdateDeliveryAddress(Command):
    NAME: ClassVar[str] = "orders.update-delivery-address"
    ALLOWED_ROLES = CUSTOMER

    order_id: UUID
    delivery_address: DeliveryAddress


class RecordPackage(Command):
    NAME: ClassVar[str] = "orders.record-package"
    ALLOWED_ROLES = STAFF_OR_SYSTEM

    order_id: UUID
    package: PackageDetails


class AdvanceShipping(Command):
    NAME: ClassVar[str] = "orders.advance-shipping"
    ALLOWED_ROLES = STAFF_OR_SYSTEM

    order_id: UUID
    to_status: OrderStatus


class ConfirmReceived(Command):
    NAME: ClassVar[str] = "orders.confirm-received"
    ALLOWED_ROLES = CUSTOMER

    order_id: UUID


# --- event payload parts -------------------------------------------------------------


class OrderItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    item_id: UUID
    product_url: str
    title: str
    variant: str | None = None
    quantity: int
    unit_price_cny: Decimal
    status: ItemStatus
    pending_quantity: int | None = None
    pending_unit_price_cny: Decimal | None = None


class Goods(BaseModel):
    """The priced goods of an order at one moment: what goods-dependent fees follow."""

    model_config = ConfigDict(frozen=True)

    exchange_rate: Decimal
    items: list[OrderItem]
    goods_total_vnd: VND


class Package(BaseModel):
    model_config = ConfigDict(frozen=True)

    package_code: str
    tracking_number: str
    weight_kg: Decimal
    length_cm: Decimal
    width_cm: Decimal
    height_cm: Decimal
    recorded_at: AwareDatetime


class ItemChangeRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    item_id: UUID
    old_quantity: int
    new_quantity: int
    old_unit_price_cny: Decimal
    new_unit_price_cny: Decimal


# --- events --------------------------------------------------------------------------


class OrderEvent(Event):
    """Every orders event names the order, its customer and the order version it produced."""

    order_id: UUID
    order_code: str
    customer_id: str
    order_version: int
    occurred_at: AwareDatetime


class OrderPlacedV1(OrderEvent):
    """A new order, with a flat delivery address (superseded by v2)."""

    NAME: ClassVar[str] = "orders.order.placed"
    VERSION: ClassVar[int] = 1

    status: OrderStatus
    website: Website
    goods: Goods
    services: list[ServiceCode]
    delivery_address: DeliveryAddress
    required_deposit_vnd: VND


class OrderPlaced(OrderEvent):
    """A new order, awaiting its deposit."""

    NAME: ClassVar[str] = "orders.order.placed"
    VERSION: ClassVar[int] = 2

    status: OrderStatus
    website: Website
    goods: Goods
    services: list[ServiceCode]
    delivery: Delivery
    required_deposit_vnd: VND


@versions.upcaster(OrderPlacedV1, OrderPlaced)
def _order_placed_v2(event: OrderPlacedV1) -> OrderPlaced:
    fields = {name: value for name, value in event if name != "delivery_address"}
    return OrderPlaced(**fields, delivery=Delivery.of(event.delivery_address))


class DepositPaymentRecorded(OrderEvent):
    """A deposit payment counted toward the required deposit (whether or not it is reached)."""

    NAME: ClassVar[str] = "orders.order.deposit-payment-recorded"

    payment_id: str
    amount_vnd: VND
    deposit_paid_vnd: VND
    required_deposit_vnd: VND


class PaymentRecorded(OrderEvent):
    """A payment after the deposit (``payments.payment.received``) recorded on the order."""

    NAME: ClassVar[str] = "orders.order.payment-recorded"

    payment_id: str
    amount_vnd: VND
    method: PaymentMethod
    paid_vnd: VND = Field(description="Deposits and payments recorded on the order so far.")


class OrderDeposited(OrderEvent):
    NAME: ClassVar[str] = "orders.order.deposited"

    deposit_paid_vnd: VND
    goods: Goods
    services: list[ServiceCode]


class OrderStatusChanged(OrderEvent):
    NAME: ClassVar[str] = "orders.order.status-changed"

    from_status: OrderStatus | None
    to_status: OrderStatus
    actor: Actor
    reason: str | None = None


class OrderCancelled(OrderEvent):
    NAME: ClassVar[str] = "orders.order.cancelled"

    cancelled_from: OrderStatus
    actor: Actor
    reason: str | None = None


class CancellationRequested(OrderEvent):
    NAME: ClassVar[str] = "orders.order.cancellation-requested"

    actor: Actor
    reason: str | None = None


class CancellationRejected(OrderEvent):
    NAME: ClassVar[str] = "orders.order.cancellation-rejected"

    actor: Actor
    reason: str


class PurchasingStarted(OrderEvent):
    NAME: ClassVar[str] = "orders.order.purchasing-started"


class ItemsChanged(OrderEvent):
    """The shop changed items; they await the customer's confirmation."""

    NAME: ClassVar[str] = "orders.order.items-changed"

    changes: list[ItemChangeRecord]


class ItemsConfirmed(OrderEvent):
    NAME: ClassVar[str] = "orders.order.items-confirmed"

    item_ids: list[UUID]
    goods: Goods


class ItemsDeclined(OrderEvent):
    NAME: ClassVar[str] = "orders.order.items-declined"

    item_ids: list[UUID]
    goods: Goods


class ItemsOrdered(OrderEvent):
    NAME: ClassVar[str] = "orders.order.items-ordered"

    item_ids: list[UUID]


class OrderPurchased(OrderEvent):
    NAME: ClassVar[str] = "orders.order.purchased"


class QuantitiesIncreased(OrderEvent):
    NAME: ClassVar[str] = "orders.order.quantities-increased"

    changes: list[ItemChangeRecord]
    goods: Goods


class ServicesUpdated(OrderEvent):
    NAME: ClassVar[str] = "orders.order.services-updated"

    status: OrderStatus
    services: list[ServiceCode]
    added: list[ServiceCode]
    removed: list[ServiceCode]


class AddressUpdated(OrderEvent):
    NAME: ClassVar[str] = "orders.order.address-updated"

    delivery_address: DeliveryAddress


class PackageRecorded(OrderEvent):
    NAME: ClassVar[str] = "orders.order.package-recorded"

    package: Package


class ShippingAdvanced(OrderEvent):
    NAME: ClassVar[str] = "orders.order.shipping-advanced"

    from_status: OrderStatus
    to_status: OrderStatus


class OrderDelivered(OrderEvent):
    NAME: ClassVar[str] = "orders.order.delivered"

    packages: list[Package]
    services: list[ServiceCode]


class OrderCompleted(OrderEvent):
    NAME: ClassVar[str] = "orders.order.completed"

    automatic: bool


class PlaceOrderResult(Reply):
    """The ``result`` of an accepted place-order reply."""

    NAME: ClassVar[str] = "orders.place-order.result"

    order_id: UUID
    order_code: str
