"""The complaints service alone, in a namespace of its own, with attachments disabled and
ledgers that deduct shipping from refunds (fees' AZL_DEDUCT_SHIPPING_FROM_REFUNDS on, as
the fees events the test publishes state it).

The test publishes the orders and fees events itself, as those services would, so they can
arrive late, out of order and at chosen times — what at-least-once delivery over separate
queues allows — and the complaints service's decisions can be pinned on each ordering.
The database it migrated on start is also compared with the tables the code declares.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import pytest
import pytest_asyncio
from azl_testing import builders, flows
from azl_testing.bus import Bus
from azl_testing.complaints import (
    ComplaintsApi,
    OrderFacts,
    fence_commands,
    of_complaint,
    open_complaint,
    opened,
    rejection,
    resolve,
    wait_for_complaint,
)
from azl_testing.infra import Infra, own_namespace
from azl_testing.processes import ServiceProcess
from azl_testing.schema import schema_differences

from azl_contracts import complaints as k
from azl_contracts.common import OrderStatus
from azl_contracts.complaints import ComplaintType, Resolution
from complaints.storage import metadata

S = OrderStatus
T = ComplaintType
STAFF = builders.STAFF
PHOTO = "https://img.example.com/a.jpg"


@pytest.fixture(scope="module")
def own_infra(infra: Infra) -> Iterator[Infra]:
    """The run's servers, in a namespace (and databases) of this module's own."""
    with own_namespace(infra) as own:
        yield own


@pytest.fixture(scope="module")
def complaints_alone(own_infra: Infra, log_dir: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        "complaints",
        own_infra,
        log_dir,
        extra_env={
            "AZL_COMPLAINT_ATTACHMENTS_ENABLED": "false",
        },
    ).start()
    try:
        process.wait_ready()
        yield process
    finally:
        assert process.stop() in (0, None), process.log_tail()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def alone_bus(own_infra: Infra, complaints_alone: ServiceProcess) -> AsyncIterator[Bus]:
    async with Bus(own_infra) as client:
        yield client


@pytest_asyncio.fixture
async def api(complaints_alone: ServiceProcess) -> AsyncIterator[ComplaintsApi]:
    async with httpx.AsyncClient(base_url=complaints_alone.base_url, timeout=10.0) as http:
        yield ComplaintsApi(http)


async def delivered(
    bus: Bus, api: ComplaintsApi, *, paid: int = 1_000_000, shipping: int = 0
) -> OrderFacts:
    """An order complaints knows as delivered (version 5), with what was paid."""
    order = OrderFacts()
    await bus.emit(order.placed())
    await bus.emit(order.status(S.DELIVERED, 5, from_status=S.DELIVERING))
    await bus.emit(order.ledger(2, paid=paid, shipping=shipping))
    await api.order_known(order.order_id, "delivered", paid=paid)
    if shipping:
        await api.when(
            f"/order-states/{order.order_id}", lambda s: s["shipping_charged_vnd"] == shipping
        )
    return order


async def reviewed(bus: Bus, order: OrderFacts, complaint_type: ComplaintType) -> UUID:
    cid = await opened(
        bus, open_complaint(order.customer, order.order_id, complaint_type=complaint_type)
    )
    await flows.accepted(bus, k.StartReview(actor=STAFF, complaint_id=cid))
    return cid


# --- settings -------------------------------------------------------------------------


async def test_attachments_are_refused_while_disabled(alone_bus: Bus, api: ComplaintsApi) -> None:
    bus = alone_bus
    order = await delivered(bus, api)
    reply = await rejection(
        bus, open_complaint(order.customer, order.order_id, attachments=[PHOTO])
    )
    assert reply["reason_code"] == "validation_error"
    assert reply["details"] == {"field": "attachments", "count": 1}
    cid = await opened(bus, open_complaint(order.customer, order.order_id))
    await bus.request(k.StartReview(actor=STAFF, complaint_id=cid))
    await bus.request(k.RequestInfo(actor=STAFF, complaint_id=cid, message="Ảnh?"))
    answer = await rejection(
        bus,
        k.ProvideInfo(actor=order.customer, complaint_id=cid, message="đây", attachments=[PHOTO]),
    )
    assert answer["reason_code"] == "validation_error"
    assert (await api.complaint(cid))["status"] == "awaiting_customer"


async def test_a_refund_shows_what_is_paid_after_the_shipping_deduction(
    alone_bus: Bus, api: ComplaintsApi
) -> None:
    bus = alone_bus
    order = await delivered(bus, api, paid=1_000_000, shipping=84_000)
    first = await reviewed(bus, order, T.DAMAGED)
    second = await reviewed(bus, order, T.LATE_DELIVERY)

    await bus.request(resolve(first, Resolution.REFUND, 300_000))
    resolved = (await wait_for_complaint(bus, "complaints.complaint.resolved", first))[0].json
    assert (resolved["amount_vnd"], resolved["shipping_deducted_vnd"], resolved["payout_vnd"]) == (
        "300000",
        "84000",
        "216000",
    )
    approved = (await wait_for_complaint(bus, "complaints.refund.approved", first))[0].json
    assert approved["amount_vnd"] == "300000"  # the fees ledger deducts the shipping itself
    assert (await api.complaint(first))["refund"] == {
        "resolved_amount_vnd": 300_000,
        "shipping_deducted_vnd": 84_000,
        "payout_vnd": 216_000,
        "recorded_in_ledger": False,
    }

    # the shipping is deducted once per order, even before fees has recorded the first refund
    await bus.request(resolve(second, Resolution.REFUND, 100_000))
    again = (await wait_for_complaint(bus, "complaints.complaint.resolved", second))[0].json
    assert (again["shipping_deducted_vnd"], again["payout_vnd"]) == ("0", "100000")

    # fees records the first refund: the complaint shows the ledger's amounts
    await bus.emit(
        order.ledger(
            3, paid=1_000_000, shipping=84_000, refunds={first: 216_000}, shipping_deducted=84_000
        )
    )
    view = await api.when(f"/complaints/{first}", lambda v: v["refund"]["recorded_in_ledger"])
    assert view["refund"]["payout_vnd"] == 216_000

    # left to refund: 1,000,000 paid − 216,000 recorded − 100,000 approved = 684,000
    third = await reviewed(bus, order, T.OTHER)
    over = await rejection(bus, resolve(third, Resolution.REFUND, 684_001))
    assert over["reason_code"] == "limit_exceeded"
    assert over["details"]["refundable_vnd"] == "684000"
    accepted = await bus.request(resolve(third, Resolution.REFUND, 684_000))
    assert accepted["status"] == "accepted"


async def test_the_refund_limit_is_the_same_before_and_after_fees_records_a_refund(
    alone_bus: Bus, api: ComplaintsApi
) -> None:
    """A refund approved but not recorded yet counts at its expected payout (resolved − the
    shipping fees will deduct), the amount the ledger then records."""
    bus = alone_bus
    order = await delivered(bus, api, paid=1_000_000, shipping=84_000)
    first = await reviewed(bus, order, T.DAMAGED)
    second = await reviewed(bus, order, T.OTHER)
    await flows.accepted(bus, resolve(first, Resolution.REFUND, 300_000))  # pays 216,000

    # before fees records it: 1,000,000 paid − 216,000 = 784,000 left
    over = await rejection(bus, resolve(second, Resolution.REFUND, 784_001))
    assert over["reason_code"] == "limit_exceeded"
    assert (over["details"]["refunded_vnd"], over["details"]["refundable_vnd"]) == (
        "216000",
        "784000",
    )

    await bus.emit(
        order.ledger(
            3, paid=1_000_000, shipping=84_000, refunds={first: 216_000}, shipping_deducted=84_000
        )
    )
    await api.when(f"/complaints/{first}", lambda v: v["refund"]["recorded_in_ledger"])
    # after: the same limit
    again = await rejection(bus, resolve(second, Resolution.REFUND, 784_001))
    assert (again["details"]["refunded_vnd"], again["details"]["refundable_vnd"]) == (
        "216000",
        "784000",
    )
    await flows.accepted(bus, resolve(second, Resolution.REFUND, 784_000))
    resolved = (await wait_for_complaint(bus, "complaints.complaint.resolved", second))[0].json
    assert (resolved["shipping_deducted_vnd"], resolved["payout_vnd"]) == ("0", "784000")


# --- the window, whatever order the facts arrive in -----------------------------------------


async def test_a_completion_learned_after_the_complaint_closes_it_when_it_came_first(
    alone_bus: Bus, api: ComplaintsApi
) -> None:
    """Complaints accepted a complaint on an order it still knew as delivered, but orders
    had completed the order before: when the completion arrives the platform rejects the
    complaint as complaint_window_closed."""
    bus = alone_bus
    order = await delivered(bus, api)
    cid = await opened(bus, open_complaint(order.customer, order.order_id))
    opened_at = datetime.fromisoformat(
        (await wait_for_complaint(bus, "complaints.complaint.opened", cid))[0].json["occurred_at"]
    )
    await bus.emit(order.status(S.COMPLETED, 6, at=opened_at - timedelta(milliseconds=50)))
    closed = (await wait_for_complaint(bus, "complaints.complaint.resolved", cid))[0].json
    assert closed["status"] == "rejected"
    assert closed["resolution"] == "reject"
    assert closed["reason_code"] == "complaint_window_closed"
    assert closed["actor"] == {"id": "complaints", "role": "system"}
    view = await api.complaint(cid)
    assert view["status"] == "rejected"
    assert view["closed_reason"] == "complaint_window_closed"
    assert (await rejection(bus, open_complaint(order.customer, order.order_id)))[
        "reason_code"
    ] == "complaint_window_closed"


async def test_a_complaint_opened_before_the_completion_stands(
    alone_bus: Bus, api: ComplaintsApi
) -> None:
    bus = alone_bus
    order = await delivered(bus, api)
    cid = await opened(bus, open_complaint(order.customer, order.order_id))
    await bus.emit(order.status(S.COMPLETED, 6))
    # the projection shows the completion: its transaction, where a rejection of the
    # complaint would have been written too, is committed — and the complaint is open
    await api.order_known(order.order_id, "completed")
    assert (await api.complaint(cid))["status"] == "open"
    await fence_commands(bus)  # a command after it: what the transaction published is seen
    assert of_complaint(bus, "complaints.complaint.resolved", cid) == []


async def test_a_late_older_status_does_not_reopen_the_window(
    alone_bus: Bus, api: ComplaintsApi
) -> None:
    bus = alone_bus
    order = OrderFacts()
    await bus.emit(order.ledger(1, paid=500_000))  # fees may be heard of first
    await bus.emit(order.status(S.COMPLETED, 7, from_status=S.DELIVERED))
    await bus.emit(order.placed())
    await bus.emit(order.status(S.DELIVERED, 6, from_status=S.DELIVERING))
    await api.when(
        f"/order-states/{order.order_id}",
        lambda s: s["items"] != [] and s["paid_vnd"] == 500_000,
    )
    # a fence on the same queue, after the late delivered v6: once complaints knows the
    # fence order, v6 was handled
    fence = OrderFacts()
    await bus.emit(fence.placed())
    await api.when(f"/order-states/{fence.order_id}", lambda s: s["items"] != [])
    state = (await api.get(f"/order-states/{order.order_id}")).json()
    assert (state["status"], state["status_version"]) == ("completed", 7)
    reply = await rejection(bus, open_complaint(order.customer, order.order_id))
    assert reply["reason_code"] == "complaint_window_closed"


async def test_an_order_complaints_has_not_heard_of_is_not_found(
    alone_bus: Bus, api: ComplaintsApi
) -> None:
    order = OrderFacts()
    reply = await rejection(alone_bus, open_complaint(order.customer, order.order_id))
    assert reply["reason_code"] == "not_found"
    missing = await rejection(alone_bus, k.StartReview(actor=STAFF, complaint_id=uuid4()))
    assert missing["reason_code"] == "not_found"


async def test_the_same_command_delivered_twice_opens_one_complaint(
    alone_bus: Bus, api: ComplaintsApi
) -> None:
    bus = alone_bus
    order = await delivered(bus, api)
    command = open_complaint(order.customer, order.order_id, complaint_type=T.WRONG_ITEM)
    message_id = str(uuid4())
    first = await bus.request(command, message_id=message_id)
    second = await bus.request(command, message_id=message_id)
    assert first == second  # the stored outcome, sent again
    await bus.wait_for(
        "complaints.complaint.opened", lambda e: e.json["order_id"] == str(order.order_id)
    )
    await fence_commands(bus)  # the duplicate, handled before it, published nothing
    opened_events = bus.seen(
        "complaints.complaint.opened", lambda e: e.json["order_id"] == str(order.order_id)
    )
    assert len(opened_events) == 1
    page = (await api.get(f"/complaints?order_id={order.order_id}")).json()
    assert page["total"] == 1


async def test_the_migrations_build_the_schema_the_code_uses(
    own_infra: Infra, complaints_alone: ServiceProcess
) -> None:
    """The service migrated its database on start; nothing differs from ``storage.metadata``."""
    differences = await schema_differences(own_infra, "complaints", metadata)
    assert differences == []
