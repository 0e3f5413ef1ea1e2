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
