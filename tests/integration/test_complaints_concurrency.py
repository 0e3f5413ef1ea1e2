"""Two complaints instances on the same queues and database (competing consumers): commands
about one complaint or one order are handled at the same time, and the optimistic version
check (with the lock on the order's projection row for refunds) lets exactly one through."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest
import pytest_asyncio
from azl_testing import builders, flows
from azl_testing.bus import Bus
from azl_testing.complaints import (
    ComplaintsApi,
    fence_commands,
    of_complaint,
    open_complaint,
    opened,
    resolve,
    wait_for_complaint,
)
from azl_testing.ledger import fence_fees, ledger_when
from azl_testing.processes import ServiceProcess

from azl_contracts import Actor, ActorRole
from azl_contracts import complaints as k
from azl_contracts.common import OrderStatus
from azl_contracts.complaints import ComplaintType, Resolution

from .conftest import Platform

S = OrderStatus
T = ComplaintType
STAFF = builders.STAFF
OTHER_STAFF = Actor(id="staff-2", role=ActorRole.STAFF)
PAID = 245_000  # the deposit of drive_to's 350,000 VND order


@pytest.fixture(scope="module")
def second_complaints(platform: Platform, log_dir: Path) -> Iterator[ServiceProcess]:
    """A second complaints process; a small pool, as the PostgreSQL server is shared."""
    process = ServiceProcess(
        "complaints",
        platform.services["complaints"].infra,
        log_dir,
        extra_env={"AZL_DB_POOL_SIZE": "2", "AZL_DB_MAX_OVERFLOW": "1"},
    ).start()
    try:
        process.wait_ready()
        yield process
    finally:
        assert process.stop() == 0, process.log_tail()


@pytest_asyncio.fixture
async def api(platform: Platform) -> AsyncIterator[ComplaintsApi]:
    async with platform.http("complaints") as http:
        yield ComplaintsApi(http)


async def conflicts(*processes: ServiceProcess) -> int:
    """Version conflicts retried on the complaints command queue, over the instances."""
    total = 0
    for process in processes:
        async with httpx.AsyncClient(base_url=process.base_url) as http:
            text = (await http.get("/metrics")).text
        pattern = (
            r'azl_message_retries_total\{kind="conflict",queue="[^"]*complaints.commands"\} (\S+)'
        )
        total += sum(int(float(v)) for v in re.findall(pattern, text))
    return total


async def in_review(
    bus: Bus, api: ComplaintsApi, count: int
) -> tuple[flows.PlacedOrder, list[UUID]]:
    order = await flows.drive_to(bus, S.DELIVERED)
    await api.order_known(order.order_id, "delivered", paid=PAID)
    kinds = [T.DAMAGED, T.LATE_DELIVERY, T.OTHER, T.NOT_AS_DESCRIBED][:count]
    cids: list[UUID] = []
    for kind in kinds:
        cid = await opened(bus, open_complaint(order.customer, order.order_id, complaint_type=kind))
        await flows.accepted(bus, k.StartReview(actor=STAFF, complaint_id=cid))
        cids.append(cid)
    return order, cids


async def test_two_staff_members_resolving_the_same_complaint_give_one_resolution(
    bus: Bus, api: ComplaintsApi, platform: Platform, second_complaints: ServiceProcess
) -> None:
    before = await conflicts(platform.services["complaints"], second_complaints)
    _, cids = await in_review(bus, api, 4)
    replies = await asyncio.gather(
        *(
            bus.request(resolve(cid, resolution, actor=actor, note=actor.id))
            for cid in cids
            for actor, resolution in ((STAFF, Resolution.RESHIP), (OTHER_STAFF, Resolution.REJECT))
        )
    )
    for index, cid in enumerate(cids):
        pair = replies[2 * index : 2 * index + 2]
        assert sorted(r["status"] for r in pair) == ["accepted", "rejected"], pair
        refused = next(r for r in pair if r["status"] == "rejected")
        winner = next(r for r in pair if r["status"] == "accepted")
        assert refused["reason_code"] == "invalid_state"
        assert refused["details"]["status"] in ("resolved", "rejected")
        events = await wait_for_complaint(bus, "complaints.complaint.resolved", cid)
        view = await api.complaint(cid)
        resolutions = [h for h in view["history"] if h["event"] == "resolved"]
        assert len(resolutions) == 1
        assert view["resolution_note"] == resolutions[0]["actor"]["id"]
        assert events[0].causation_id == winner["command_id"]
    await fence_commands(bus)
    for cid in cids:
        assert len(of_complaint(bus, "complaints.complaint.resolved", cid)) == 1
    after = await conflicts(platform.services["complaints"], second_complaints)
    print(f"\nversion conflicts retried while resolving {len(cids)} pairs: {after - before}")
    # the race really happened: a resolution found the complaint changed under it and ran again
    assert after - before >= 1


async def test_refunds_resolved_at_once_never_exceed_what_was_paid(
    bus: Bus, api: ComplaintsApi, second_complaints: ServiceProcess
) -> None:
    """Three complaints of one order, each refunded 150,000 by two staff members at once:
    any two together would exceed the 245,000 paid, so exactly one refund is approved."""
    order, cids = await in_review(bus, api, 3)
    replies = await asyncio.gather(
        *(
            bus.request(resolve(cid, Resolution.REFUND, 150_000, actor=actor))
            for cid in cids
            for actor in (STAFF, OTHER_STAFF)
        )
    )
    accepted = [i for i, r in enumerate(replies) if r["status"] == "accepted"]
    assert len(accepted) == 1, replies
    twin = accepted[0] ^ 1  # the other staff member's resolution of the same complaint
    for index, reply in enumerate(replies):
        if index == accepted[0]:
            continue
        expected = "invalid_state" if index == twin else "limit_exceeded"
        assert (reply["status"], reply["reason_code"]) == ("rejected", expected), reply
    refunds = await bus.wait_for(
        "complaints.refund.approved", lambda e: e.json["order_id"] == str(order.order_id)
    )
    await bus.wait_for_order("fees.refund.recorded", order.order_id)
    await fence_commands(bus)  # complaints published every refund it approved
    fence = await flows.place(bus)  # fees opened its ledger after the refunds were sent
    await ledger_when(bus, fence.order_id, lambda led: True)
    await fence_fees(bus, fence.order_id, fence.customer.id)  # and recorded them
    assert (
        len(
            bus.seen(
                "complaints.refund.approved", lambda e: e.json["order_id"] == str(order.order_id)
            )
        )
        == 1
    )
    assert refunds[0].json["amount_vnd"] == "150000"
    assert (
        len(bus.seen("fees.refund.recorded", lambda e: e.json["order_id"] == str(order.order_id)))
        == 1
    )
