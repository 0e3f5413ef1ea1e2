"""Complaints through the whole platform (spec §5): orders drive each order's state, fees the
money, and customers and staff act only through commands on RabbitMQ; what the services show
is read over HTTP. The complaints service learns every order fact from events, so each test
first waits until it knows the order as the test expects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from azl_testing import builders, flows
from azl_testing.bus import Bus
from azl_testing.complaints import (
    ComplaintsApi,
    of_complaint,
    open_complaint,
    opened,
    rejection,
    resolve,
    wait_for_complaint,
)
from azl_testing.tokens import bearer

from azl_contracts import Actor, ActorRole, Command
from azl_contracts import complaints as k
from azl_contracts import orders as o
from azl_contracts.common import OrderStatus
from azl_contracts.complaints import ComplaintType, Resolution

from .conftest import Platform

S = OrderStatus
STAFF = builders.STAFF
OTHER_STAFF = Actor(id="staff-2", role=ActorRole.STAFF)
T = ComplaintType

# drive_to's order: 1 item of 100 CNY at 3,500 = 350,000 VND; the deposit (70 %) 245,000
PAID = 245_000


@pytest_asyncio.fixture
async def api(platform: Platform) -> AsyncIterator[ComplaintsApi]:
    async with platform.http("complaints") as http:
        yield ComplaintsApi(http)


async def known(api: ComplaintsApi, bus: Bus, status: OrderStatus) -> flows.PlacedOrder:
    """A new order in ``status`` that complaints already knows in that status, paid."""
    order = await flows.drive_to(bus, status)
    await api.order_known(order.order_id, status.value, paid=PAID)
    return order


# --- the lifecycle --------------------------------------------------------------------


async def test_a_complaint_through_review_information_thread_and_resolution(
    bus: Bus, api: ComplaintsApi, platform: Platform
) -> None:
    order = await known(api, bus, S.DELIVERED)
    customer = order.customer
    photos = [f"https://img.example.com/{uuid4().hex}.jpg" for _ in range(10)]
    reply = await bus.request(
        open_complaint(
            customer,
            order.order_id,
            complaint_type=T.DAMAGED,
            item_ids=order.item_ids,
            description="  Áo bị rách ở tay  ",
            attachments=photos,
            requested_amount_vnd=100_000,
        )
    )
    assert reply["status"] == "accepted", reply
    assert [e["type"] for e in reply["events"]] == ["complaints.complaint.opened.v1"]
    cid = UUID(reply["result"]["complaint_id"])
    opened_event = await bus.wait_for(
        "complaints.complaint.opened", lambda e: e.json["complaint_id"] == str(cid)
    )
    body = opened_event[0].json
    assert body["order_id"] == str(order.order_id)
    assert body["order_code"] == order.code
    assert body["customer_id"] == customer.id
    assert body["actor"] == customer.model_dump(mode="json")
    assert body["status"] == "open"
    assert body["description"] == "Áo bị rách ở tay"
    assert body["attachments"] == photos
    assert body["requested_amount_vnd"] == "100000"
    assert opened_event[0].causation_id == reply["command_id"]

    steps: list[Command] = [
        k.StartReview(actor=STAFF, complaint_id=cid),
        k.AddComment(actor=customer, complaint_id=cid, body="Khi nào có kết quả?"),
        k.RequestInfo(actor=STAFF, complaint_id=cid, message="Xin gửi thêm ảnh nhãn mác"),
        k.ProvideInfo(
            actor=customer,
            complaint_id=cid,
            message="Đây ạ",
            attachments=["https://img.example.com/label.jpg"],
        ),
        k.AddComment(actor=OTHER_STAFF, complaint_id=cid, body="Đã nhận, đang xử lý"),
        resolve(cid, Resolution.RESHIP, actor=OTHER_STAFF, note="Gửi lại áo mới"),
    ]
    for command in steps:
        await flows.accepted(bus, command)

    types = [
        e.type
        for e in await bus.wait_for(
            "complaints.complaint", lambda e: e.json["complaint_id"] == str(cid), count=7
        )
    ]
    assert types == [
        "complaints.complaint.opened.v1",
        "complaints.complaint.review-started.v1",
        "complaints.complaint.comment-added.v1",
        "complaints.complaint.info-requested.v1",
        "complaints.complaint.info-provided.v1",
        "complaints.complaint.comment-added.v1",
        "complaints.complaint.resolved.v1",
    ]
    assert not of_complaint(bus, "complaints.refund.approved", cid)

    view = await api.complaint(cid, customer.id, "customer")
    assert view["status"] == "resolved"
    assert view["resolution"] == "reship"
    assert view["resolution_note"] == "Gửi lại áo mới"
    assert view["item_ids"] == [str(i) for i in order.item_ids]
    assert view["attachments"] == photos
    assert view["refund"] is None
    assert [(h["from_status"], h["to_status"], h["actor"]["id"]) for h in view["history"]] == [
        (None, "open", customer.id),
        ("open", "in_review", STAFF.id),
        ("in_review", "awaiting_customer", STAFF.id),
        ("awaiting_customer", "in_review", customer.id),
        ("in_review", "resolved", OTHER_STAFF.id),
    ]
    assert all(h["at"] for h in view["history"])
    assert [(t["kind"], t["actor"]["id"], t["body"]) for t in view["thread"]] == [
        ("comment", customer.id, "Khi nào có kết quả?"),
        ("info_request", STAFF.id, "Xin gửi thêm ảnh nhãn mác"),
        ("info_response", customer.id, "Đây ạ"),
        ("comment", OTHER_STAFF.id, "Đã nhận, đang xử lý"),
    ]
    assert view["thread"][2]["attachments"] == ["https://img.example.com/label.jpg"]

    # the orders service shows it in the order's complaints tab
    async with platform.http("orders") as http:
        tab = await _eventually_tab(http, order.order_id, customer.id, cid, "resolved")
    assert tab["type"] == "damaged"


async def test_the_customer_withdraws_and_can_then_complain_again(
    bus: Bus, api: ComplaintsApi
) -> None:
    order = await known(api, bus, S.IN_TRANSIT)
    first = await opened(
        bus, open_complaint(order.customer, order.order_id, complaint_type=T.LATE_DELIVERY)
    )
    await flows.accepted(bus, k.StartReview(actor=STAFF, complaint_id=first))
    await flows.accepted(
        bus, k.WithdrawComplaint(actor=order.customer, complaint_id=first, reason="Đã nhận")
    )
    view = await api.complaint(first)
    assert view["status"] == "withdrawn"
    assert view["history"][-1]["note"] == "Đã nhận"
    assert (await rejection(bus, k.WithdrawComplaint(actor=order.customer, complaint_id=first)))[
        "reason_code"
    ] == "invalid_state"
    second = await opened(
        bus, open_complaint(order.customer, order.order_id, complaint_type=T.LATE_DELIVERY)
    )
    assert second != first


# --- bad input ------------------------------------------------------------------------


async def test_complaints_are_open_from_purchased_to_delivered_only(
    bus: Bus, api: ComplaintsApi
) -> None:
    for status, reason in (
        (S.DEPOSITED, "invalid_state"),
        (S.CANCELLED, "invalid_state"),
        (S.COMPLETED, "complaint_window_closed"),
    ):
        order = await flows.drive_to(bus, status)
        await api.order_known(order.order_id, status.value)
        reply = await rejection(bus, open_complaint(order.customer, order.order_id))
        assert reply["reason_code"] == reason, reply
        assert reply["details"]["status"] == status.value
    purchased = await known(api, bus, S.PURCHASED)
    early = await rejection(
        bus,
        open_complaint(purchased.customer, purchased.order_id, complaint_type=T.REFUND_REQUEST),
    )
    assert early["reason_code"] == "invalid_state"
    assert early["details"]["allowed"] == ["delivered"]
    assert await opened(bus, open_complaint(purchased.customer, purchased.order_id))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def delivered(platform: Platform, bus: Bus) -> flows.PlacedOrder:
    """One delivered order that the bad-input tests below leave unchanged."""
    async with platform.http("complaints") as http:
        return await known(ComplaintsApi(http), bus, S.DELIVERED)


BAD_OPENINGS: dict[str, tuple[dict[str, Any], str, dict[str, Any]]] = {
    "item of another order": (
        {"item_ids": ["<foreign>"]},
        "validation_error",
        {"field": "item_ids"},
    ),
    "eleven attachments": (
        {"attachments": [f"https://img.example.com/{i}.jpg" for i in range(11)]},
        "validation_error",
        {"field": "attachments", "count": 11, "max_count": 10},
    ),
    "a non-http attachment": (
        {"attachments": ["https://img.example.com/ok.jpg", "ftp://files.example.com/a.jpg"]},
        "validation_error",
        {"field": "attachments", "invalid": ["ftp://files.example.com/a.jpg"]},
    ),
    "an empty description": ({"description": "   "}, "validation_error", {"field": "description"}),
    "a description of 4,001 characters": (
        {"description": "x" * 4001},
        "validation_error",
        {"field": "description", "length": 4001, "max_length": 4000},
    ),
    "more than was paid": (
        {"requested_amount_vnd": PAID + 1},
        "limit_exceeded",
        {"refundable_vnd": str(PAID)},
    ),
}


@pytest.mark.parametrize("case", list(BAD_OPENINGS))
async def test_bad_input_is_rejected_with_details_not_dead_lettered(
    bus: Bus, api: ComplaintsApi, delivered: flows.PlacedOrder, case: str
) -> None:
    overrides, reason, details = BAD_OPENINGS[case]
    if overrides.get("item_ids") == ["<foreign>"]:
        overrides = {"item_ids": [delivered.item_ids[0], uuid4()]}
    reply = await rejection(
        bus, open_complaint(delivered.customer, delivered.order_id, **overrides)
    )
    assert reply["reason_code"] == reason
    assert details.items() <= reply["details"].items(), reply["details"]
    page = (await api.get(f"/complaints?order_id={delivered.order_id}")).json()
    assert page["total"] == 0
    assert await bus.drain_queue("complaints.commands.dlq", wait=0.2, expect=0) == []


async def test_only_the_orders_customer_complains_and_staff_commands_are_staffs(
    bus: Bus, api: ComplaintsApi, delivered: flows.PlacedOrder
) -> None:
    intruder = builders.customer()
    assert (await rejection(bus, open_complaint(intruder, delivered.order_id)))[
        "reason_code"
    ] == "forbidden"
    unknown = await rejection(bus, open_complaint(intruder, uuid4()))
    assert unknown["reason_code"] == "not_found"

    order = await known(api, bus, S.DELIVERING)
    cid = await opened(bus, open_complaint(order.customer, order.order_id))
    staff_commands: list[Command] = [
        k.StartReview(actor=order.customer, complaint_id=cid),
        k.RequestInfo(actor=order.customer, complaint_id=cid, message="?"),
        resolve(cid, Resolution.REFUND, 1, actor=order.customer),
    ]
    for command in staff_commands:
        reply = await rejection(bus, command)
        assert reply["reason_code"] == "forbidden"
        assert reply["details"] == {"allowed_roles": ["staff"]}
    customer_commands: list[Command] = [
        k.AddComment(actor=intruder, complaint_id=cid, body="xin chào"),
        k.WithdrawComplaint(actor=intruder, complaint_id=cid),
    ]
    for command in customer_commands:
        assert (await rejection(bus, command))["reason_code"] == "forbidden"

    # the read API: the customer sees its own complaint, another customer a 404
    mine = await api.get(f"/complaints/{cid}", order.customer.id, "customer")
    theirs = await api.get(f"/complaints/{cid}", intruder.id, "customer")
    assert mine.status_code == 200
    assert theirs.status_code == 404
    listed = (
        await api.get(f"/complaints?order_id={order.order_id}", intruder.id, "customer")
    ).json()
    assert listed["total"] == 0
    assert (await api.http.get(f"/complaints/{cid}")).status_code == 401


async def test_a_second_open_complaint_on_the_same_items_is_a_duplicate(
    bus: Bus, api: ComplaintsApi
) -> None:
    order = await known(api, bus, S.DELIVERED)
    first = await opened(
        bus, open_complaint(order.customer, order.order_id, item_ids=order.item_ids)
    )
    reply = await rejection(
        bus,
        open_complaint(
            order.customer, order.order_id, complaint_type=T.WRONG_ITEM, item_ids=order.item_ids
        ),
    )
    assert reply["reason_code"] == "duplicate"
    assert reply["details"]["complaint_id"] == str(first)
    # once the first is closed, the items can be complained about again
    await flows.accepted(bus, k.StartReview(actor=STAFF, complaint_id=first))
    await flows.accepted(bus, resolve(first, Resolution.REJECT, note="ảnh không rõ"))
    assert await opened(
        bus, open_complaint(order.customer, order.order_id, item_ids=order.item_ids)
    )


# --- refunds --------------------------------------------------------------------------


async def test_a_refund_flows_into_the_fees_ledger_and_the_orders_read_api(
    bus: Bus, api: ComplaintsApi, platform: Platform
) -> None:
    order = await known(api, bus, S.DELIVERED)
    customer = order.customer
    cid = await opened(
        bus,
        open_complaint(
            customer, order.order_id, complaint_type=T.REFUND_REQUEST, requested_amount_vnd=150_000
        ),
    )
    await flows.accepted(bus, k.StartReview(actor=STAFF, complaint_id=cid))
    over = await rejection(bus, resolve(cid, Resolution.REFUND, PAID + 1))
    assert over["reason_code"] == "limit_exceeded"
    reply = await flows.accepted(bus, resolve(cid, Resolution.REFUND, 150_000, note="hoàn tiền"))
    assert [e["type"] for e in reply["events"]] == [
        "complaints.complaint.resolved.v1",
        "complaints.refund.approved.v1",
    ]
    approved = (
        await bus.wait_for(
            "complaints.refund.approved", lambda e: e.json["complaint_id"] == str(cid)
        )
    )[0]
    assert approved.json["amount_vnd"] == "150000"
    assert approved.json["order_id"] == str(order.order_id)

    recorded = (await bus.wait_for_order("fees.refund.recorded", order.order_id))[0]
    assert recorded.json["complaint_id"] == str(cid)
    assert recorded.json["amount_vnd"] == "150000"
    assert recorded.causation_id == approved.message_id
    assert recorded.correlation_id == approved.correlation_id

    # the complaint shows the refund as the ledger recorded it
    view = await api.when(f"/complaints/{cid}", lambda v: v["refund"]["recorded_in_ledger"])
    assert view["refund"] == {
        "resolved_amount_vnd": 150_000,
        "shipping_deducted_vnd": 0,
        "payout_vnd": 150_000,
        "recorded_in_ledger": True,
    }
    # what is left to refund: 245,000 paid − 150,000 refunded
    await api.when(f"/order-states/{order.order_id}", lambda s: s["refunded_vnd"] == 150_000)
    second = await opened(bus, open_complaint(customer, order.order_id, complaint_type=T.OTHER))
    await flows.accepted(bus, k.StartReview(actor=STAFF, complaint_id=second))
    assert (await rejection(bus, resolve(second, Resolution.REFUND, 95_001)))[
        "reason_code"
    ] == "limit_exceeded"

    # the orders read API: the refund in the transactions tab, the complaint in its tab
    async with platform.http("orders") as http:
        tab = await _eventually_tab(http, order.order_id, customer.id, cid, "resolved")
        detail = await _eventually_order(
            http,
            order.order_id,
            customer.id,
            lambda d: any(e["kind"] == "refund" for e in d["transactions"]["entries"]),
        )
    refunds = [e for e in detail["transactions"]["entries"] if e["kind"] == "refund"]
    assert [(e["amount_vnd"], e["reference"]) for e in refunds] == [("150000", str(cid))]
    assert detail["transactions"]["totals"]["refunds_total_vnd"] == "150000"
    assert tab["status"] == "resolved"


async def test_a_refund_on_a_settled_order_leaves_it_settled_and_paid(
    bus: Bus, api: ComplaintsApi, platform: Platform
) -> None:
    """Spec §4: a refund pays money back, it never turns into a debt. The order is paid in
    full after its delivery; a complaint refund then lowers what it cost and what was paid
    alike, and the orders read API still shows balance 0 and ``paid``."""
    order = await known(api, bus, S.DELIVERED)
    customer = order.customer
    async with platform.http("fees") as fees_http:
        ledger = await _eventually(
            fees_http, f"/ledgers/{order.order_id}", customer.id, lambda v: v["delivered"]
        )
    balance = ledger["balance_due_vnd"]
    assert balance > 0
    await bus.emit(builders.payment(order.order_id, balance))
    async with platform.http("orders") as http:
        before = await _eventually_order(
            http, order.order_id, customer.id, lambda d: d["info"]["balance_due_vnd"] == 0
        )
        assert before["payment_status"] == "paid"
        cost = ledger["goods_total_vnd"] + ledger["charges_total_vnd"]
        cid = await opened(
            bus,
            open_complaint(
                customer, order.order_id, complaint_type=T.DAMAGED, requested_amount_vnd=100_000
            ),
        )
        await flows.accepted(bus, k.StartReview(actor=STAFF, complaint_id=cid))
        await flows.accepted(bus, resolve(cid, Resolution.REFUND, 100_000))
        await bus.wait_for_order("fees.refund.recorded", order.order_id)
        after = await _eventually_order(
            http,
            order.order_id,
            customer.id,
            lambda d: d["transactions"]["totals"]["refunds_total_vnd"] == "100000",
        )
    print(
        f"settled order {order.code}: cost {cost:,} paid {cost:,} due 0 → after a 100,000 "
        f"refund: due {after['info']['balance_due_vnd']:,}, {after['payment_status']}"
    )
    assert after["info"]["balance_due_vnd"] == 0
    assert after["payment_status"] == "paid"
    assert after["transactions"]["totals"]["payments_total_vnd"] == str(cost)


async def _eventually(
    http: Any, path: str, subject: str, condition: Any, timeout: float = 15.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await http.get(path, headers=bearer(subject))
        if response.status_code == 200 and condition(response.json()):
            body: dict[str, Any] = response.json()
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{path}: {response.status_code} {response.text}")
        await asyncio.sleep(0.05)


# --- the complaint window ----------------------------------------------------------------


async def test_confirm_received_processed_first_closes_the_window_for_a_queued_complaint(
    bus: Bus, api: ComplaintsApi, platform: Platform
) -> None:
    """The complaints service is down while the customer confirms receipt (orders completes
    the order) and then sends a complaint: both the completion and the complaint wait in
    complaints' queues. Whichever it takes first, the complaint does not stand: rejected as
    complaint_window_closed, or — when the command came first — rejected by the platform as
    soon as the completion is learned."""
    order = await known(api, bus, S.DELIVERED)
    complaints = platform.services["complaints"]
    assert complaints.stop() == 0
    try:
        await flows.accepted(bus, o.ConfirmReceived(actor=order.customer, order_id=order.order_id))
        completed = await bus.wait_for_order("orders.order.completed", order.order_id)
        assert completed
        command = open_complaint(order.customer, order.order_id, item_ids=order.item_ids)
        pending = asyncio.create_task(bus.request(command, timeout=90))
        await asyncio.sleep(0.3)  # the complaint is queued behind the completion
        assert not pending.done()
    finally:
        await asyncio.to_thread(lambda: complaints.start().wait_ready())
    reply = await pending
    if reply["status"] == "rejected":
        print("\nthe completion was projected first: the command was rejected")
        assert reply["reason_code"] == "complaint_window_closed"
        assert reply["details"]["status"] == "completed"
        listed = (await api.get(f"/complaints?order_id={order.order_id}")).json()
        assert listed["total"] == 0
    else:
        print("\nthe command was handled first: the complaint was closed by the platform")
        cid = UUID(reply["result"]["complaint_id"])
        view = await api.when(f"/complaints/{cid}", lambda v: v["status"] == "rejected")
        assert view["closed_reason"] == "complaint_window_closed"
        assert view["history"][-1]["actor"]["role"] == "system"
        # the read API shows the commit; the event follows through the outbox
        resolved = await wait_for_complaint(bus, "complaints.complaint.resolved", cid)
        assert resolved[0].json["reason_code"] == "complaint_window_closed"
    # from now on, every complaint is refused at once
    after = await rejection(
        bus, open_complaint(order.customer, order.order_id, complaint_type=T.OTHER)
    )
    assert after["reason_code"] == "complaint_window_closed"


async def test_a_complaint_after_confirm_received_is_refused(bus: Bus, api: ComplaintsApi) -> None:
    order = await known(api, bus, S.DELIVERED)
    cid = await opened(bus, open_complaint(order.customer, order.order_id, complaint_type=T.OTHER))
    await flows.accepted(bus, o.ConfirmReceived(actor=order.customer, order_id=order.order_id))
    state = await api.order_known(order.order_id, "completed")
    assert state["completed_at"] is not None
    reply = await rejection(bus, open_complaint(order.customer, order.order_id))
    assert reply["reason_code"] == "complaint_window_closed"
    # the complaint opened before the completion stands and is handled as usual
    view = await api.complaint(cid)
    assert view["status"] == "open"
    await flows.accepted(bus, k.StartReview(actor=STAFF, complaint_id=cid))
    await flows.accepted(bus, resolve(cid, Resolution.RESHIP))


# --- the read API ---------------------------------------------------------------------


async def test_the_list_filters_by_order_status_and_type_with_counts(
    bus: Bus, api: ComplaintsApi
) -> None:
    customer = builders.customer()
    first = await flows.drive_to(bus, S.DELIVERED, customer)
    second = await flows.drive_to(bus, S.IN_TRANSIT, customer)
    await api.order_known(first.order_id, "delivered")
    await api.order_known(second.order_id, "in_transit")
    a = await opened(
        bus,
        open_complaint(customer, first.order_id, complaint_type=T.DAMAGED, item_ids=first.item_ids),
    )
    b = await opened(bus, open_complaint(customer, first.order_id, complaint_type=T.LATE_DELIVERY))
    c = await opened(bus, open_complaint(customer, second.order_id, complaint_type=T.OTHER))
    await flows.accepted(bus, k.StartReview(actor=STAFF, complaint_id=b))

    mine = (await api.get("/complaints", customer.id, "customer")).json()
    assert [i["complaint_id"] for i in mine["items"]] == [str(b), str(c), str(a)]  # newest first
    assert mine["counts"]["all"] == 3
    assert mine["counts"]["open"] == 2
    assert mine["counts"]["in_review"] == 1
    by_order = (await api.get(f"/complaints?order_id={first.order_id}")).json()
    assert {i["complaint_id"] for i in by_order["items"]} == {str(a), str(b)}
    by_status = (await api.get(f"/complaints?order_id={first.order_id}&status=open")).json()
    assert [i["complaint_id"] for i in by_status["items"]] == [str(a)]
    assert by_status["total"] == 1
    assert by_status["counts"]["all"] == 2
    by_type = (await api.get(f"/complaints?type=other&order_id={second.order_id}")).json()
    assert [i["complaint_id"] for i in by_type["items"]] == [str(c)]
    paged = (await api.get("/complaints?page=2&page_size=2", customer.id, "customer")).json()
    assert [i["complaint_id"] for i in paged["items"]] == [str(a)]
    assert paged["total"] == 3
    assert (await api.get("/complaints?page_size=101")).status_code == 422
    assert (await api.get(f"/complaints/{uuid4()}")).status_code == 404


# --- helpers --------------------------------------------------------------------------


async def _eventually_order(
    http: Any, order_id: UUID, subject: str, condition: Any, timeout: float = 15.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await http.get(f"/orders/{order_id}", headers=bearer(subject))
        if response.status_code == 200 and condition(response.json()):
            body: dict[str, Any] = response.json()
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"order {order_id}: {response.status_code} {response.text}")
        await asyncio.sleep(0.05)


async def _eventually_tab(
    http: Any, order_id: UUID, subject: str, complaint_id: UUID, status: str
) -> dict[str, Any]:
    def shows(detail: dict[str, Any]) -> bool:
        return any(
            c["complaint_id"] == str(complaint_id) and c["status"] == status
            for c in detail["complaints"]
        )

    detail = await _eventually_order(http, order_id, subject, shows)
    tab: dict[str, Any] = next(
        c for c in detail["complaints"] if c["complaint_id"] == str(complaint_id)
    )
    return tab
