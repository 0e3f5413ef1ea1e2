"""Driving an order through the lifecycle, only through commands and events on the bus."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from azl_contracts import Actor, Command
from azl_contracts import orders as o
from azl_contracts.common import OrderStatus

from . import builders
from .bus import Bus

S = OrderStatus


class CommandRejected(AssertionError):
    pass


@dataclass
class PlacedOrder:
    order_id: UUID
    code: str
    customer: Actor
    required_deposit: Decimal
    item_ids: list[UUID]


async def accepted(bus: Bus, command: Command) -> dict[str, Any]:
    reply = await bus.request(command)
    if reply["status"] != "accepted":
        raise CommandRejected(f"{command.message_type()} rejected: {reply}")
    return reply


async def place(bus: Bus, customer: Actor | None = None, **kwargs: Any) -> PlacedOrder:
    customer = customer or builders.customer()
    reply = await accepted(bus, builders.place_order(customer, **kwargs))
    order_id = UUID(reply["result"]["order_id"])
    placed = await bus.wait_for_order("orders.order.placed", order_id)
    body = placed[0].json
    return PlacedOrder(
        order_id=order_id,
        code=reply["result"]["order_code"],
        customer=customer,
        required_deposit=Decimal(body["required_deposit_vnd"]),
        item_ids=[UUID(i["item_id"]) for i in body["goods"]["items"]],
    )


async def pay_deposit(bus: Bus, order: PlacedOrder) -> None:
    await bus.emit(builders.deposit(order.order_id, order.required_deposit))
    await bus.wait_for_order("orders.order.deposited", order.order_id)


async def drive_to(bus: Bus, status: OrderStatus, customer: Actor | None = None) -> PlacedOrder:
    """A new order brought to ``status`` through the commands of spec §3."""
    order = await place(bus, customer)
    if status is S.AWAITING_DEPOSIT:
        return order
    await pay_deposit(bus, order)
    if status is S.DEPOSITED:
        return order
    oid, staff = order.order_id, builders.STAFF
    await accepted(bus, o.StartPurchasing(actor=staff, order_id=oid))
    if status is S.PURCHASING:
        return order
    if status is S.AWAITING_CONFIRMATION:
        change = o.ItemChange(item_id=order.item_ids[0], new_unit_price_cny=Decimal("120.00"))
        await accepted(bus, o.ReportItemChange(actor=staff, order_id=oid, changes=[change]))
        return order
    await accepted(bus, o.MarkItemsOrdered(actor=staff, order_id=oid, item_ids=order.item_ids))
    if status is S.PURCHASED:
        return order
    if status is S.CANCELLATION_REQUESTED:
        await accepted(bus, o.CancelOrder(actor=order.customer, order_id=oid))
        return order
    if status is S.CANCELLED:
        await accepted(bus, o.CancelOrder(actor=order.customer, order_id=oid))
        await accepted(bus, o.ApproveCancellation(actor=staff, order_id=oid))
        return order
    steps = [
        S.SELLER_SHIPPED,
        S.IN_CHINA_WAREHOUSE,
        S.IN_TRANSIT,
        S.IN_VIETNAM_WAREHOUSE,
        S.DELIVERING,
        S.DELIVERED,
    ]
    for step in steps:
        await accepted(
            bus, o.AdvanceShipping(actor=builders.WAREHOUSE, order_id=oid, to_status=step)
        )
        if status is step:
            return order
    await accepted(bus, o.ConfirmReceived(actor=order.customer, order_id=oid))
    assert status is S.COMPLETED
    return order
