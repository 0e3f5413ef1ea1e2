"""Complaints as customers and staff send them, and what the complaints service shows of them
over HTTP: its complaints and its own view of each order (learned from events)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import httpx

from azl_contracts import Actor, ActorRole, Command
from azl_contracts import complaints as k
from azl_contracts import fees as f
from azl_contracts import orders as o
from azl_contracts.common import OrderStatus, ServiceCode
from azl_contracts.complaints import ComplaintType, Resolution

from .builders import STAFF
from .bus import Bus
from .ledger import SimulatedOrder
from .tokens import bearer

Json = dict[str, Any]


def open_complaint(
    customer: Actor,
    order_id: UUID,
    *,
    complaint_type: ComplaintType | str = ComplaintType.DAMAGED,
    item_ids: Sequence[UUID] = (),
    description: str = "Hàng bị móp méo khi nhận",
    attachments: Sequence[str] = (),
    requested_amount_vnd: int | None = None,
) -> k.OpenComplaint:
    return k.OpenComplaint.model_validate(
        {
            "actor": customer.model_dump(),
            "order_id": str(order_id),
            "type": str(complaint_type),
            "item_ids": [str(i) for i in item_ids],
            "description": description,
            "attachments": list(attachments),
            "requested_amount_vnd": None
            if requested_amount_vnd is None
            else str(requested_amount_vnd),
        }
    )


def resolve(
    complaint_id: UUID,
    resolution: Resolution,
    amount_vnd: int | None = None,
    *,
    actor: Actor = STAFF,
    note: str | None = None,
) -> k.ResolveComplaint:
    return k.ResolveComplaint(
        actor=actor,
        complaint_id=complaint_id,
        resolution=resolution,
        amount_vnd=None if amount_vnd is None else Decimal(amount_vnd),
        note=note,
    )


async def opened(bus: Bus, command: k.OpenComplaint) -> UUID:
    """Open a complaint; its id, from the accepted reply."""
    reply = await bus.request(command)
    assert reply["status"] == "accepted", reply
    return UUID(reply["result"]["complaint_id"])


async def rejection(bus: Bus, command: Command) -> Json:
    """Send a command that must be rejected; the reply, checked against its one event."""
    reply = await bus.request(command)
    assert reply["status"] == "rejected", reply
    event = await bus.wait_for(
        "complaints.command.rejected", lambda e: e.json["command_id"] == reply["command_id"]
    )
    assert event[0].json["reason_code"] == reply["reason_code"]
    return reply


async def fence_commands(bus: Bus) -> None:
    """Evidence, not a quiet period, that complaints handled the commands sent before: a
    harmless command after them (a review of a complaint that does not exist) and its
    rejection event. Complaints takes its commands from one queue in order and publishes
    what each caused in commit order, so what the earlier ones caused has been seen."""
    reply = await bus.request(k.StartReview(actor=STAFF, complaint_id=uuid4()))
    assert reply["reason_code"] == "not_found", reply
    await bus.wait_for(
        "complaints.command.rejected", lambda e: e.causation_id == reply["command_id"]
    )


def of_complaint(bus: Bus, type_prefix: str, complaint_id: UUID) -> list[Any]:
    return bus.seen(type_prefix, lambda e: e.json.get("complaint_id") == str(complaint_id))


async def wait_for_complaint(
    bus: Bus, type_prefix: str, complaint_id: UUID, **kwargs: Any
) -> list[Any]:
    return await bus.wait_for(
        type_prefix, lambda e: e.json.get("complaint_id") == str(complaint_id), **kwargs
    )


class ComplaintsApi:
    """The complaints service's read API, as a staff member or a customer calls it."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def get(self, path: str, subject: str = "ops", role: str = "staff") -> httpx.Response:
        return await self.http.get(path, headers=bearer(subject, role))

    async def complaint(
        self, complaint_id: UUID, subject: str = "ops", role: str = "staff"
    ) -> Json:
        response = await self.get(f"/complaints/{complaint_id}", subject, role)
        assert response.status_code == 200, response.text
        body: Json = response.json()
        return body

    async def when(
        self,
        path: str,
        condition: Callable[[Json], bool],
        *,
        timeout: float = 15.0,
    ) -> Json:
        """Poll ``path`` (as staff) until ``condition`` holds: what the service learns from
        events arrives asynchronously."""
        deadline = time.monotonic() + timeout
        while True:
            response = await self.get(path)
            if response.status_code == 200 and condition(response.json()):
                body: Json = response.json()
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{path}: {response.status_code} {response.text}")
            await asyncio.sleep(0.05)

    async def order_known(
        self, order_id: UUID, status: str, *, paid: int | None = None, **kwargs: Any
    ) -> Json:
        """Wait until complaints has learned the order's status (and what was paid)."""
        return await self.when(
            f"/order-states/{order_id}",
            lambda s: s["status"] == status and (paid is None or s["paid_vnd"] == paid),
            **kwargs,
        )


