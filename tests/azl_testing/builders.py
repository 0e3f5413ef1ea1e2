"""Commands and outside events as the storefront, staff tools and payments system send them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from azl_contracts import Actor, ActorRole
from azl_contracts import orders as o
from azl_contracts import payments as p
from azl_contracts.common import Delivery, DeliveryAddress, PaymentMethod, ServiceCode
from azl_contracts.complaints import ComplaintStatus
from azl_contracts.fees import LedgerEntry, LedgerEntryKind, LedgerUpdated

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
) -> o.PlaceOrderV1:
    """A place-order as a storefront still on version 1 sends it (the flat address)."""
    return o.PlaceOrderV1.model_validate(
        {
            "actor": actor.model_dump(),
            "order_id": str(order_id or uuid4()),
            "items": list(items or [item()]),
            "delivery_address": ADDRESS.model_dump(),
            "services": [s.value for s in services],
            "exchange_rate": str(rate),
        }
    )


def place_order_v2(
    actor: Actor,
    items: Sequence[dict[str, Any]] | None = None,
    *,
    rate: str | Decimal = "3500",
    order_id: UUID | None = None,
) -> o.PlaceOrder:
    """The current version: the delivery as recipient and address."""
    return o.PlaceOrder.model_validate(
        {
            "actor": actor.model_dump(),
            "order_id": str(order_id or uuid4()),
            "items": list(items or [item()]),
            "delivery": Delivery.of(ADDRESS).model_dump(),
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


def refund_paid(
    order_id: UUID | str, amount: Decimal | int, refund_id: str | None = None
) -> p.RefundPaid:
    """The payments system paid money owed back out to the customer."""
    return p.RefundPaid(
        order_id=UUID(str(order_id)),
        amount_vnd=Decimal(amount),
        refund_id=refund_id or f"refund-{uuid4().hex[:12]}",
    )


# --- facts other systems publish, for the orders read model ------------------------------


def payment(
    order_id: UUID | str,
    amount: Decimal | int,
    method: PaymentMethod = PaymentMethod.BANK_TRANSFER,
    payment_id: str | None = None,
) -> p.PaymentReceived:
    return p.PaymentReceived(
        order_id=UUID(str(order_id)),
        amount_vnd=Decimal(amount),
        payment_id=payment_id or f"pay-{uuid4().hex[:12]}",
        method=method,
    )


def ledger_entry(
    kind: LedgerEntryKind,
    amount: int,
    *,
    fee_code: ServiceCode | None = None,
    description: str = "",
    reference: str | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        entry_id=uuid4(),
        kind=kind,
        amount_vnd=Decimal(amount),
        fee_code=fee_code,
        catalog_version="test" if fee_code else None,
        description=description or kind.value,
        reference=reference,
        recorded_at=datetime.now(UTC),
    )


def ledger_updated(
    order_id: UUID,
    customer_id: str,
    *,
    version: int,
    goods_total: int,
    entries: Sequence[LedgerEntry],
) -> LedgerUpdated:
    """A whole-ledger snapshot as the fees service publishes it (totals from the entries)."""

    def total(*kinds: LedgerEntryKind) -> Decimal:
        return sum((e.amount_vnd for e in entries if e.kind in kinds), Decimal(0))

    charges = total(LedgerEntryKind.CHARGE) - total(LedgerEntryKind.VOID)
    payments = total(LedgerEntryKind.PAYMENT)
    refunds = total(LedgerEntryKind.REFUND)
    return LedgerUpdated(
        order_id=order_id,
        customer_id=customer_id,
        occurred_at=datetime.now(UTC),
        ledger_version=version,
        goods_total_vnd=Decimal(goods_total),
        charges_total_vnd=charges,
        payments_total_vnd=payments,
        refunds_total_vnd=refunds,
        # a refund lowers the cost and what was paid alike (fees.totals)
        balance_due_vnd=max(Decimal(0), Decimal(goods_total) + charges - refunds)
        - (payments - refunds),
        cost_vnd=max(Decimal(0), Decimal(goods_total) + charges - refunds),
        paid_vnd=payments - refunds,
        entries=list(entries),
    )


def complaint_fields(
    complaint_id: UUID,
    order_id: UUID,
    customer_id: str,
    status: ComplaintStatus,
    actor: Actor,
) -> dict[str, Any]:
    """The fields every ``complaints.complaint.*`` event carries."""
    return {
        "complaint_id": complaint_id,
        "order_id": order_id,
        "customer_id": customer_id,
        "status": status,
        "actor": actor,
        "occurred_at": datetime.now(UTC),
    }
