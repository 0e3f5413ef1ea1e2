"""Events the payments system publishes into the platform."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from .base import Event
from .common import VND, PaymentMethod


class DepositReceived(Event):
    NAME: ClassVar[str] = "payments.deposit.received"

    order_id: UUID
    amount_vnd: VND = Field(gt=0)
    payment_id: str = Field(min_length=1, max_length=64)
    received_at: AwareDatetime | None = None


class PaymentReceived(Event):
    NAME: ClassVar[str] = "payments.payment.received"

    order_id: UUID
    amount_vnd: VND = Field(gt=0)
    payment_id: str = Field(min_length=1, max_length=64)
    method: PaymentMethod
    received_at: AwareDatetime | None = None


class RefundPaid(Event):
    """The payments system paid money back to a customer: a cancellation's refund due
    (``fees.refund.due``) or an overpayment. The fees ledger records it once per
    ``refund_id`` as a payout; it lowers what the customer has paid."""

    NAME: ClassVar[str] = "payments.refund.paid"

    order_id: UUID
    amount_vnd: VND = Field(gt=0)
    refund_id: str = Field(min_length=1, max_length=64)
    paid_at: AwareDatetime | None = None