# --- orders and fees events, for driving the complaints service alone --------------------


class OrderFacts:
    """The orders and fees events of one order as those services would publish them, so the
    complaints service can be driven alone: late, out of order, with chosen times."""

    def __init__(self, items: int = 2, customer_id: str | None = None) -> None:
        self.simulated = SimulatedOrder([(1, "100.00")] * items, customer_id=customer_id)
        self.order_id = self.simulated.order_id
        self.customer = Actor(id=self.simulated.customer_id, role=ActorRole.CUSTOMER)
        self.item_ids = [i.item_id for i in self.simulated.items]
        self.code = "AZ00000000"

    def placed(self) -> o.OrderPlacedV1:
        return self.simulated.placed()

    def status(
        self,
        to_status: OrderStatus,
        version: int,
        *,
        at: datetime | None = None,
        from_status: OrderStatus | None = None,
    ) -> o.OrderStatusChanged:
        return o.OrderStatusChanged(
            order_id=self.order_id,
            order_code=self.code,
            customer_id=self.customer.id,
            order_version=version,
            occurred_at=at or datetime.now(UTC),
            from_status=from_status,
            to_status=to_status,
            actor=self.customer,
        )

    def ledger(
        self,
        version: int,
        *,
        paid: int,
        shipping: int = 0,
        refunds: dict[UUID, int] | None = None,
        shipping_deducted: int = 0,
        deducts_shipping: bool = True,
    ) -> f.LedgerUpdated:
        """A ledger snapshot as fees publishes it; ``deducts_shipping``: as a fees ledger with
        AZL_DEDUCT_SHIPPING_FROM_REFUNDS on states it (complaints takes it from there)."""
        now = datetime.now(UTC)
        entries = [
            f.LedgerEntry(
                entry_id=uuid4(),
                kind=f.LedgerEntryKind.PAYMENT,
                amount_vnd=Decimal(paid),
                description="deposit",
                reference="pay-1",
                recorded_at=now,
            )
        ]
        if shipping:
            entries.append(
                f.LedgerEntry(
                    entry_id=uuid4(),
                    kind=f.LedgerEntryKind.CHARGE,
                    amount_vnd=Decimal(shipping),
                    fee_code=ServiceCode.INTERNATIONAL_SHIPPING,
                    description="international shipping",
                    recorded_at=now,
                )
            )
        for complaint_id, amount in (refunds or {}).items():
            entries.append(
                f.LedgerEntry(
                    entry_id=uuid4(),
                    kind=f.LedgerEntryKind.REFUND,
                    amount_vnd=Decimal(amount),
                    description=f"refund for complaint {complaint_id}",
                    reference=str(complaint_id),
                    recorded_at=now,
                )
            )
        refunded = sum((refunds or {}).values())
        return f.LedgerUpdated(
            order_id=self.order_id,
            customer_id=self.customer.id,
            occurred_at=now,
            ledger_version=version,
            goods_total_vnd=Decimal(350_000),
            charges_total_vnd=Decimal(shipping),
            payments_total_vnd=Decimal(paid),
            refunds_total_vnd=Decimal(refunded),
            # a refund lowers the cost and what was paid alike (fees.totals)
            balance_due_vnd=Decimal(max(0, 350_000 + shipping - refunded) - (paid - refunded)),
            entries=entries,
            shipping_deducted_vnd=Decimal(shipping_deducted),
            deducts_shipping_from_refunds=deducts_shipping,
        )
