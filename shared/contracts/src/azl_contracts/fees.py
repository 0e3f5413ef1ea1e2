"""The fees service's quote RPC and the ledger events it publishes (spec §4)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .base import Event, Query, Reply
from .common import CNY, VND, ExchangeRate, OrderStatus, Quantity, ServiceCode, SignedVND
from .orders import MAX_ITEMS_PER_ORDER, PackageDetails


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuoteItem(_Strict):
    quantity: Quantity
    unit_price_cny: CNY


class QuoteRequest(Query):
    """``fees.quote``: price a prospective order before it is placed."""

    NAME: ClassVar[str] = "fees.quote"

    items: list[QuoteItem] = Field(min_length=1, max_length=MAX_ITEMS_PER_ORDER)
    services: list[ServiceCode] = Field(default_factory=list, max_length=10)
    exchange_rate: ExchangeRate
    packages: list[PackageDetails] = Field(
        default_factory=list, description="Expected packages, to price on-completion fees."
    )


class QuoteLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    fee_code: ServiceCode
    amount_vnd: VND
    basis: str


class Quote(Reply):
    NAME: ClassVar[str] = "fees.quote.result"

    status: str = "ok"
    catalog_version: str
    goods_total_vnd: VND
    lines: list[QuoteLine]
    fees_total_vnd: VND
    total_vnd: VND
    required_deposit_vnd: VND


class LedgerEntryKind(StrEnum):
    PAYMENT = "payment"
    CHARGE = "charge"
    VOID = "void"
    REFUND = "refund"


class LedgerEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    entry_id: UUID
    kind: LedgerEntryKind
    amount_vnd: VND
    fee_code: ServiceCode | None = None
    catalog_version: str | None = None
    description: str
    reference: str | None = None
    recorded_at: AwareDatetime


class FeeEvent(Event):
    order_id: UUID
    customer_id: str
    occurred_at: AwareDatetime


class FeeCharged(FeeEvent):
    NAME: ClassVar[str] = "fees.fee.charged"

    entry_id: UUID
    fee_code: ServiceCode
    amount_vnd: VND
    catalog_version: str
    basis: str
    on_completion: bool = False


class FeeVoided(FeeEvent):
    NAME: ClassVar[str] = "fees.fee.voided"

    entry_id: UUID
    fee_code: ServiceCode
    amount_vnd: VND
    reason: str


class RefundDue(FeeEvent):
    """After a cancellation: what the customer paid beyond what stays charged."""

    NAME: ClassVar[str] = "fees.refund.due"

    amount_vnd: VND
    payments_vnd: VND
    retained_vnd: VND
    cancelled_from: OrderStatus


class RefundRecorded(FeeEvent):
    NAME: ClassVar[str] = "fees.refund.recorded"

    entry_id: UUID
    amount_vnd: VND
    complaint_id: UUID | None = None
    resolved_amount_vnd: VND
    shipping_deducted_vnd: VND = Decimal(0)


class LedgerUpdated(FeeEvent):
    """The whole ledger of an order after a change; ``ledger_version`` orders snapshots."""

    NAME: ClassVar[str] = "fees.ledger.updated"

    ledger_version: int
    goods_total_vnd: VND
    charges_total_vnd: VND
    payments_total_vnd: VND
    refunds_total_vnd: VND
    balance_due_vnd: SignedVND
    entries: list[LedgerEntry]
