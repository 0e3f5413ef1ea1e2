"""Orders through their whole lifecycle (spec §3), driven only over the bus, with the read
API's tabs checked after every step: the order's own tabs and the customer's status tabs."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest_asyncio
from azl_testing import builders, flows
from azl_testing.bus import Bus
from azl_testing.orders_api import OrdersApi
from pypdf import PdfReader

from azl_contracts import Actor, ActorRole, Command
from azl_contracts import complaints as c
from azl_contracts import orders as o
from azl_contracts.common import (
    DeliveryAddress,
    OrderStatus,
    PaymentMethod,
    ServiceCode,
)
from azl_contracts.fees import LedgerEntryKind

from .conftest import Platform

S = OrderStatus
STAFF, WAREHOUSE = builders.STAFF, builders.WAREHOUSE


@pytest_asyncio.fixture
async def api(platform: Platform) -> AsyncIterator[OrdersApi]:
    async with platform.http("orders") as http:
        yield OrdersApi(http)


class Journey:
    """One order followed step by step: each command must be accepted with exactly the
    events named, and the read API must then show what the step did."""

    def __init__(self, bus: Bus, api: OrdersApi, order: flows.PlacedOrder) -> None:
        self.bus = bus
        self.api = api
        self.order = order
        self.customer = order.customer
        self.statuses: list[OrderStatus] = [S.AWAITING_DEPOSIT]

    async def send(self, command: Command, *events: str) -> dict[str, Any]:
        reply = await flows.accepted(self.bus, command)
        names = sorted(
            ref["type"].removeprefix("orders.order.").removesuffix(".v1") for ref in reply["events"]
        )
        assert names == sorted(events), f"{command.message_type()}: {names}"
        return reply

    async def view(self) -> dict[str, Any]:
        """The order as its customer sees it."""
        return await self.api.detail(self.order.order_id, self.customer.id, "customer")

    async def check(
        self,
        status: OrderStatus,
        *,
        actor: Actor | None = None,
        reason: str | None = None,
        changed_status: bool = True,
    ) -> dict[str, Any]:
        """The detail's status and history, and the customer's list tabs, after a step."""
        if changed_status:
            self.statuses.append(status)
        view = await self.view()
        assert view["status"] == status.value
        assert view["status_label"]["vi"] == VIETNAMESE[status]
        assert [h["to_status"] for h in view["history"]] == [s.value for s in self.statuses]
        assert [h["from_status"] for h in view["history"]] == [None] + [
            s.value for s in self.statuses[:-1]
        ]
        last = view["history"][-1]
        if actor is not None:
            assert last["actor"] == actor.model_dump(mode="json")
        if reason is not None:
            assert last["reason"] == reason
        await self.check_status_tabs(status)
        return view

    async def check_status_tabs(self, status: OrderStatus) -> None:
        page = await self.api.page(self.customer.id, "customer")
        staff = await self.api.page(customer_id=self.customer.id)
        assert staff["counts"][status.value] == 1
        assert staff["items"][0]["code"] == self.order.code
        if status is S.AWAITING_DEPOSIT:  # not listed to the customer before the deposit
            assert page["items"] == []
            assert page["counts"]["all"] == 0
            return
        assert [i["code"] for i in page["items"]] == [self.order.code]
        assert page["items"][0]["status"] == status.value
        assert page["counts"]["all"] == 1
        assert page["counts"][status.value] == 1
        assert sum(v for k, v in page["counts"].items() if k != "all") == 1


# the spec's own labels, written out here so a wrong label in the code cannot go unseen
VIETNAMESE = {
    S.AWAITING_DEPOSIT: "Chờ đặt cọc",
    S.DEPOSITED: "Đã đặt cọc",
    S.PURCHASING: "Đang mua hàng",
    S.AWAITING_CONFIRMATION: "Chờ xác nhận",
    S.PURCHASED: "Đã mua hàng",
    S.CANCELLATION_REQUESTED: "Chờ hủy",
    S.SELLER_SHIPPED: "Shop đã phát hàng",
    S.IN_CHINA_WAREHOUSE: "Kho Trung Quốc",
    S.IN_TRANSIT: "Đang vận chuyển",
    S.IN_VIETNAM_WAREHOUSE: "Kho Việt Nam",
    S.DELIVERING: "Đang giao hàng",
    S.DELIVERED: "Đã giao hàng",
    S.COMPLETED: "Hoàn thành",
    S.CANCELLED: "Đã hủy",
}

PAYMENTS = Actor(id="payments", role=ActorRole.SYSTEM)
STATUS_CHANGED = "status-changed"


def package(code: str, kg: str) -> o.PackageDetails:
    return o.PackageDetails(
        package_code=code,
        tracking_number=f"SF{uuid4().int % 10**10}",
        weight_kg=Decimal(kg),
        length_cm=Decimal(40),
        width_cm=Decimal(30),
        height_cm=Decimal(20),
    )


async def start(bus: Bus, api: OrdersApi, *items: dict[str, Any]) -> Journey:
    order = await flows.place(bus, builders.customer(), items=list(items), rate="3500")
    journey = Journey(bus, api, order)
    view = await journey.check(S.AWAITING_DEPOSIT, actor=order.customer, changed_status=False)
    assert view["history"][0]["from_status"] is None
    return journey


async def deposit(journey: Journey) -> None:
    await flows.pay_deposit(journey.bus, journey.order)
    view = await journey.check(S.DEPOSITED, actor=PAYMENTS)
    assert view["info"]["deposit_paid_vnd"] == journey.order.required_deposit


async def test_the_happy_path_from_placement_to_completion(bus: Bus, api: OrdersApi) -> None:
    journey = await start(bus, api, builders.item("100.00", 2), builders.item("50.00", 1))
    order, customer = journey.order, journey.customer
    oid = order.order_id
    first, second = order.item_ids
    assert re.fullmatch(r"AZ[0-9]{8}", order.code), order.code  # the reply's order_code
    [placed] = journey.bus.seen("orders.order.placed", lambda e: e.json["order_id"] == str(oid))
    assert placed.json["order_code"] == order.code
    assert (await journey.view())["code"] == order.code
    assert order.required_deposit == 612_500  # 70 % of (2 × 100 + 50) × 3,500
    view = await journey.view()
    assert [i["status"] for i in view["info"]["items"]] == ["pending", "pending"]
    assert view["info"]["goods_total_vnd"] == 875_000

    await deposit(journey)

    await journey.send(
        o.StartPurchasing(actor=STAFF, order_id=oid), STATUS_CHANGED, "purchasing-started"
    )
    await journey.check(S.PURCHASING, actor=STAFF)

    # order more: the first item goes from 2 to 3
    await journey.send(
        o.IncreaseQuantities(actor=customer, order_id=oid, items=[{"item_id": first, "add": 1}]),
        "quantities-increased",
    )
    view = await journey.check(S.PURCHASING, changed_status=False)
    assert view["info"]["items"][0]["quantity"] == 3
    assert view["info"]["goods_total_vnd"] == 1_225_000

    await journey.send(
        o.UpdateServices(actor=customer, order_id=oid, services=[ServiceCode.FAST_ORDER]),
        "services-updated",
    )
    view = await journey.check(S.PURCHASING, changed_status=False)
    assert [s["code"] for s in view["info"]["services"]] == ["fast_order"]

    # the shop raised the second item's price: the customer must confirm it
    change = o.ItemChange(item_id=second, new_unit_price_cny=Decimal("60.00"))
    await journey.send(
        o.ReportItemChange(actor=STAFF, order_id=oid, changes=[change]),
        "items-changed",
        STATUS_CHANGED,
    )
    view = await journey.check(S.AWAITING_CONFIRMATION, actor=STAFF)
    changed = view["info"]["items"][1]
    assert changed["status"] == "awaiting_confirmation"
    assert changed["status_label"]["vi"] == "Chờ xác nhận"
    assert (changed["unit_price_cny"], changed["pending_unit_price_cny"]) == ("50.00", "60.00")

    await journey.send(
        o.ConfirmItems(actor=customer, order_id=oid, item_ids=[second]),
        "items-confirmed",
        STATUS_CHANGED,
    )
    view = await journey.check(S.PURCHASING, actor=customer)
    confirmed = view["info"]["items"][1]
    assert (confirmed["status"], confirmed["unit_price_cny"]) == ("ordered", "60.00")
    assert confirmed["pending_unit_price_cny"] is None
    assert view["info"]["goods_total_vnd"] == 1_260_000

    await journey.send(
        o.MarkItemsOrdered(actor=STAFF, order_id=oid, item_ids=[first, second]),
        "items-ordered",
        STATUS_CHANGED,
        "purchased",
    )
    view = await journey.check(S.PURCHASED, actor=STAFF)
    assert [i["status_label"]["vi"] for i in view["info"]["items"]] == ["Đặt được hàng"] * 2

    address = DeliveryAddress(
        full_name="Lê Thị Hoa",
        phone="+84 983 456 789",
        address_line="45 Trần Hưng Đạo",
        province="Đà Nẵng",
        district="Hải Châu",
    )
    await journey.send(
        o.UpdateDeliveryAddress(actor=customer, order_id=oid, delivery_address=address),
        "address-updated",
    )
    view = await journey.check(S.PURCHASED, changed_status=False)
    assert view["info"]["delivery_address"] == {**address.model_dump(), "phone": "+84983456789"}

    packages = {
        S.SELLER_SHIPPED: package("PK-A", "2.5"),
        S.IN_CHINA_WAREHOUSE: package("PK-B", "1"),
    }
    for step in (
        S.SELLER_SHIPPED,
        S.IN_CHINA_WAREHOUSE,
        S.IN_TRANSIT,
        S.IN_VIETNAM_WAREHOUSE,
        S.DELIVERING,
        S.DELIVERED,
    ):
        extra = ("delivered",) if step is S.DELIVERED else ()
        await journey.send(
            o.AdvanceShipping(actor=WAREHOUSE, order_id=oid, to_status=step),
            STATUS_CHANGED,
            "shipping-advanced",
            *extra,
        )
        await journey.check(step, actor=WAREHOUSE)
        if step in packages:
            await journey.send(
                o.RecordPackage(actor=WAREHOUSE, order_id=oid, package=packages[step]),
                "package-recorded",
            )
            view = await journey.check(step, changed_status=False)
            assert view["packages"][-1]["package_code"] == packages[step].package_code
    assert [p["package_code"] for p in view["packages"]] == ["PK-A", "PK-B"]
    assert view["packages"][0]["weight_kg"] == "2.5"

    # cash collected on delivery, reported by the payments system
    cod = builders.payment(oid, 647_500, PaymentMethod.COD)
    await bus.emit(cod)
    await bus.wait_for_order("orders.order.payment-recorded", oid)
    view = await journey.check(S.DELIVERED, changed_status=False)
    assert [(p["kind"], p["method"]) for p in view["payments"]] == [
        ("deposit", None),
        ("payment", "cod"),
    ]
    assert view["info"]["paid_vnd"] == 612_500 + 647_500

    await _transactions_tab(journey)
    await _complaints_tab(journey)

    printed = await api.get(f"/orders/{oid}/invoice.pdf", customer.id, "customer")
    assert printed.status_code == 200
    assert printed.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(printed.content)).pages)
    assert "Đã giao hàng" in text
    assert order.code in text
    assert "Lê Thị Hoa" in text

    reply = await journey.send(
        o.ConfirmReceived(actor=customer, order_id=oid), STATUS_CHANGED, "completed"
    )
    await journey.check(S.COMPLETED, actor=customer)
    completed = await bus.wait_for(
        "orders.order.completed", lambda e: e.causation_id == reply["command_id"]
    )
    assert completed[0].json["automatic"] is False
    assert journey.statuses == [
        S.AWAITING_DEPOSIT,
        S.DEPOSITED,
        S.PURCHASING,
        S.AWAITING_CONFIRMATION,
        S.PURCHASING,
        S.PURCHASED,
        S.SELLER_SHIPPED,
        S.IN_CHINA_WAREHOUSE,
        S.IN_TRANSIT,
        S.IN_VIETNAM_WAREHOUSE,
        S.DELIVERING,
        S.DELIVERED,
        S.COMPLETED,
    ]
    # every status change was published, once, besides the specific events
    changes = bus.seen("orders.order.status-changed", lambda e: e.json["order_id"] == str(oid))
    assert [e.json["to_status"] for e in changes] == [s.value for s in journey.statuses]


async def _transactions_tab(journey: Journey) -> None:
    """The fees ledger, as the fees service publishes it, becomes the transactions tab."""
    order, bus, api = journey.order, journey.bus, journey.api
    await api.ledger_settled(bus, order.order_id)  # the real fees service's snapshots first
    entries = [
        builders.ledger_entry(LedgerEntryKind.PAYMENT, 612_500, reference="deposit"),
        builders.ledger_entry(LedgerEntryKind.CHARGE, 31_500, fee_code=ServiceCode.PURCHASE_FEE),
        builders.ledger_entry(LedgerEntryKind.CHARGE, 20_000, fee_code=ServiceCode.FAST_ORDER),
    ]
    unpaid = builders.ledger_updated(
        order.order_id, order.customer.id, version=1000, goods_total=1_260_000, entries=entries
    )
    await bus.emit(unpaid)
    view = await api.eventually(
        order.order_id, lambda v: v["transactions"]["ledger_version"] == 1000
    )
    assert view["payment_status"] == "unpaid"
    assert view["info"]["balance_due_vnd"] == 1_260_000 + 51_500 - 612_500
    # as the ledger event carries them: whole VND written as strings
    assert [(e["kind"], e["amount_vnd"]) for e in view["transactions"]["entries"]] == [
        ("payment", "612500"),
        ("charge", "31500"),
        ("charge", "20000"),
    ]
    assert view["transactions"]["entries"][1]["fee_label"]["vi"] == "Phí mua hàng"

    paid = builders.ledger_updated(
        order.order_id,
        order.customer.id,
        version=1001,
        goods_total=1_260_000,
        entries=[
            *entries,
            builders.ledger_entry(LedgerEntryKind.PAYMENT, 699_000, reference="cod"),
        ],
    )
    await bus.emit(paid)
    view = await api.eventually(order.order_id, lambda v: v["payment_status"] == "paid")
    assert view["transactions"]["totals"] == {
        "goods_total_vnd": "1260000",
        "charges_total_vnd": "51500",
        "payments_total_vnd": "1311500",
        "refunds_total_vnd": "0",
        "balance_due_vnd": "0",
    }
    assert view["info"]["balance_due_vnd"] == 0
    listed = await api.page(order.customer.id, "customer")
    assert listed["items"][0]["payment_status"] == "paid"

    # an older snapshot arriving late changes nothing
    handled = await api.handled("fees.ledger.updated.v1")
    await bus.emit(unpaid)
    await api.wait_handled("fees.ledger.updated.v1", handled + 1)
    view = await journey.view()
    assert view["transactions"]["ledger_version"] == 1001
    assert view["payment_status"] == "paid"


async def _complaints_tab(journey: Journey) -> None:
    """Complaint events, as the complaints service publishes them, become the complaints tab."""
    order, bus, api = journey.order, journey.bus, journey.api
    complaint_id = uuid4()

    def fields(status: c.ComplaintStatus, actor: Actor) -> dict[str, Any]:
        return builders.complaint_fields(
            complaint_id, order.order_id, order.customer.id, status, actor
        )

    opened = c.ComplaintOpened(
        **fields(c.ComplaintStatus.OPEN, order.customer),
        type=c.ComplaintType.DAMAGED,
        item_ids=[order.item_ids[0]],
        description="Áo bị rách",
        attachments=["https://img.example.com/rach.jpg"],
        requested_amount_vnd=Decimal(100_000),
    )
    review = c.ComplaintReviewStarted(**fields(c.ComplaintStatus.IN_REVIEW, STAFF))
    await bus.emit(review)  # out of order: the review before the opening
    await bus.emit(opened)
    view = await api.eventually(
        order.order_id,
        lambda v: bool(v["complaints"]) and len(v["complaints"][0]["steps"]) == 2,
    )
    [complaint] = view["complaints"]
    assert complaint["complaint_id"] == str(complaint_id)
    assert complaint["type"] == "damaged"
    assert complaint["status"] == "in_review"
    assert complaint["description"] == "Áo bị rách"
    assert complaint["item_ids"] == [str(order.item_ids[0])]
    assert complaint["requested_amount_vnd"] == 100_000
    assert [s["step"] for s in complaint["steps"]] == ["opened", "review-started"]
    mine = await api.detail(order.order_id, order.customer.id, "customer")
    assert mine["complaints"] == view["complaints"]


async def test_the_decline_path(bus: Bus, api: OrdersApi) -> None:
    journey = await start(bus, api, builders.item("100.00", 1), builders.item("40.00", 2))
    order, customer = journey.order, journey.customer
    oid = order.order_id
    first, second = order.item_ids
    await deposit(journey)
    await journey.send(
        o.StartPurchasing(actor=STAFF, order_id=oid), STATUS_CHANGED, "purchasing-started"
    )
    await journey.check(S.PURCHASING)

    # the shop can only sell one of the second item: the customer declines it
    await journey.send(
        o.ReportItemChange(
            actor=STAFF, order_id=oid, changes=[o.ItemChange(item_id=second, new_quantity=1)]
        ),
        "items-changed",
        STATUS_CHANGED,
    )
    view = await journey.check(S.AWAITING_CONFIRMATION, actor=STAFF)
    assert (view["info"]["items"][1]["quantity"], view["info"]["items"][1]["pending_quantity"]) == (
        2,
        1,
    )
    await journey.send(
        o.DeclineItems(actor=customer, order_id=oid, item_ids=[second]),
        "items-declined",
        STATUS_CHANGED,
    )
    view = await journey.check(S.PURCHASING, actor=customer)
    assert [i["status"] for i in view["info"]["items"]] == ["pending", "cancelled"]
    assert view["info"]["goods_total_vnd"] == 350_000
    assert view["info"]["items"][1]["amount_vnd"] == 0

    # then the first item's price changes too, and the customer declines that as well
    await journey.send(
        o.ReportItemChange(
            actor=STAFF,
            order_id=oid,
            changes=[o.ItemChange(item_id=first, new_unit_price_cny=Decimal("130.00"))],
        ),
        "items-changed",
        STATUS_CHANGED,
    )
    await journey.check(S.AWAITING_CONFIRMATION)
    reply = await journey.send(
        o.DeclineItems(actor=customer, order_id=oid, item_ids=[first]),
        "items-declined",
        STATUS_CHANGED,
        "cancelled",
    )
    view = await journey.check(S.CANCELLED, actor=customer, reason="every item was declined")
    assert [i["status"] for i in view["info"]["items"]] == ["cancelled", "cancelled"]
    assert view["info"]["goods_total_vnd"] == 0
    cancelled = await bus.wait_for(
        "orders.order.cancelled", lambda e: e.causation_id == reply["command_id"]
    )
    assert cancelled[0].json["cancelled_from"] == "awaiting_confirmation"


async def _to_purchased(bus: Bus, api: OrdersApi) -> Journey:
    journey = await start(bus, api, builders.item("80.00", 1))
    oid = journey.order.order_id
    await deposit(journey)
    await journey.send(
        o.StartPurchasing(actor=STAFF, order_id=oid), STATUS_CHANGED, "purchasing-started"
    )
    await journey.check(S.PURCHASING)
    await journey.send(
        o.MarkItemsOrdered(actor=STAFF, order_id=oid, item_ids=journey.order.item_ids),
        "items-ordered",
        STATUS_CHANGED,
        "purchased",
    )
    await journey.check(S.PURCHASED)
    await journey.send(
        o.CancelOrder(actor=journey.customer, order_id=oid, reason="tìm được chỗ rẻ hơn"),
        STATUS_CHANGED,
        "cancellation-requested",
    )
    await journey.check(
        S.CANCELLATION_REQUESTED, actor=journey.customer, reason="tìm được chỗ rẻ hơn"
    )
    return journey


async def test_a_cancellation_request_approved(bus: Bus, api: OrdersApi) -> None:
    journey = await _to_purchased(bus, api)
    oid = journey.order.order_id
    reply = await journey.send(
        o.ApproveCancellation(actor=STAFF, order_id=oid, reason="shop refunded"),
        STATUS_CHANGED,
        "cancelled",
    )
    await journey.check(S.CANCELLED, actor=STAFF, reason="shop refunded")
    cancelled = await bus.wait_for(
        "orders.order.cancelled", lambda e: e.causation_id == reply["command_id"]
    )
    assert cancelled[0].json["cancelled_from"] == "cancellation_requested"


async def test_a_cancellation_request_rejected(bus: Bus, api: OrdersApi) -> None:
    journey = await _to_purchased(bus, api)
    oid = journey.order.order_id
    await journey.send(
        o.RejectCancellation(actor=STAFF, order_id=oid, reason="the seller already shipped"),
        STATUS_CHANGED,
        "cancellation-rejected",
    )
    await journey.check(S.PURCHASED, actor=STAFF, reason="the seller already shipped")
    # the order goes on as before
    await journey.send(
        o.AdvanceShipping(actor=WAREHOUSE, order_id=oid, to_status=S.SELLER_SHIPPED),
        STATUS_CHANGED,
        "shipping-advanced",
    )
    await journey.check(S.SELLER_SHIPPED, actor=WAREHOUSE)


async def test_a_payment_for_a_cancelled_order_is_dead_lettered(bus: Bus, api: OrdersApi) -> None:
    order = await flows.drive_to(bus, S.CANCELLED)
    before = await api.detail(order.order_id)
    message_id = await bus.emit(builders.payment(order.order_id, 50_000))
    dead = await bus.dead_letter("orders.payment-events.dlq", message_id)
    assert dead.headers["x-azl-dead-letter-code"] == "not_applicable"
    assert "cancelled" in dead.headers["x-azl-dead-letter-reason"]
    after = await api.detail(order.order_id)
    assert after["status"] == "cancelled"
    assert after["history"] == before["history"]
    assert after["payments"] == before["payments"]
    assert not bus.seen("orders.order.payment-recorded", lambda e: e.causation_id == message_id)
