"""The ledger's arithmetic (spec §4): what an order cost, what the customer paid, what is due.

Pure: no I/O, no clock. One rule for every path — a refund pays money back, so it lowers what
the order cost the customer *and* what the customer has paid, and never turns into a debt::

    cost = goods + charges − complaint refunds         (never below 0)
    paid = payments − complaint refunds − payouts
    due  = cost − paid                                 (negative: money owed back)

    once cancelled: cost = what stays charged          (the goods are not owed at all)

- *goods*: the goods total, 0 once the order is cancelled (the goods are no longer owed);
- *charges*: every fee charged minus what was voided;
- *complaint refunds*: what ``complaints.refund.approved`` paid back (the resolved amount
  less the shipping deduction when that setting is on);
- *payouts*: money owed back that the payments system paid out (``payments.refund.paid``:
  a cancellation's refund due, an overpayment).

A complaint refund of ``r`` lowers cost and paid by ``r`` alike, so the balance due stays
where it was: a settled order (due 0, ``paid``) stays settled (the cost goes at most to 0,
and complaints never refunds more than was paid). Once the order is cancelled the goods are
refunded in full, the goods a complaint refund compensated included, so the refund counts
only as money already paid back: the refund due is ``max(0, −due)`` = payments − what stays
− money paid back, and paying it out brings the balance to 0.

Example, the ``azl demo`` story: goods 2,263,360 + fees 601,485 − refund 150,000 = cost
2,714,845; payments 2,864,845 − refund 150,000 = paid 2,714,845; due 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from azl_contracts.fees import LedgerEntryKind as Kind

ZERO = Decimal(0)


class _Entry(Protocol):
    @property
    def kind(self) -> Kind: ...

    @property
    def amount_vnd(self) -> Decimal: ...


@dataclass(frozen=True)
class Totals:
    goods_vnd: Decimal = ZERO
    charges_vnd: Decimal = ZERO
    payments_vnd: Decimal = ZERO
    complaint_refunds_vnd: Decimal = ZERO
    payouts_vnd: Decimal = ZERO
    cancelled: bool = False

    @classmethod
    def of(
        cls, goods_vnd: Decimal, entries: Iterable[_Entry], *, cancelled: bool = False
    ) -> Totals:
        sums = dict.fromkeys(Kind, ZERO)
        for entry in entries:
            sums[entry.kind] += entry.amount_vnd
        return cls(
            goods_vnd=goods_vnd,
            charges_vnd=sums[Kind.CHARGE] - sums[Kind.VOID],
            payments_vnd=sums[Kind.PAYMENT],
            complaint_refunds_vnd=sums[Kind.REFUND],
            payouts_vnd=sums[Kind.PAYOUT],
            cancelled=cancelled,
        )

    @property
    def paid_back_vnd(self) -> Decimal:
        """Every dong that went back to the customer: complaint refunds and payouts."""
        return self.complaint_refunds_vnd + self.payouts_vnd

    @property
    def cost_vnd(self) -> Decimal:
        """What the order cost the customer: goods and fees, less complaint refunds; once
        cancelled, what stays charged."""
        if self.cancelled:
            return self.charges_vnd
        return max(ZERO, self.goods_vnd + self.charges_vnd - self.complaint_refunds_vnd)

    @property
    def paid_vnd(self) -> Decimal:
        """What the customer has paid and kept with us: payments less what went back."""
        return self.payments_vnd - self.paid_back_vnd

    @property
    def due_vnd(self) -> Decimal:
        """The balance due; negative when money is owed back to the customer."""
        return self.cost_vnd - self.paid_vnd

    @property
    def owed_back_vnd(self) -> Decimal:
        """Money the customer is owed back (after a cancellation: the refund due)."""
        return max(ZERO, -self.due_vnd)
