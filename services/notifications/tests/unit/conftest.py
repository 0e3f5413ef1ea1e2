"""A sample of every event the rules know, as its publisher would send it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from azl_testing.builders import ADDRESS

from azl_contracts import Actor, ActorRole, Event
from azl_contracts import complaints as c
from azl_contracts import fees as f
from azl_contracts import notifications as n
from azl_contracts import orders as o
from azl_contracts.common import (
    Delivery,
    ItemStatus,
    OrderStatus,
    ServiceCode,
    Website,
)

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ORDER_ID = UUID("0b5c7a58-9b0d-4d1e-8d53-2b1f4a0c9e01")
CODE = "AZ12345678"
CUSTOMER = Actor(id="cust-1", role=ActorRole.CUSTOMER)
STAFF = Actor(id="staff-1", role=ActorRole.STAFF)
SYSTEM = Actor(id="warehouse", role=ActorRole.SYSTEM)

ITEM = o.OrderItem(
    item_id=uuid4(),
    product_url="https://item.taobao.com/item.htm?id=1",
    title="Áo khoác",
    quantity=2,
    unit_price_cny=Decimal("100.00"),
    status=ItemStatus.PENDING,
)
GOODS = o.Goods(exchange_rate=Decimal(3500), items=[ITEM], goods_total_vnd=Decimal(700000))
PACKAGE = o.Package(
    package_code="P1",
    tracking_number="T1",
    weight_kg=Decimal("1.5"),
    length_cm=Decimal(10),
    width_cm=Decimal(10),
    height_cm=Decimal(10),
    recorded_at=NOW,
)


def _order(**fields: Any) -> dict[str, Any]:
    return {
        "order_id": ORDER_ID,
        "order_code": CODE,
        "customer_id": CUSTOMER.id,
        "order_version": 3,
        "occurred_at": NOW,
        **fields,
    }


def _complaint(actor: Actor = CUSTOMER, **fields: Any) -> dict[str, Any]:
    return {
        "complaint_id": uuid4(),
        "order_id": ORDER_ID,
        "customer_id": CUSTOMER.id,
        "status": c.ComplaintStatus.OPEN,
        "actor": actor,
        "occurred_at": NOW,
        **fields,
    }


def samples() -> list[Event]:
    """At least one event of every type the rules table names."""
    change = o.ItemChangeRecord(
        item_id=ITEM.item_id,
        old_quantity=2,
        new_quantity=3,
        old_unit_price_cny=Decimal("100.00"),
        new_unit_price_cny=Decimal("120.50"),
    )
    return [
        o.OrderPlaced(
            **_order(
                status=OrderStatus.AWAITING_DEPOSIT,
                website=Website.TAOBAO,
                goods=GOODS,
                services=[],
                delivery=Delivery.of(ADDRESS),
                required_deposit_vnd=Decimal(490000),
            )
        ),
        o.OrderDeposited(**_order(deposit_paid_vnd=Decimal(1234567), goods=GOODS, services=[])),
        o.PurchasingStarted(**_order()),
        o.ItemsChanged(**_order(changes=[change])),
        o.OrderPurchased(**_order()),
        o.ShippingAdvanced(
            **_order(from_status=OrderStatus.PURCHASED, to_status=OrderStatus.SELLER_SHIPPED)
        ),
        o.ShippingAdvanced(
            **_order(from_status=OrderStatus.DELIVERING, to_status=OrderStatus.DELIVERED)
        ),
        o.OrderDelivered(**_order(packages=[PACKAGE], services=[])),
        o.OrderCancelled(
            **_order(cancelled_from=OrderStatus.DEPOSITED, actor=CUSTOMER, reason="đổi ý")
        ),
        o.OrderCancelled(
            **_order(cancelled_from=OrderStatus.CANCELLATION_REQUESTED, actor=STAFF, reason=None)
        ),
        o.CancellationRequested(**_order(actor=CUSTOMER, reason="too slow")),
        o.CancellationRejected(**_order(actor=STAFF, reason="the shop already shipped")),
        f.FeeCharged(
            order_id=ORDER_ID,
            customer_id=CUSTOMER.id,
            occurred_at=NOW,
            entry_id=uuid4(),
            fee_code=ServiceCode.INTERNATIONAL_SHIPPING,
            amount_vnd=Decimal(42000),
            catalog_version="2026-11",
            basis="1.5 kg × 28,000",
            on_completion=True,
        ),
        f.FeeCharged(
            order_id=ORDER_ID,
            customer_id=CUSTOMER.id,
            occurred_at=NOW,
            entry_id=uuid4(),
            fee_code=ServiceCode.PURCHASE_FEE,
            amount_vnd=Decimal(21000),
            catalog_version="2026-11",
            basis="3 % of 700,000",
        ),
        c.ComplaintOpened(
            **_complaint(
                type=c.ComplaintType.DAMAGED,
                item_ids=[ITEM.item_id],
                description="Áo bị rách",
                attachments=[],
                requested_amount_vnd=Decimal(100000),
            )
        ),
        c.ComplaintReviewStarted(**_complaint(STAFF, status=c.ComplaintStatus.IN_REVIEW)),
        c.ComplaintInfoRequested(
            **_complaint(STAFF, status=c.ComplaintStatus.AWAITING_CUSTOMER, message="Ảnh?")
        ),
        c.ComplaintInfoProvided(
            **_complaint(status=c.ComplaintStatus.IN_REVIEW, message="Đây", attachments=[])
        ),
        c.ComplaintCommentAdded(**_complaint(STAFF, comment_id=uuid4(), body="Đã nhận")),
        c.ComplaintCommentAdded(**_complaint(CUSTOMER, comment_id=uuid4(), body="Cảm ơn")),
        c.ComplaintResolved(
            **_complaint(
                STAFF,
                status=c.ComplaintStatus.RESOLVED,
                resolution=c.Resolution.REFUND,
                amount_vnd=Decimal(50000),
                note="Xin lỗi",
            )
        ),
        c.ComplaintWithdrawn(**_complaint(status=c.ComplaintStatus.WITHDRAWN, reason=None)),
        message(STAFF, "Hàng đã về kho"),
        message(CUSTOMER, "Khi nào giao?"),
        note(n.NoteVisibility.CUSTOMER, "Đơn đóng gỗ"),
    ]


def message(author: Actor, body: str) -> n.MessagePosted:
    return n.MessagePosted(
        occurred_at=NOW,
        message_id=uuid4(),
        order_id=ORDER_ID,
        customer_id=CUSTOMER.id,
        author=author,
        body=body,
    )


def note(visibility: n.NoteVisibility, body: str) -> n.NoteAdded:
    return n.NoteAdded(
        occurred_at=NOW,
        note_id=uuid4(),
        order_id=ORDER_ID,
        customer_id=CUSTOMER.id,
        author=STAFF,
        body=body,
        visibility=visibility,
    )
