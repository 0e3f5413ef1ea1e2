"""What the read API answers: the order list's rows and the order's tabs, as typed models.

Built from the order aggregate and the read models the service keeps of the fees ledger and
the complaints (never from calls to other services). Amounts in VND are whole numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from azl_contracts import Actor
from azl_contracts import orders as contract
from azl_contracts.common import (
    DeliveryAddress,
    ItemStatus,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
    ServiceCode,
    ServiceTiming,
    Website,
)
from azl_contracts.fees import LedgerEntryKind
from azl_contracts.money import round_vnd

from .domain import Item, Order, Payment, payment_status
from .labels import (
    ITEM_STATUS_LABELS,
    PAYMENT_METHOD_LABELS,
    PAYMENT_STATUS_LABELS,
    SERVICE_LABELS,
    Label,
    order_status_label,
)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- the list ---------------------------------------------------------------------------


class OrderSummary(_View):
    order_id: UUID
    code: str
    customer_id: str
    website: Website
    status: OrderStatus
    status_label: Label
    payment_status: PaymentStatus
    goods_total_vnd: int
    created_at: datetime
    updated_at: datetime


class OrderPage(_View):
    items: list[OrderSummary]
    page: int
    page_size: int
    total: int = Field(description="Orders matching every filter, status included.")
    counts: dict[str, int] = Field(
        description="Per status (and `all`) under the same filters except status: the tabs."
    )


def summary_of(row: Any) -> OrderSummary:
    status = OrderStatus(row.status)
    return OrderSummary(
        order_id=row.order_id,
        code=row.code,
        customer_id=row.customer_id,
        website=Website(row.website),
        status=status,
        status_label=order_status_label(status),
        payment_status=payment_status(row.balance_due_vnd),
        goods_total_vnd=int(row.goods_total_vnd),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# --- the order's tabs -----------------------------------------------------------------


class ItemView(_View):
    item_id: UUID
    product_url: str
    title: str
    variant: str | None
    quantity: int
    unit_price_cny: Decimal
    amount_vnd: int = Field(description="quantity × unit price × exchange rate (0 if cancelled)")
    status: ItemStatus
    status_label: Label
    pending_quantity: int | None = Field(description="The shop's new quantity, to confirm.")
    pending_unit_price_cny: Decimal | None = Field(description="The shop's new price, to confirm.")


class ServiceView(_View):
    code: ServiceCode
    timing: ServiceTiming
    label: Label


class PaymentView(_View):
    payment_id: str
    kind: Literal["deposit", "payment"]
    amount_vnd: int
    method: PaymentMethod | None
    method_label: Label | None
    at: datetime


class OrderInfo(_View):
    items: list[ItemView]
    services: list[ServiceView]
    delivery_address: DeliveryAddress
    exchange_rate: Decimal
    goods_total_vnd: int
    required_deposit_vnd: int
    deposit_paid_vnd: int
    paid_vnd: int = Field(description="Every deposit and payment reported for the order.")
    balance_due_vnd: int | None = Field(description="From the fees ledger; null before it.")
    payment_status_label: Label


class HistoryEntryView(_View):
    from_status: OrderStatus | None
    to_status: OrderStatus
    to_label: Label
    actor: Actor
    reason: str | None
    at: datetime


class LedgerEntryView(_View):
    """One entry of the fees ledger, as ``fees.ledger.updated`` carries it (amounts are
    whole VND written as strings, like every amount on the bus)."""

    entry_id: UUID
    kind: LedgerEntryKind
    amount_vnd: Decimal
    fee_code: ServiceCode | None = None
    fee_label: Label | None = None
    catalog_version: str | None = None
    description: str
    reference: str | None = None
    recorded_at: datetime


class LedgerTotals(_View):
    goods_total_vnd: Decimal
    charges_total_vnd: Decimal
    payments_total_vnd: Decimal
    refunds_total_vnd: Decimal
    balance_due_vnd: Decimal


class Transactions(_View):
    """The fees ledger's latest snapshot (``fees.ledger.updated``) for this order."""

    ledger_version: int | None
    entries: list[LedgerEntryView]
    totals: LedgerTotals | None

    def charged(self) -> dict[ServiceCode, int]:
        """What stays charged per fee: charges minus voids, fees with nothing left omitted."""
        net: dict[ServiceCode, Decimal] = {}
        for entry in self.entries:
            if entry.fee_code is None:
                continue
            if entry.kind is LedgerEntryKind.CHARGE:
                net[entry.fee_code] = net.get(entry.fee_code, Decimal(0)) + entry.amount_vnd
            elif entry.kind is LedgerEntryKind.VOID:
                net[entry.fee_code] = net.get(entry.fee_code, Decimal(0)) - entry.amount_vnd
        return {code: int(amount) for code, amount in net.items() if amount}


