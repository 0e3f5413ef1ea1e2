from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from azl_contracts import Actor, ActorRole
from azl_contracts import complaints as k
from azl_contracts.common import OrderStatus
from azl_contracts.complaints import ComplaintType
from complaints.domain import ApprovedRefund, Complaint, OrderFacts, Policy

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
CUSTOMER = Actor(id="cust-1", role=ActorRole.CUSTOMER)
OTHER_CUSTOMER = Actor(id="cust-2", role=ActorRole.CUSTOMER)
STAFF = Actor(id="staff-1", role=ActorRole.STAFF)
OTHER_STAFF = Actor(id="staff-2", role=ActorRole.STAFF)
ITEMS = (uuid4(), uuid4(), uuid4())
ORDER_ID = uuid4()


def facts(
    status: OrderStatus = OrderStatus.DELIVERED,
    *,
    paid: int = 1_000_000,
    ledger_refunds: dict[str, Decimal] | None = None,
    shipping_charged: int = 0,
    shipping_deducted: int = 0,
    approved: tuple[ApprovedRefund, ...] = (),
) -> OrderFacts:
    return OrderFacts(
        order_id=ORDER_ID,
        customer_id=CUSTOMER.id,
        code="AZ12345678",
        status=status,
        item_ids=frozenset(ITEMS),
        paid_vnd=Decimal(paid),
        ledger_refunds=ledger_refunds or {},
        shipping_charged_vnd=Decimal(shipping_charged),
        shipping_deducted_vnd=Decimal(shipping_deducted),
        approved_refunds=approved,
    )


def open_command(**overrides: Any) -> k.OpenComplaint:
    data: dict[str, Any] = {
        "actor": CUSTOMER.model_dump(),
        "order_id": str(ORDER_ID),
        "type": ComplaintType.DAMAGED.value,
        "item_ids": [str(ITEMS[0])],
        "description": "Hàng bị vỡ khi nhận",
        "attachments": ["https://img.example.com/1.jpg"],
    }
    data.update(overrides)
    return k.OpenComplaint.model_validate(data)


def opened(
    order: OrderFacts | None = None,
    *,
    policy: Policy | None = None,
    active: list[Complaint] | None = None,
    complaint_id: UUID | None = None,
    now: datetime = NOW,
    **overrides: Any,
) -> Complaint:
    return Complaint.open(
        open_command(**overrides),
        complaint_id=complaint_id or uuid4(),
        order=order or facts(),
        active_on_order=active or [],
        policy=policy or Policy(),
        now=now,
    )


def settled(complaint: Complaint) -> Complaint:
    """As if saved and loaded again: no pending events, version kept."""
    complaint.events.clear()
    complaint._changed = False
    return complaint


def in_review(**overrides: Any) -> Complaint:
    complaint = settled(opened(**overrides))
    complaint.start_review(STAFF, NOW)
    return settled(complaint)


def event_types(complaint: Complaint) -> list[str]:
    return [e.message_type() for e in complaint.events]
