"""Fault 1: every message delivered twice gives one effect and one set of events.

The same lifecycle runs on two orders: one normally, one where every command and payment is
sent twice with the same message id and every event any service publishes about it is
re-published once more. The second must end exactly like the first.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import httpx
from azl_testing import builders
from azl_testing.bus import Bus, Received
from azl_testing.tokens import bearer

from azl_contracts import Command, Event
from azl_contracts import orders as o
from azl_contracts.common import OrderStatus, ServiceCode

from .faults import FaultPlatform, dead_letter_count, distinct
from .report import Tally, report

S = OrderStatus
DUPLICATE = "x-test-duplicate"


class Lifecycle:
    def __init__(self, bus: Bus, twice: bool) -> None:
        self.bus = bus
        self.twice = twice
        self.sent = 0

    async def command(self, command: Command) -> dict[str, Any]:
        message_id = str(uuid4())
        copies = 2 if self.twice else 1
        self.sent += copies
        replies = await asyncio.gather(
            self.bus.request(command, message_id=message_id),
            *(self.bus.send(command, message_id=message_id) for _ in range(copies - 1)),
        )
        reply: dict[str, Any] = replies[0]
        assert reply["status"] == "accepted", reply
        return reply

    async def event(self, event: Event) -> None:
        message_id = str(uuid4())
        for _ in range(2 if self.twice else 1):
            self.sent += 1
            await self.bus.emit(event, message_id=message_id)

    async def run(self, order_id: UUID) -> None:
        customer = builders.customer()
        staff, warehouse = builders.STAFF, builders.WAREHOUSE
        place = builders.place_order(
            customer,
            items=[builders.item("80.00", 2), builders.item("15.50", 4)],
            services=[ServiceCode.FAST_ORDER, ServiceCode.WOODEN_CRATE],
            order_id=order_id,
        )
        await self.command(place)
        placed = await self.bus.wait_for_order("orders.order.placed", order_id)
        required = Decimal(placed[0].json["required_deposit_vnd"])
        items = [UUID(i["item_id"]) for i in placed[0].json["goods"]["items"]]
        await self.event(builders.deposit(order_id, required - 1000))
        await self.event(builders.deposit(order_id, 1000))
        await self.bus.wait_for_order("orders.order.deposited", order_id)
        await self.command(o.StartPurchasing(actor=staff, order_id=order_id))
        await self.command(
            o.IncreaseQuantities(
                actor=customer, order_id=order_id, items=[o.ItemQuantity(item_id=items[0], add=1)]
            )
        )
        change = o.ItemChange(item_id=items[1], new_unit_price_cny=Decimal("16.00"))
        await self.command(o.ReportItemChange(actor=staff, order_id=order_id, changes=[change]))
        await self.command(o.ConfirmItems(actor=customer, order_id=order_id, item_ids=[items[1]]))
        await self.command(
            o.UpdateDeliveryAddress(
                actor=customer,
                order_id=order_id,
                delivery_address=builders.ADDRESS.model_copy(update={"district": "Ba Đình"}),
            )
        )
        await self.command(o.MarkItemsOrdered(actor=staff, order_id=order_id, item_ids=items))
        await self.command(
            o.AdvanceShipping(actor=warehouse, order_id=order_id, to_status=S.SELLER_SHIPPED)
        )
        package = o.PackageDetails(
            package_code="PK-1",
            tracking_number="SF123",
            weight_kg=Decimal("2.3"),
            length_cm=Decimal(40),
            width_cm=Decimal(30),
            height_cm=Decimal(20),
        )
        await self.command(o.RecordPackage(actor=warehouse, order_id=order_id, package=package))
        for step in (
            S.IN_CHINA_WAREHOUSE,
            S.IN_TRANSIT,
            S.IN_VIETNAM_WAREHOUSE,
            S.DELIVERING,
            S.DELIVERED,
        ):
            await self.command(
                o.AdvanceShipping(actor=warehouse, order_id=order_id, to_status=step)
            )
        await self.command(o.ConfirmReceived(actor=customer, order_id=order_id))


def _about(order_id: UUID) -> Any:
    def matches(event: Received) -> bool:
        try:
            return bool(event.json.get("order_id") == str(order_id))
        except ValueError:
            return False

    return matches


async def test_every_message_twice_gives_one_effect(platform: FaultPlatform, bus: Bus) -> None:
    services = platform.start_all()
    clean, doubled = uuid4(), uuid4()
    await Lifecycle(bus, twice=False).run(clean)

    async def duplicate(event: Received) -> None:
        if not event.headers.get(DUPLICATE) and _about(doubled)(event):
            await bus.republish(event, **{DUPLICATE: 1})

    bus.on_event = duplicate
    doubled_lifecycle = Lifecycle(bus, twice=True)
    await doubled_lifecycle.run(doubled)
    await bus.settle(quiet=1.5, timeout=30)

    clean_events = Counter(e.type for e in distinct(bus.seen(where=_about(clean))))
    doubled_events = Counter(e.type for e in distinct(bus.seen(where=_about(doubled))))
    redelivered = sum(1 for e in bus.seen(where=_about(doubled)) if e.headers.get(DUPLICATE))

    async with _client(services["orders"].base_url) as http:
        views = [
            (await http.get(f"/orders/{order}", headers=bearer("ops", "staff"))).json()
            for order in (clean, doubled)
        ]
    dlq = await dead_letter_count(bus)
    # how many re-pricing steps fees takes depends on the order its queues deliver the
    # goods snapshots in (with or without duplicates); what is charged in the end does not,
    # so those events are compared by their net effect, not counted as duplicates
    steady_doubled = _without(doubled_events, TIMING_DEPENDENT)
    steady_clean = _without(clean_events, TIMING_DEPENDENT)
    repricing = sum(doubled_events.values()) - sum(steady_doubled.values())
    repricing -= sum(clean_events.values()) - sum(steady_clean.values())
    tally = Tally(
        sent=doubled_lifecycle.sent + redelivered,
        outcomes=sum(doubled_events.values()),
        lost=sum((steady_clean - steady_doubled).values()),
        duplicated=sum((steady_doubled - steady_clean).values()),
        dlq=dlq,
    )
    net_charges = [_net_charges(bus, order) for order in (doubled, clean)]
    report(
        "duplicate-delivery",
        tally,
        f"message-types={len(doubled_events)} repricing_events_delta={repricing:+d}"
        f" net_charges_equal={net_charges[0] == net_charges[1]}",
    )
    assert steady_doubled == steady_clean
    assert net_charges[0] == net_charges[1]
    assert redelivered >= sum(clean_events.values())
    assert views[0]["status"] == views[1]["status"] == "completed"
    assert views[0]["payment_status"] == views[1]["payment_status"]
    assert _without_ids(views[0]["info"]) == _without_ids(views[1]["info"])
    assert [_package(p) for p in views[0]["packages"]] == [
        _package(p) for p in views[1]["packages"]
    ]
    assert len(views[0]["history"]) == len(views[1]["history"])
    assert views[0]["transactions"]["totals"] == views[1]["transactions"]["totals"]
    assert dlq == 0


TIMING_DEPENDENT = ("fees.fee.charged.v1", "fees.fee.voided.v1", "fees.ledger.updated.v1")


def _without(events: Counter[str | None], types: tuple[str, ...]) -> Counter[str | None]:
    return Counter({t: n for t, n in events.items() if t not in types})


def _net_charges(bus: Bus, order: UUID) -> dict[str, int]:
    net: Counter[str] = Counter()
    for event in distinct(bus.seen("fees.fee.", _about(order))):
        sign = 1 if event.type == "fees.fee.charged.v1" else -1
        net[event.json["fee_code"]] += sign * int(event.json["amount_vnd"])
    return dict(net)


def _without_ids(info: dict[str, Any]) -> dict[str, Any]:
    items = [
        {k: v for k, v in item.items() if k not in ("item_id", "product_url")}
        for item in info["items"]
    ]
    return {**info, "items": items}


def _package(package: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in package.items() if k != "recorded_at"}


def _client(base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=10)
