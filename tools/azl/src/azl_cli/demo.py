"""``azl demo``: one order through the whole lifecycle, printing each event as it happens.

It plays every other system: the storefront places the order, the payments system reports
the deposit and the final payment, staff buy the goods and settle a changed price with the
customer, the warehouse records two packages and moves the order along, and the customer
confirms receipt. Everything goes through RabbitMQ, like any other client of the platform.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from azl_cli.messaging import connect
from azl_contracts import Actor, ActorRole, Command, Event
from azl_contracts import complaints as k
from azl_contracts import orders as o
from azl_contracts import payments as p
from azl_contracts.common import (
    Delivery,
    DeliveryAddress,
    OrderStatus,
    PaymentMethod,
    ServiceCode,
)

S = OrderStatus
STAFF = Actor(id="demo-staff", role=ActorRole.STAFF)
WAREHOUSE = Actor(id="demo-warehouse", role=ActorRole.SYSTEM)
ADDRESS = {
    "full_name": "Nguyễn Thị Demo",
    "phone": "0912345678",
    "address_line": "1 Tràng Tiền",
    "province": "Hà Nội",
    "district": "Hoàn Kiếm",
}


class DemoFailed(RuntimeError):
    pass


class Demo:
    def __init__(self, amqp_url: str, namespace: str, echo: Callable[[str], None]) -> None:
        self.amqp_url = amqp_url
        self.namespace = namespace
        self.echo = echo
        self.order_id = uuid4()
        self.customer = Actor(id=f"demo-{uuid4().hex[:8]}", role=ActorRole.CUSTOMER)
        self.events: list[dict[str, Any]] = []

    async def run(self) -> UUID:
        """Sends through ``azl_client`` as a storefront and the payments system would, and
        watches every event on a queue of its own."""
        connection = await aio_pika.connect(self.amqp_url)
        client = await connect(self.amqp_url, self.namespace, "azl-demo")
        async with connection, client:
            self._client = client
            channel = await connection.channel()
            watch = await channel.declare_queue(exclusive=True, auto_delete=True)
            await watch.bind(f"{self.namespace}.events", routing_key="#")
            await watch.consume(self._on_event, no_ack=True)
            await self._lifecycle()
        return self.order_id

    async def _lifecycle(self) -> None:
        oid = self.order_id
        placed = await self.command(
            o.PlaceOrder.model_validate(
                {
                    "actor": self.customer.model_dump(),
                    "order_id": str(oid),
                    "items": [
                        _item("Áo khoác lông vũ", "459.00", 1),
                        _item("Giày thể thao", "89.50", 2),
                    ],
                    "delivery": Delivery.of(DeliveryAddress.model_validate(ADDRESS)),
                    "services": [
                        ServiceCode.TALLYING,
                        ServiceCode.INSURANCE,
                        ServiceCode.BUBBLE_WRAP,
                    ],
                    "exchange_rate": "3520",
                }
            )
        )
        del placed
        order = await self.wait_for("orders.order.placed")
        items = [UUID(i["item_id"]) for i in order["goods"]["items"]]
        await self.emit(
            p.DepositReceived(
                order_id=oid,
                amount_vnd=Decimal(order["required_deposit_vnd"]),
                payment_id=f"demo-deposit-{oid.hex[:8]}",
            )
        )
        await self.wait_for("orders.order.deposited")
        await self.command(o.StartPurchasing(actor=STAFF, order_id=oid))
        change = o.ItemChange(
            item_id=items[1], new_unit_price_cny=Decimal("92.00"), note="shop raised the price"
        )
        await self.command(o.ReportItemChange(actor=STAFF, order_id=oid, changes=[change]))
        await self.command(o.ConfirmItems(actor=self.customer, order_id=oid, item_ids=[items[1]]))
        await self.command(o.MarkItemsOrdered(actor=STAFF, order_id=oid, item_ids=items))
        await self.command(
            o.AdvanceShipping(actor=WAREHOUSE, order_id=oid, to_status=S.SELLER_SHIPPED)
        )
        for code, kg, size in (("PK-A", "2.4", (40, 30, 20)), ("PK-B", "1.2", (60, 40, 30))):
            package = o.PackageDetails(
                package_code=code,
                tracking_number=f"SF{uuid4().int % 10**10}",
                weight_kg=Decimal(kg),
                length_cm=Decimal(size[0]),
                width_cm=Decimal(size[1]),
                height_cm=Decimal(size[2]),
            )
            await self.command(o.RecordPackage(actor=WAREHOUSE, order_id=oid, package=package))
        for step in (
            S.IN_CHINA_WAREHOUSE,
            S.IN_TRANSIT,
            S.IN_VIETNAM_WAREHOUSE,
            S.DELIVERING,
            S.DELIVERED,
        ):
            await self.command(o.AdvanceShipping(actor=WAREHOUSE, order_id=oid, to_status=step))
        ledger = await self.wait_for(
            "fees.ledger.updated",
            lambda e: any(x.get("fee_code") == "international_shipping" for x in e["entries"]),
        )
        await self._pay_on_delivery(ledger)
        await self._complaint(items[0])
        await self.command(o.ConfirmReceived(actor=self.customer, order_id=oid))
        await self.wait_for("orders.order.completed")

    async def _pay_on_delivery(self, ledger: dict[str, Any]) -> None:
        """Cash on delivery of what the newest ledger says is due, again if a charge was
        still on its way when the first amount was read."""
        oid = self.order_id
        for attempt in range(1, 4):
            due = Decimal(ledger["balance_due_vnd"])
            if due <= 0:
                return
            paid_before = Decimal(ledger["payments_total_vnd"])
            await self.emit(
                p.PaymentReceived(
                    order_id=oid,
                    amount_vnd=due,
                    payment_id=f"demo-final-{oid.hex[:8]}-{attempt}",
                    method=PaymentMethod.COD,
                )
            )
            ledger = await self.wait_for("fees.ledger.updated", _paid_at_least(paid_before + due))
        raise DemoFailed(f"still {ledger['balance_due_vnd']} ₫ due after three payments")

    async def _complaint(self, item_id: UUID) -> None:
        """One jacket arrived torn: the customer complains, staff refund part of it."""
        complaint_id = uuid4()
        opened = k.OpenComplaint(
            actor=self.customer,
            complaint_id=complaint_id,
            order_id=self.order_id,
            type=k.ComplaintType.DAMAGED,
            item_ids=[item_id],
            description="Áo khoác bị rách ở tay áo.",
            requested_amount_vnd=Decimal(200_000),
        )
        # complaints learns that the order was delivered from orders' events: until it has,
        # it answers invalid_state, and the customer simply tries again
        for _ in range(50):
            if (await self.command(opened, strict=False))["status"] == "accepted":
                break
            await asyncio.sleep(0.2)
        else:
            raise DemoFailed("the complaint was never accepted")
        await self.command(k.StartReview(actor=STAFF, complaint_id=complaint_id))
        await self.command(
            k.ResolveComplaint(
                actor=STAFF,
                complaint_id=complaint_id,
                resolution=k.Resolution.REFUND,
                amount_vnd=Decimal(150_000),
                note="Hoàn 150.000 ₫ cho áo bị rách.",
            )
        )
        await self.wait_for("fees.refund.recorded")

    # --- talking to the platform ----------------------------------------------------------

    async def command(
        self, command: Command, timeout: float = 30, *, strict: bool = True
    ) -> dict[str, Any]:
        outcome: dict[str, Any] = (await self._client.request(command, timeout=timeout)).json
        reason = f" ({outcome.get('reason_code')})" if outcome["status"] != "accepted" else ""
        self.echo(f"→ {command.message_type():<36} {outcome['status']}{reason}")
        if strict and outcome["status"] != "accepted":
            raise DemoFailed(f"{command.message_type()} was rejected: {outcome}")
        return outcome

    async def emit(self, event: Event) -> None:
        await self._client.emit(event)
        self.echo(f"→ {event.message_type():<36} (as the payments system)")

    async def wait_for(
        self,
        event_type: str,
        where: Callable[[dict[str, Any]], bool] = lambda _: True,
        timeout: float = 30,
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            matches = [
                (event.get("ledger_version", 0), position, event)
                for position, event in enumerate(self.events)
                if str(event["_type"]).startswith(event_type) and where(event)
            ]
            if matches:
                # the newest: snapshots of a ledger may arrive out of order, so by version
                found: dict[str, Any] = max(matches, key=lambda m: (m[0], m[1]))[2]
                return found
            await asyncio.sleep(0.05)
        raise DemoFailed(f"no {event_type} within {timeout:g} s")

    async def _on_event(self, message: AbstractIncomingMessage) -> None:
        try:
            body = json.loads(message.body)
        except ValueError:
            return
        if body.get("order_id") != str(self.order_id):
            return
        body["_type"] = message.type or ""
        self.events.append(body)
        self.echo(f"   {message.type:<44} {_summary(body)}")


def _item(title: str, price: str, quantity: int) -> dict[str, Any]:
    return {
        "product_url": f"https://item.taobao.com/item.htm?id={uuid4().int % 10**12}",
        "title": title,
        "variant": "M",
        "quantity": quantity,
        "unit_price_cny": price,
    }


def _summary(body: dict[str, Any]) -> str:
    for key in ("to_status", "fee_code", "template", "amount_vnd", "balance_due_vnd"):
        if key in body:
            value = body[key]
            extra = f" {body['amount_vnd']} ₫" if key == "fee_code" else ""
            return f"{key}={value}{extra}"
    return ""


def _paid_at_least(amount: Decimal) -> Callable[[dict[str, Any]], bool]:
    return lambda ledger: Decimal(ledger["payments_total_vnd"]) >= amount
