"""Commands and outside events as the storefront, staff tools and payments system send them."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from azl_contracts import Actor, ActorRole
from azl_contracts import orders as o
from azl_contracts import payments as p
from azl_contracts.common import DeliveryAddress, ServiceCode

STAFF = Actor(id="staff-1", role=ActorRole.STAFF)
WAREHOUSE = Actor(id="warehouse", role=ActorRole.SYSTEM)


def customer(customer_id: str | None = None) -> Actor:
    return Actor(id=customer_id or f"cust-{uuid4().hex[:10]}", role=ActorRole.CUSTOMER)


ADDRESS = DeliveryAddress(
    full_name="Nguyễn Văn An",
    phone="0912345678",
    address_line="12 Phố Huế",
    province="Hà Nội",
    district="Hai Bà Trưng",
)


def item(
    price: str | Decimal = "100.00",
    quantity: int = 1,
    *,
    host: str = "item.taobao.com",
    title: str = "Áo khoác",
) -> dict[str, Any]:
    return {
        "product_url": f"https://{host}/item.htm?id={uuid4().int % 10**12}",
        "title": title,
        "variant": "M",
        "quantity": quantity,
        "unit_price_cny": str(price),
    }


def place_order(
    actor: Actor,
    items: Sequence[dict[str, Any]] | None = None,
    *,
    rate: str | Decimal = "3500",
    services: Sequence[ServiceCode] = (),
    order_id: UUID | None = None,
) -> o.PlaceOrder:
    return o.PlaceOrder.model_validate(
        {
            "actor": actor.model_dump(),
            "order_id": str(order_id or uuid4()),
            "items": list(items or [item()]),
            "delivery_address": ADDRESS.model_dump(),
            "services": [s.value for s in services],
            "exchange_rate": str(rate),
        }
    )


def deposit(
    order_id: UUID | str, amount: Decimal | int, payment_id: str | None = None
) -> p.DepositReceived:
    return p.DepositReceived(
        order_id=UUID(str(order_id)),
        amount_vnd=Decimal(amount),
        payment_id=payment_id or f"pay-{uuid4().hex[:12]}",
    )
