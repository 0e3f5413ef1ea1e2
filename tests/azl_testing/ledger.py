"""Following an order's fees ledger on the bus, and the events fees takes from systems
outside the platform under test: the payments system's payments, complaints' refunds and,
for tests that run the fees service alone, the orders events themselves."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from azl_contracts import Actor, ActorRole
from azl_contracts import complaints as k
from azl_contracts import orders as o
from azl_contracts.common import ItemStatus, OrderStatus, ServiceCode, Website
from azl_contracts.money import goods_total_vnd

from .builders import ADDRESS, deposit
from .bus import Bus, Received

Ledger = dict[str, Any]


# --- events from outside systems -----------------------------------------------------


def refund_approved(
    order_id: UUID | str,
    customer_id: str,
    amount: Decimal | int,
    complaint_id: UUID | None = None,
) -> k.RefundApproved:
    return k.RefundApproved(
        complaint_id=complaint_id or uuid4(),
        order_id=UUID(str(order_id)),
        customer_id=customer_id,
        status=k.ComplaintStatus.RESOLVED,
        actor=Actor(id="staff-1", role=ActorRole.STAFF),
        occurred_at=datetime.now(UTC),
        amount_vnd=Decimal(amount),
    )


# --- reading the ledger off the bus ---------------------------------------------------


def of_order(bus: Bus, type_prefix: str, order_id: UUID | str) -> list[Received]:
    return bus.seen(type_prefix, lambda e: e.json.get("order_id") == str(order_id))


def latest_ledger(bus: Bus, order_id: UUID | str) -> Ledger | None:
    """The newest ``fees.ledger.updated`` snapshot of an order seen so far."""
    snapshots = [e.json for e in of_order(bus, "fees.ledger.updated", order_id)]
    return max(snapshots, key=lambda s: s["ledger_version"]) if snapshots else None


async def ledger_when(
    bus: Bus,
    order_id: UUID | str,
    condition: Callable[[Ledger], bool],
    *,
    timeout: float = 20.0,
) -> Ledger:
    """Wait until the order's newest ledger snapshot satisfies ``condition``."""
    deadline = time.monotonic() + timeout
    while True:
        ledger = latest_ledger(bus, order_id)
        if ledger is not None and condition(ledger):
            return ledger
        if time.monotonic() > deadline:
            raise TimeoutError(f"ledger of {order_id} never matched; last: {ledger}")
        await asyncio.sleep(0.02)


async def fence_fees(bus: Bus, order_id: UUID | str, customer_id: str) -> str:
    """Evidence that fees has handled what was sent to it before (no quiet period): a 1 VND
    deposit and a 1 VND refund for a *fence* order (``order_id``: another order, placed after
    the ones looked at, whose ledger the caller saw opened — that proves fees' order-events
    queue got past them), on fees' payment and complaint queues, and both in its ledger.
    Fees takes each queue in order and publishes what each message caused in commit order,
    so once the fence is in the ledger everything sent before it was handled and seen.
    Returns the deposit's message id (other services take it too)."""
    payment_id = f"fence-{uuid4().hex[:12]}"
    deposit_id = await bus.emit(deposit(order_id, 1, payment_id=payment_id))
    refund = refund_approved(order_id, customer_id, 1)
    await bus.emit(refund)
    await bus.wait_for(
        "fees.refund.recorded", lambda e: e.json["complaint_id"] == str(refund.complaint_id)
    )
    await ledger_when(
        bus, order_id, lambda led: any(e["reference"] == payment_id for e in led["entries"])
    )
    return deposit_id


def fees_of(ledger: Ledger) -> dict[str, int]:
    """What stays charged per fee: its charges minus its voids (fees at 0 left out)."""
    totals: Counter[str] = Counter()
    for entry in ledger["entries"]:
        if entry["kind"] in ("charge", "void"):
            sign = 1 if entry["kind"] == "charge" else -1
            totals[entry["fee_code"]] += sign * int(entry["amount_vnd"])
    return {code: amount for code, amount in totals.items() if amount}


def lines_of(ledger: Ledger) -> Counter[tuple[str, str | None, int]]:
    """The ledger's entries as (kind, fee code, amount), in any order."""
    return Counter((e["kind"], e["fee_code"], int(e["amount_vnd"])) for e in ledger["entries"])