class ComplaintStepView(_View):
    step: str
    status: str
    actor: Actor
    at: datetime
    message: str | None = None
    resolution: str | None = None
    attachments: list[str] = Field(default_factory=list)
    comment_id: UUID | None = None


class ComplaintView(_View):
    complaint_id: UUID
    type: str | None
    status: str
    description: str | None
    item_ids: list[UUID]
    attachments: list[str]
    requested_amount_vnd: int | None
    resolution: str | None
    resolved_amount_vnd: int | None
    payout_vnd: int | None = Field(
        default=None, description="What a refund pays after any shipping deduction."
    )
    rejection_reason_code: str | None = Field(
        default=None, description="Why the platform itself rejected it (complaint_window_closed)."
    )
    opened_at: datetime | None
    updated_at: datetime
    steps: list[ComplaintStepView]


class OrderDetail(_View):
    order_id: UUID
    code: str
    customer_id: str
    website: Website
    status: OrderStatus
    status_label: Label
    payment_status: PaymentStatus
    version: int
    created_at: datetime
    updated_at: datetime
    info: OrderInfo
    payments: list[PaymentView] = Field(
        description="The deposits and payments the order accepted from the payments system."
    )
    history: list[HistoryEntryView]
    transactions: Transactions
    packages: list[contract.Package]
    complaints: list[ComplaintView]


def _item(item: Item, exchange_rate: Decimal) -> ItemView:
    amount = round_vnd(item.quantity * item.unit_price_cny * exchange_rate) if item.active else 0
    return ItemView(
        item_id=item.item_id,
        product_url=item.product_url,
        title=item.title,
        variant=item.variant,
        quantity=item.quantity,
        unit_price_cny=item.unit_price_cny,
        amount_vnd=int(amount),
        status=item.status,
        status_label=ITEM_STATUS_LABELS[item.status],
        pending_quantity=item.pending_quantity,
        pending_unit_price_cny=item.pending_unit_price_cny,
    )


def _payment(payment: Payment, kind: Literal["deposit", "payment"]) -> PaymentView:
    return PaymentView(
        payment_id=payment.payment_id,
        kind=kind,
        amount_vnd=int(payment.amount_vnd),
        method=payment.method,
        method_label=None if payment.method is None else PAYMENT_METHOD_LABELS[payment.method],
        at=payment.at,
    )


def transactions_of(ledger: dict[str, Any] | None) -> Transactions:
    if ledger is None:
        return Transactions(ledger_version=None, entries=[], totals=None)
    entries = [LedgerEntryView.model_validate(entry) for entry in ledger["entries"]]
    return Transactions(
        ledger_version=ledger["ledger_version"],
        entries=[
            e.model_copy(update={"fee_label": SERVICE_LABELS[e.fee_code]}) if e.fee_code else e
            for e in entries
        ],
        totals=LedgerTotals.model_validate(ledger),
    )


def order_detail(
    order: Order, ledger: dict[str, Any] | None, complaints: Sequence[dict[str, Any]]
) -> OrderDetail:
    payments = [_payment(p, "deposit") for p in order.deposits] + [
        _payment(p, "payment") for p in order.payments
    ]
    transactions = transactions_of(ledger)
    balance_due = None if transactions.totals is None else transactions.totals.balance_due_vnd
    paid = payment_status(balance_due)
    return OrderDetail(
        order_id=order.order_id,
        code=order.code,
        customer_id=order.customer_id,
        website=order.website,
        status=order.status,
        status_label=order_status_label(order.status),
        payment_status=paid,
        version=order.version,
        created_at=order.created_at,
        updated_at=order.updated_at,
        info=OrderInfo(
            items=[_item(i, order.exchange_rate) for i in order.items],
            services=[
                ServiceView(code=s, timing=s.timing, label=SERVICE_LABELS[s])
                for s in order.services
            ],
            delivery_address=order.delivery_address,
            exchange_rate=order.exchange_rate,
            goods_total_vnd=int(order.goods_total_vnd),
            required_deposit_vnd=int(order.required_deposit_vnd),
            deposit_paid_vnd=int(order.deposit_paid_vnd),
            paid_vnd=int(order.paid_vnd),
            balance_due_vnd=None if balance_due is None else int(balance_due),
            payment_status_label=PAYMENT_STATUS_LABELS[paid],
        ),
        payments=sorted(payments, key=lambda p: p.at),
        history=[
            HistoryEntryView(
                from_status=h.from_status,
                to_status=h.to_status,
                to_label=order_status_label(h.to_status),
                actor=h.actor,
                reason=h.reason,
                at=h.at,
            )
            for h in order.history
        ],
        transactions=transactions,
        packages=list(order.packages),
        complaints=sorted(
            (ComplaintView.model_validate(c) for c in complaints),
            key=lambda c: (c.opened_at or c.updated_at, str(c.complaint_id)),
        ),
    )
