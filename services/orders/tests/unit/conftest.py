from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from azl_contracts import Actor, ActorRole
from azl_contracts import orders as o
from azl_contracts.common import Delivery, DeliveryAddress, OrderStatus
from orders.domain import Order

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
CUSTOMER = Actor(id="cust-1", role=ActorRole.CUSTOMER)
OTHER_CUSTOMER = Actor(id="cust-2", role=ActorRole.CUSTOMER)
STAFF = Actor(id="staff-1", role=ActorRole.STAFF)
SYSTEM = Actor(id="warehouse", role=ActorRole.SYSTEM)

ADDRESS = {
    "full_name": "Trần Thị Bình",
    "phone": "0912345678",
    "address_line": "1 Lê Lợi",
    "province": "TP Hồ Chí Minh",
    "district": "Quận 1",
}


def item(price: str = "100.00", quantity: int = 2, host: str = "item.taobao.com") -> dict[str, Any]:
    return {
        "product_url": f"https://{host}/item.htm?id={uuid4().int % 10**9}",
        "title": "Giày",
        "variant": "42",
        "quantity": quantity,
        "unit_price_cny": price,
    }


def place_command(**overrides: Any) -> o.PlaceOrder:
    data: dict[str, Any] = {
        "actor": CUSTOMER.model_dump(),
        "items": [item()],
        "delivery": Delivery.of(DeliveryAddress.model_validate(ADDRESS)),
        "services": [],
        "exchange_rate": "3500",
    }
    data.update(overrides)
    return o.PlaceOrder.model_validate(data)


def new_order(**overrides: Any) -> Order:
    order = Order.place(place_command(**overrides), order_id=uuid4(), code="AZ00000001", now=NOW)
    return settled(order)


def settled(order: Order) -> Order:
    """As if saved and loaded again: no pending events, version kept."""
    order.events.clear()
    order._changed = False
    return order


def order_in(status: OrderStatus, **overrides: Any) -> Order:
    """An order brought to ``status`` through the domain's own methods."""
    S = OrderStatus  # noqa: N806 - the spec's own shorthand
    order = new_order(**overrides)
    if status is S.AWAITING_DEPOSIT:
        return order
    order.record_deposit("p1", order.required_deposit_vnd, NOW)
    if status is S.DEPOSITED:
        return settled(order)
    order.start_purchasing(STAFF, NOW)
    if status is S.PURCHASING:
        return settled(order)
    first = order.items[0].item_id
    if status is S.AWAITING_CONFIRMATION:
        order.report_item_change(STAFF, [o.ItemChange(item_id=first, new_quantity=5)], NOW)
        return settled(order)
    order.mark_items_ordered(STAFF, [i.item_id for i in order.items], NOW)
    if status is S.PURCHASED:
        return settled(order)
    if status is S.CANCELLATION_REQUESTED:
        order.cancel(CUSTOMER, None, NOW)
        return settled(order)
    if status is S.CANCELLED:
        order.cancel(CUSTOMER, None, NOW)
        order.approve_cancellation(STAFF, None, NOW)
        return settled(order)
    for step in (
        S.SELLER_SHIPPED,
        S.IN_CHINA_WAREHOUSE,
        S.IN_TRANSIT,
        S.IN_VIETNAM_WAREHOUSE,
        S.DELIVERING,
        S.DELIVERED,
    ):
        order.advance_shipping(SYSTEM, step, NOW)
        if status is step:
            return settled(order)
    order.confirm_received(CUSTOMER, NOW)
    return settled(order)


def event_types(order: Order) -> list[str]:
    return [e.message_type() for e in order.events]


@pytest.fixture
def order() -> Order:
    return new_order()


def ids(order: Order) -> list[UUID]:
    return [i.item_id for i in order.items]
