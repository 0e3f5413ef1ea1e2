"""The per-order ledger: payments, charges, voids, refunds and the balance due (spec §4).

Pure: no I/O. The ledger keeps what it has learnt about its order — the newest goods and
services snapshot (by ``order_version``), whether it is deposited, cancelled (and from which
status) or delivered (with its packages) — and after every change *settles*: it prices
what should be charged now and charges or voids the difference for each fee. So:

- the charged goods-dependent fees always equal the price of the current goods;
- the same change delivered twice (or an older snapshot arriving late) changes nothing;
- facts arriving out of order converge to the same ledger.

The arithmetic of the totals is ``totals.Totals``: a refund pays money back, lowering what
the order cost and what was paid alike, so the balance due never rises with a refund.
Every change records its events; the unit of work closes it with one
``fees.ledger.updated`` carrying the whole ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid4

from azl_contracts import fees as contract
from azl_contracts import orders as order_events
from azl_contracts.common import ItemStatus, OrderStatus, ServiceCode, ServiceTiming
from azl_contracts.fees import LedgerEntryKind as Kind
from azl_contracts.money import MAX_VND, refund_shipping_deduction
from azl_kit.aggregates import Aggregate
from azl_kit.errors import InvalidState, LimitExceeded

from .catalog import Catalog
from .pricing import (
    ZERO,
    GoodsLine,
    GoodsToPrice,
    PackageSize,
    Price,
    charged_codes,
    number,
    price_at_order,
    price_on_completion,
)
from .totals import Totals

S = OrderStatus
C = ServiceCode

RETAINED_ON_CANCELLATION: dict[OrderStatus, frozenset[ServiceCode]] = {
    S.AWAITING_DEPOSIT: frozenset(),
    S.DEPOSITED: frozenset(),
    S.PURCHASING: frozenset({C.FAST_ORDER}),
    S.AWAITING_CONFIRMATION: frozenset({C.FAST_ORDER}),
    S.CANCELLATION_REQUESTED: frozenset({C.PURCHASE_FEE, C.FAST_ORDER}),
}
"""What stays charged when an order is cancelled from each status; everything else is voided."""

SIGN = {Kind.CHARGE: 1, Kind.VOID: -1, Kind.PAYMENT: -1, Kind.REFUND: 0, Kind.PAYOUT: 1}
"""How each kind of entry moves the balance due (``Totals``): a complaint refund lowers the
cost and what was paid alike (0; it lowers the cost at most to nothing), a payout is money
that went back."""


class LedgerLimitExceeded(LimitExceeded):
    """An entry would take a total of the ledger beyond what its money fields hold (e.g.
    payments adding up to more than 18 digits of dong): refused, so the message is
    dead-lettered at once for an operator, instead of failing on the event attempt after
    attempt."""


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

    @property
    def signed_vnd(self) -> Decimal:
        return self.amount_vnd * SIGN[self.kind]

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


def goods_of(snapshot: order_events.Goods) -> GoodsToPrice:
    """The goods an orders event carries: its active items and their total."""
    lines = tuple(
        GoodsLine(item.quantity, item.unit_price_cny)
        for item in snapshot.items
        if item.status is not ItemStatus.CANCELLED
    )
    return GoodsToPrice(snapshot.goods_total_vnd, lines)


def packages_of(packages: Iterable[order_events.Package]) -> list[PackageSize]:
    return [
        PackageSize(p.weight_kg, p.length_cm, p.width_cm, p.height_cm, p.package_code)
        for p in packages
    ]


@dataclass
class Ledger(Aggregate):
    order_id: UUID
    customer_id: str
    catalog_version: str
    goods: GoodsToPrice
    services: list[ServiceCode]
    goods_version: int = 0
    services_version: int = 0
    deposited: bool = False
    cancelled_from: OrderStatus | None = None
    delivered: bool = False
    packages: list[PackageSize] = field(default_factory=list)
    shipping_deducted_vnd: Decimal = ZERO
    refund_due_vnd: Decimal | None = None
    entries: list[Entry] = field(default_factory=list)
    deducts_shipping: bool = field(default=False, compare=False)
    """The service's refund policy (``AZL_DEDUCT_SHIPPING_FROM_REFUNDS``), not stored: the
    handler that loads the ledger gives it, and every snapshot states it, so complaints
    expects each refund's payout as this ledger will record it."""
    _new_entries: list[Entry] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def open(
        cls,
        order_id: UUID,
        customer_id: str,
        goods: GoodsToPrice,
        services: Sequence[ServiceCode],
        *,
        order_version: int,
        catalog_version: str,
        deducts_shipping: bool = False,
    ) -> Ledger:
        """A new order's ledger, priced with the catalog in force at placement."""
        ledger = cls(
            order_id,
            customer_id,
            catalog_version,
            goods,
            list(services),
            goods_version=order_version,
            services_version=order_version,
            deducts_shipping=deducts_shipping,
        )
        ledger._touch()
        return ledger

    # --- totals -------------------------------------------------------------------------

    def _sum(self, kind: Kind, fee_code: ServiceCode | None = None) -> Decimal:
        return sum(
            (
                e.amount_vnd
                for e in self.entries
                if e.kind is kind and (fee_code is None or e.fee_code is fee_code)
            ),
            ZERO,
        )

    @property
    def cancelled(self) -> bool:
        return self.cancelled_from is not None

    @property
    def goods_total_vnd(self) -> Decimal:
        """What the customer owes for the goods: nothing once the order is cancelled."""
        return ZERO if self.cancelled else self.goods.total_vnd

    @property
    def charges_total_vnd(self) -> Decimal:
        return self._sum(Kind.CHARGE) - self._sum(Kind.VOID)

    @property
    def payments_total_vnd(self) -> Decimal:
        return self._sum(Kind.PAYMENT)

    @property
    def refunds_total_vnd(self) -> Decimal:
        """Complaint refunds."""
        return self._sum(Kind.REFUND)

    @property
    def payouts_total_vnd(self) -> Decimal:
        return self._sum(Kind.PAYOUT)

    @property
    def totals(self) -> Totals:
        return Totals.of(self.goods_total_vnd, self.entries, cancelled=self.cancelled)

    @property
    def balance_due_vnd(self) -> Decimal:
        return self.totals.due_vnd

    def charged(self, fee_code: ServiceCode) -> Decimal:
        """What stays charged for a fee: its charges minus its voids."""
        return self._sum(Kind.CHARGE, fee_code) - self._sum(Kind.VOID, fee_code)

    def charges_by_fee(self) -> dict[ServiceCode, Decimal]:
        return {code: self.charged(code) for code in ServiceCode if self.charged(code)}

    @property
    def new_entries(self) -> list[Entry]:
        return list(self._new_entries)

    # --- what the order did -------------------------------------------------------------

    def order_deposited(
        self,
        goods: GoodsToPrice,
        services: Sequence[ServiceCode],
        *,
        order_version: int,
        catalog: Catalog,
        now: datetime,
    ) -> None:
        """At-order fees are charged: the mandatory purchase fee and the selected services."""
        self._learn_goods(goods, order_version)
        self._learn_services(services, order_version)
        if not self.deposited:
            self._touch()
            self.deposited = True
        self._settle(catalog, now, f"order v{order_version} deposited")

    def goods_changed(
        self, goods: GoodsToPrice, *, order_version: int, catalog: Catalog, now: datetime
    ) -> None:
        """Quantities increased, changed items confirmed or items declined: re-price."""
        if self._learn_goods(goods, order_version):
            self._settle(catalog, now, f"goods of order v{order_version}")

    def services_updated(
        self,
        services: Sequence[ServiceCode],
        *,
        order_version: int,
        catalog: Catalog,
        now: datetime,
    ) -> None:
        """Added at-order services are charged, removed ones voided; on-completion services
        are only priced when the order is delivered."""
        if self._learn_services(services, order_version):
            self._settle(catalog, now, f"services of order v{order_version}")

    def order_cancelled(
        self,
        cancelled_from: OrderStatus,
        *,
        order_version: int,
        catalog: Catalog,
        now: datetime,
    ) -> None:
        """What stays charged depends on the status the order was cancelled from; the rest
        is voided and the refund due is payments minus what stays (never below 0)."""
        if self.cancelled:
            return
        if cancelled_from not in RETAINED_ON_CANCELLATION:
            raise InvalidState(
                f"an order cannot be cancelled from {cancelled_from.value}",
                cancelled_from=cancelled_from.value,
            )
        self._touch()
        self.cancelled_from = cancelled_from
        if cancelled_from is not S.AWAITING_DEPOSIT:
            self.deposited = True  # its deposited event may still be on its way
        self._settle(catalog, now, f"order v{order_version} cancelled from {cancelled_from.value}")

    def order_delivered(
        self,
        packages: Sequence[PackageSize],
        services: Sequence[ServiceCode],
        *,
        order_version: int,
        catalog: Catalog,
        now: datetime,
    ) -> None:
        """On-completion services and international shipping, priced from the packages."""
        if self.delivered:
            return
        self._learn_services(services, order_version)
        self._touch()
        self.delivered = True
        self.deposited = True
        self.packages = list(packages)
        self._settle(catalog, now, f"order v{order_version} delivered")

    # --- money in and out ---------------------------------------------------------------

    def record_payment(
        self, payment_id: str, amount_vnd: Decimal, description: str, now: datetime
    ) -> bool:
        """Once per payment id, however often the payments system reports it. Money received
        is always recorded, whatever the order's status; after a cancellation it adds to the
        refund due."""
        if self._has(Kind.PAYMENT, payment_id):
            return False
        self._add(Entry(Kind.PAYMENT, amount_vnd, description, now, reference=payment_id))
        self._update_refund_due(now)
        return True

    def record_refund(
        self,
        complaint_id: UUID,
        resolved_amount_vnd: Decimal,
        *,
        deduct_shipping: bool | None = None,
        now: datetime,
    ) -> bool:
        """A complaint's refund, once per complaint. When the ledger deducts shipping (its
        ``deducts_shipping`` unless ``deduct_shipping`` says otherwise) the refund paid is
        the resolved amount minus the charged international shipping not deducted yet
        (``azl_contracts.money.refund_shipping_deduction``: once per order in total, and a
        refund never goes below 0)."""
        reference = str(complaint_id)
        if self._has(Kind.REFUND, reference):
            return False
        deducted = ZERO
        deduct = self.deducts_shipping if deduct_shipping is None else deduct_shipping
        if deduct:
            left = self.charged(C.INTERNATIONAL_SHIPPING) - self.shipping_deducted_vnd
            deducted = refund_shipping_deduction(resolved_amount_vnd, left)
        paid = resolved_amount_vnd - deducted
        description = f"refund for complaint {reference}"
        if deducted:
            description += (
                f": {number(resolved_amount_vnd)} resolved − {number(deducted)} "
                "international shipping"
            )
        entry = Entry(Kind.REFUND, paid, description, now, reference=reference)
        self._add(entry)
        self.shipping_deducted_vnd += deducted
        self.events.append(
            contract.RefundRecorded(
                **self._event_fields(now),
                entry_id=entry.entry_id,
                amount_vnd=paid,
                complaint_id=complaint_id,
                resolved_amount_vnd=resolved_amount_vnd,
                shipping_deducted_vnd=deducted,
            )
        )
        self._update_refund_due(now)
        return True

    def record_payout(
        self, refund_id: str, amount_vnd: Decimal, description: str, now: datetime
    ) -> bool:
        """Money paid back by the payments system (a cancellation's refund due, an
        overpayment), once per refund id: it lowers what the customer has paid."""
        if self._has(Kind.PAYOUT, refund_id):
            return False
        self._add(Entry(Kind.PAYOUT, amount_vnd, description, now, reference=refund_id))
        self._update_refund_due(now)
        return True

    # --- settling -----------------------------------------------------------------------

    def due_now(self, catalog: Catalog) -> dict[ServiceCode, Price]:
        """What should be charged for each fee given what the ledger knows of the order."""
        if not self.deposited:
            return {}
        due = {
            code: price_at_order(code, self.goods, catalog)
            for code in charged_codes(self.services, ServiceTiming.AT_ORDER)
        }
        if self.cancelled_from is not None:
            kept = RETAINED_ON_CANCELLATION[self.cancelled_from]
            return {code: price for code, price in due.items() if code in kept}
        if self.delivered:
            for code in charged_codes(self.services, ServiceTiming.ON_COMPLETION):
                due[code] = price_on_completion(code, self.packages, catalog)
        return due

    def _settle(self, catalog: Catalog, now: datetime, cause: str) -> None:
        due = self.due_now(catalog)
        for code in ServiceCode:
            price = due.get(code)
            wanted = ZERO if price is None else price.amount_vnd
            have = self.charged(code)
            if wanted > have:
                assert price is not None
                basis = price.basis if have == 0 else _repriced(price, have)
                self._charge(code, wanted - have, basis, catalog.version, now, cause)
            elif wanted < have:
                self._void(code, have - wanted, self._void_reason(code, price, have), now, cause)
        self._update_refund_due(now)

    def _void_reason(self, code: ServiceCode, price: Price | None, have: Decimal) -> str:
        if price is not None:
            return _repriced(price, have)
        if self.cancelled_from is not None:
            return f"order cancelled from {self.cancelled_from.value}: {code.value} does not stay"
        if not code.mandatory and code not in self.services:
            return f"{code.value} removed from the order's services"
        return f"{code.value} is no longer due"

    def _charge(
        self,
        code: ServiceCode,
        amount: Decimal,
        basis: str,
        catalog_version: str,
        now: datetime,
        cause: str,
    ) -> None:
        entry = Entry(
            Kind.CHARGE,
            amount,
            basis,
            now,
            fee_code=code,
            catalog_version=catalog_version,
            reference=cause,
        )
        self._add(entry)
        self.events.append(
            contract.FeeCharged(
                **self._event_fields(now),
                entry_id=entry.entry_id,
                fee_code=code,
                amount_vnd=amount,
                catalog_version=catalog_version,
                basis=basis,
                on_completion=code.timing is ServiceTiming.ON_COMPLETION,
            )
        )

    def _void(
        self, code: ServiceCode, amount: Decimal, reason: str, now: datetime, cause: str
    ) -> None:
        entry = Entry(Kind.VOID, amount, reason, now, fee_code=code, reference=cause)
        self._add(entry)
        self.events.append(
            contract.FeeVoided(
                **self._event_fields(now),
                entry_id=entry.entry_id,
                fee_code=code,
                amount_vnd=amount,
                reason=reason,
            )
        )

    def _update_refund_due(self, now: datetime) -> None:
        """Once cancelled: what the customer paid and kept with us beyond what the order
        still costs (``Totals.owed_back_vnd``), never below 0; published at the cancellation
        and again whenever it changes (a late payment, a payout)."""
        if self.cancelled_from is None:
            return
        retained = self.charges_total_vnd
        totals = self.totals
        due = totals.owed_back_vnd
        if due == self.refund_due_vnd:
            return
        self._touch()
        self.refund_due_vnd = due
        self.events.append(
            contract.RefundDue(
                **self._event_fields(now),
                amount_vnd=due,
                payments_vnd=self.payments_total_vnd,
                retained_vnd=retained,
                cancelled_from=self.cancelled_from,
                refunds_vnd=totals.paid_back_vnd,
            )
        )

    # --- bookkeeping --------------------------------------------------------------------

    def _learn_goods(self, goods: GoodsToPrice, order_version: int) -> bool:
        """Keep the newest goods snapshot; an older or the same one changes nothing."""
        if order_version <= self.goods_version:
            return False
        self._touch()
        self.goods, self.goods_version = goods, order_version
        return True

    def _learn_services(self, services: Sequence[ServiceCode], order_version: int) -> bool:
        if order_version <= self.services_version:
            return False
        self._touch()
        self.services, self.services_version = list(services), order_version
        return True

    def _has(self, kind: Kind, reference: str) -> bool:
        return any(e.kind is kind and e.reference == reference for e in self.entries)

    def _add(self, entry: Entry) -> None:
        self._check_totals_with(entry)
        self._touch()
        self.entries.append(entry)
        self._new_entries.append(entry)

    def _check_totals_with(self, entry: Entry) -> None:
        totals = Totals.of(self.goods_total_vnd, [*self.entries, entry], cancelled=self.cancelled)
        amounts = {
            "charges_total_vnd": totals.charges_vnd,
            "payments_total_vnd": totals.payments_vnd,
            "refunds_total_vnd": totals.complaint_refunds_vnd,
            "payouts_total_vnd": totals.payouts_vnd,
            "cost_vnd": totals.cost_vnd,
            "paid_vnd": totals.paid_vnd,
            "balance_due_vnd": totals.due_vnd,
        }
        over = {name: amount for name, amount in amounts.items() if abs(amount) > MAX_VND}
        if over:
            raise LedgerLimitExceeded(
                f"{entry.kind.value} {number(entry.amount_vnd)} VND would take the ledger of "
                f"order {self.order_id} beyond {number(MAX_VND)} VND",
                order_id=str(self.order_id),
                reference=entry.reference,
                limit_vnd=MAX_VND,
                amounts_vnd=over,
            )

    def _event_fields(self, now: datetime) -> dict[str, object]:
        return {"order_id": self.order_id, "customer_id": self.customer_id, "occurred_at": now}

    def close(self, now: datetime) -> None:
        """End of a unit of work: publish the whole ledger once if anything changed."""
        if not self._changed:
            return
        self.events.append(self.snapshot(now))
        self._changed = False
        self._new_entries.clear()

    def snapshot(self, now: datetime) -> contract.LedgerUpdated:
        totals = self.totals
        return contract.LedgerUpdated(
            order_id=self.order_id,
            customer_id=self.customer_id,
            occurred_at=now,
            ledger_version=self.version,
            goods_total_vnd=self.goods_total_vnd,
            charges_total_vnd=self.charges_total_vnd,
            payments_total_vnd=self.payments_total_vnd,
            refunds_total_vnd=self.refunds_total_vnd,
            balance_due_vnd=totals.due_vnd,
            payouts_total_vnd=totals.payouts_vnd,
            cost_vnd=totals.cost_vnd,
            paid_vnd=totals.paid_vnd,
            entries=[e.to_contract() for e in self.entries],
            catalog_version=self.catalog_version,
            cancelled_from=self.cancelled_from,
            refund_due_vnd=self.refund_due_vnd,
            shipping_deducted_vnd=self.shipping_deducted_vnd,
            deducts_shipping_from_refunds=self.deducts_shipping,
        )


def _repriced(price: Price, have: Decimal) -> str:
    return f"re-priced: {price.basis} = {number(price.amount_vnd)}; {number(have)} charged before"
