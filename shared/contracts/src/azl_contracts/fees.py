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
    """``fees.quote``: price a prospective order before it is placed.

    Each field has its own limits; a request within them whose amounts together would not
    fit an 18-digit money field, or whose goods are more than an order may hold (17 digits of
    dong, as orders refuses them), is refused with ``limit_exceeded``, naming those amounts."""

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
    on_completion: bool = Field(
        default=False, description="Charged when the order is delivered, not at order time."
    )


class Quote(Reply):
    NAME: ClassVar[str] = "fees.quote.result"

    status: str = "ok"
    catalog_version: str
    goods_total_vnd: VND
    lines: list[QuoteLine]
    fees_total_vnd: VND
    total_vnd: VND
    required_deposit_vnd: VND
    deposit_ratio: Decimal | None = Field(
        default=None,
        description="The share of the goods total the required deposit was priced with: "
        "AZL_DEPOSIT_RATIO, the one setting the orders service decides each order's deposit "
        "with; the placed order's required_deposit_vnd is the one owed.",
    )
    priced_on_delivery: list[ServiceCode] = Field(
        default_factory=list,
        description="On-completion fees that will be charged at delivery but could not be "
        "priced now because no packages were given (e.g. international_shipping).",
    )


QuoteRequest.REPLY = Quote


class LedgerEntryKind(StrEnum):
    PAYMENT = "payment"
    CHARGE = "charge"
    VOID = "void"
    REFUND = "refund"
    PAYOUT = "payout"
    """Money owed back (a cancellation's refund due, an overpayment) paid out to the
    customer by the payments system (``payments.refund.paid``)."""


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
    refunds_vnd: VND = Field(
        default=Decimal(0),
        description="Money already paid back (complaint refunds and payouts), deducted from "
        "what is due.",
    )


class RefundRecorded(FeeEvent):
    NAME: ClassVar[str] = "fees.refund.recorded"

    entry_id: UUID
    amount_vnd: VND
    complaint_id: UUID | None = None
    resolved_amount_vnd: VND
    shipping_deducted_vnd: VND = Decimal(0)


class LedgerUpdated(FeeEvent):
    """The whole ledger of an order after a change; ``ledger_version`` orders snapshots.

    A refund pays money back, so it lowers both what the order cost and what was paid:

    - ``cost_vnd`` = ``goods_total_vnd`` + ``charges_total_vnd`` (charges minus voids)
      − ``refunds_total_vnd`` (complaint refunds), never below 0; once cancelled, what stays
      charged (the goods, those a complaint refund compensated included, are refunded);
    - ``paid_vnd`` = ``payments_total_vnd`` − ``refunds_total_vnd`` − ``payouts_total_vnd``;
    - ``balance_due_vnd`` = ``cost_vnd`` − ``paid_vnd``.

    A complaint refund leaves the balance where it was: a settled order stays settled. Once
    the order is cancelled the goods are no longer owed: ``goods_total_vnd`` is 0 and a
    negative balance is money owed back, until it is paid out (``payouts_total_vnd``).
    """

    NAME: ClassVar[str] = "fees.ledger.updated"

    ledger_version: int
    goods_total_vnd: VND
    charges_total_vnd: VND
    payments_total_vnd: VND
    refunds_total_vnd: VND
    balance_due_vnd: SignedVND
    entries: list[LedgerEntry]
    catalog_version: str | None = Field(
        default=None, description="The catalog version the order is priced with."
    )
    cancelled_from: OrderStatus | None = Field(
        default=None, description="Set once the order is cancelled: the status it left."
    )
    refund_due_vnd: VND | None = Field(
        default=None,
        description="After a cancellation: payments minus what stays charged minus refunds "
        "already recorded, never below 0.",
    )
    shipping_deducted_vnd: VND = Field(
        default=Decimal(0),
        description="International shipping deducted from complaint refunds (at most once).",
    )
    deducts_shipping_from_refunds: bool | None = Field(
        default=None,
        description="Whether this ledger deducts the charged international shipping from "
        "complaint refunds (the fees setting AZL_DEDUCT_SHIPPING_FROM_REFUNDS): complaints "
        "expects each refund's payout by it (null from senders before it was added).",
    )
    payouts_total_vnd: VND = Field(
        default=Decimal(0),
        description="Money owed back that the payments system paid out "
        "(payments.refund.paid): a cancellation's refund due, an overpayment.",
    )
    cost_vnd: VND | None = Field(
        default=None,
        description="What the order cost the customer: goods + charges − complaint refunds, "
        "never below 0; once cancelled, what stays charged (null from senders before it "
        "was added).",
    )
    paid_vnd: SignedVND | None = Field(
        default=None,
        description="What the customer paid and kept with us: payments − complaint refunds "
        "− payouts (null from senders before it was added).",
    )