def amounts(events: Sequence[Received]) -> dict[str, int]:
    """fee code → amount of ``fees.fee.charged`` / ``fees.fee.voided`` events."""
    return {e.json["fee_code"]: int(e.json["amount_vnd"]) for e in events}


def caused_by(bus: Bus, type_prefix: str, cause: Received) -> list[Received]:
    return bus.seen(type_prefix, lambda e: e.causation_id == cause.message_id)


# --- orders events, for driving the fees service alone ----------------------------------


class SimulatedOrder:
    """The orders events of one order, as the orders service would publish them, so the fees
    service can be driven alone (out of order, twice, …). Items are (quantity, unit CNY)."""

    def __init__(
        self,
        items: Sequence[tuple[int, str]],
        services: Sequence[ServiceCode] = (),
        *,
        rate: str = "3500",
        customer_id: str | None = None,
    ) -> None:
        self.order_id = uuid4()
        self.customer_id = customer_id or f"cust-{uuid4().hex[:10]}"
        self.rate = Decimal(rate)
        self.items = [
            o.OrderItem(
                item_id=uuid4(),
                product_url="https://item.taobao.com/item.htm?id=1",
                title="Áo",
                quantity=quantity,
                unit_price_cny=Decimal(price),
                status=ItemStatus.PENDING,
            )
            for quantity, price in items
        ]
        self.services = list(services)

    def _common(self, version: int) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "order_code": "AZ00000000",
            "customer_id": self.customer_id,
            "order_version": version,
            "occurred_at": datetime.now(UTC),
        }

    def goods(self, items: Sequence[o.OrderItem] | None = None) -> o.Goods:
        items = list(self.items if items is None else items)
        active = [i for i in items if i.status is not ItemStatus.CANCELLED]
        return o.Goods(
            exchange_rate=self.rate, items=items, goods_total_vnd=goods_total_vnd(active, self.rate)
        )

    def with_quantities(self, *quantities: int) -> list[o.OrderItem]:
        return [
            i.model_copy(update={"quantity": q})
            for i, q in zip(self.items, quantities, strict=True)
        ]

    def placed(self) -> o.OrderPlacedV1:
        """As an orders instance still on version 1 publishes it."""
        goods = self.goods()
        return o.OrderPlacedV1(
            **self._common(1),
            status=OrderStatus.AWAITING_DEPOSIT,
            website=Website.TAOBAO,
            goods=goods,
            services=self.services,
            delivery_address=ADDRESS,
            required_deposit_vnd=(goods.goods_total_vnd * Decimal("0.7")).quantize(Decimal(1)),
        )

    def deposited(self, version: int = 2, paid: Decimal | int = 0) -> o.OrderDeposited:
        return o.OrderDeposited(
            **self._common(version),
            deposit_paid_vnd=Decimal(paid),
            goods=self.goods(),
            services=self.services,
        )

    def quantities_increased(
        self, version: int, items: Sequence[o.OrderItem]
    ) -> o.QuantitiesIncreased:
        return o.QuantitiesIncreased(**self._common(version), changes=[], goods=self.goods(items))

    def services_updated(self, version: int, services: Sequence[ServiceCode]) -> o.ServicesUpdated:
        added = [s for s in services if s not in self.services]
        removed = [s for s in self.services if s not in services]
        self.services = list(services)
        return o.ServicesUpdated(
            **self._common(version),
            status=OrderStatus.PURCHASING,
            services=self.services,
            added=added,
            removed=removed,
        )

    def delivered(self, version: int, packages: Sequence[o.PackageDetails]) -> o.OrderDelivered:
        now = datetime.now(UTC)
        return o.OrderDelivered(
            **self._common(version),
            packages=[o.Package(**pkg.model_dump(), recorded_at=now) for pkg in packages],
            services=self.services,
        )


def package(
    code: str, weight: str, dims: tuple[str, str, str] = ("10", "10", "10")
) -> o.PackageDetails:
    return o.PackageDetails(
        package_code=code,
        tracking_number=f"T-{code}",
        weight_kg=Decimal(weight),
        length_cm=Decimal(dims[0]),
        width_cm=Decimal(dims[1]),
        height_cm=Decimal(dims[2]),
    )
