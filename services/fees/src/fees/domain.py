"""The per-order ledger: payments, charges, voids, refunds and the balance due (spec §4).

Pure: no I/O. Balance due = goods total + charged fees − voided fees − payments + refunds.
Every change records its events; the unit of work closes it with one ``fees.ledger.updated``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid4

from azl_contracts import Event
from azl_contracts import fees as contract
from azl_contracts.common import ServiceCode
from azl_contracts.fees import LedgerEntryKind as Kind

from .catalog import Catalog
from .pricing import Price, purchase_fee


@dataclass(frozen=True)
class Entry:
    kind: Kind
    amount_vnd: Decimal
    description: str
    recorded_at: datetime
    fee_code: ServiceCode | None = None
    catalog_version: str | None = None
    reference: str | None = None
    entry_id: UUID = field(default_factory=uuid4)

    def to_contract(self) -> contract.LedgerEntry:
        return contract.LedgerEntry(
            entry_id=self.entry_id,
            kind=self.kind,
            amount_vnd=self.amount_vnd,
            fee_code=self.fee_code,
            catalog_version=self.catalog_version,
            description=self.description,
            reference=self.reference,
            recorded_at=self.recorded_at,
        )


@dataclass
class Ledger:
    order_id: UUID
    customer_id: str
    goods_total_vnd: Decimal
    services: list[ServiceCode]
    version: int = 0
    entries: list[Entry] = field(default_factory=list)
    events: list[Event] = field(default_factory=list, repr=False, compare=False)
    _changed: bool = field(default=False, repr=False, compare=False)
    _new_entries: list[Entry] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def open(
        cls, order_id: UUID, customer_id: str, goods_total_vnd: Decimal, services: list[ServiceCode]
    ) -> Ledger:
        ledger = cls(order_id, customer_id, goods_total_vnd, list(services))
        ledger._changed = True
        ledger.version = 1
        return ledger

    # --- totals -------------------------------------------------------------------------

    def _sum(self, kind: Kind, fee_code: ServiceCode | None = None) -> Decimal:
        return sum(
            (
                e.amount_vnd
                for e in self.entries
                if e.kind is kind and (fee_code is None or e.fee_code is fee_code)
            ),
            Decimal(0),
        )

    @property
    def charges_total_vnd(self) -> Decimal:
        return self._sum(Kind.CHARGE) - self._sum(Kind.VOID)

    @property
    def payments_total_vnd(self) -> Decimal:
        return self._sum(Kind.PAYMENT)

    @property
    def refunds_total_vnd(self) -> Decimal:
        return self._sum(Kind.REFUND)

    @property
    def balance_due_vnd(self) -> Decimal:
        return (
            self.goods_total_vnd
            + self.charges_total_vnd
            - self.payments_total_vnd
            + self.refunds_total_vnd
        )

    def charged(self, fee_code: ServiceCode) -> Decimal:
        """What stays charged for a fee: its charges minus its voids."""
        return self._sum(Kind.CHARGE, fee_code) - self._sum(Kind.VOID, fee_code)

    @property
    def changed(self) -> bool:
        return self._changed

    @property
    def new_entries(self) -> list[Entry]:
        return list(self._new_entries)

    # --- changes ------------------------------------------------------------------------

    def record_payment(
        self, payment_id: str, amount_vnd: Decimal, description: str, now: datetime
    ) -> bool:
        """Once per payment id, however often the payments system reports it."""
        if any(e.kind is Kind.PAYMENT and e.reference == payment_id for e in self.entries):
            return False
        self._add(Entry(Kind.PAYMENT, amount_vnd, description, now, reference=payment_id))
        return True

    def charge_at_deposit(self, catalog: Catalog, now: datetime) -> None:
        """The mandatory purchase fee, once, when the order becomes deposited."""
        if self.charged(ServiceCode.PURCHASE_FEE) == 0:
            self.charge(purchase_fee(self.goods_total_vnd, catalog), catalog.version, now)

    def charge(
        self, price: Price, catalog_version: str, now: datetime, *, on_completion: bool = False
    ) -> None:
        if price.amount_vnd <= 0:
            return
        entry = Entry(
            Kind.CHARGE,
            price.amount_vnd,
            price.basis,
            now,
            fee_code=price.fee_code,
            catalog_version=catalog_version,
        )
        self._add(entry)
        self.events.append(
            contract.FeeCharged(
                order_id=self.order_id,
                customer_id=self.customer_id,
                occurred_at=now,
                entry_id=entry.entry_id,
                fee_code=price.fee_code,
                amount_vnd=price.amount_vnd,
                catalog_version=catalog_version,
                basis=price.basis,
                on_completion=on_completion,
            )
        )

    def _add(self, entry: Entry) -> None:
        self._touch()
        self.entries.append(entry)
        self._new_entries.append(entry)

    def _touch(self) -> None:
        if not self._changed:
            self.version += 1
            self._changed = True

    def close(self, now: datetime) -> None:
        """End of a unit of work: publish the whole ledger once if anything changed."""
        if not self._changed:
            return
        self.events.append(
            contract.LedgerUpdated(
                order_id=self.order_id,
                customer_id=self.customer_id,
                occurred_at=now,
                ledger_version=self.version,
                goods_total_vnd=self.goods_total_vnd,
                charges_total_vnd=self.charges_total_vnd,
                payments_total_vnd=self.payments_total_vnd,
                refunds_total_vnd=self.refunds_total_vnd,
                balance_due_vnd=self.balance_due_vnd,
                entries=[e.to_contract() for e in self.entries],
            )
        )
