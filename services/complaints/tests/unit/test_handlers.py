"""The complaints service handles every complaints command and every event its queues bind."""

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from azl_testing.builders import ADDRESS
from azl_testing.fakes import handle

from azl_contracts import ReasonCode, fees, orders
from azl_contracts import complaints as k
from azl_contracts.common import (
    Delivery,
    ItemStatus,
    OrderStatus,
    ServiceCode,
    Website,
)
from azl_contracts.complaints import ComplaintStatus, Resolution
from azl_contracts.fees import LedgerEntryKind
from azl_contracts.topology import QUEUES
from azl_kit.errors import (
    ConcurrencyConflict,
    DomainError,
    Duplicate,
    InvalidState,
    LimitExceeded,
    NotFound,
    RetryLater,
)
from azl_kit.handlers import Handlers
from azl_kit.outcomes import Rejection
from azl_kit.waiting import Waits
from complaints import ports
from complaints.domain import Policy
from complaints.handlers import build_handlers
from complaints.settings import ComplaintsSettings

from .conftest import (
    CUSTOMER,
    ITEMS,
    LATER,
    NOW,
    ORDER_ID,
    OTHER_CUSTOMER,
    STAFF,
    facts,
    open_command,
)
from .fakes import FakeUnitOfWork


def test_every_command_and_bound_event_has_a_handler() -> None:
    assert build_handlers().uncovered("complaints") == []


def test_the_order_queue_binds_what_the_projection_needs_and_nothing_more() -> None:
    order_queue = next(q for q in QUEUES["complaints"] if q.name == "complaints.order-events")
    assert set(order_queue.bindings) == {
        "orders.order.placed",
        "orders.order.status-changed",
        "orders.order.quantities-increased",
        "orders.order.items-confirmed",
        "orders.order.items-declined",
    }


def test_the_open_complaint_reply_names_the_complaint() -> None:
    assert k.OpenComplaintResult.message_type() == "complaints.open-complaint.result.v1"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZL_COMPLAINT_ATTACHMENTS_ENABLED", raising=False)
    monkeypatch.delenv("AZL_DEDUCT_SHIPPING_FROM_REFUNDS", raising=False)
    assert ComplaintsSettings().policy.attachments_enabled is True
    assert ComplaintsSettings().policy.deduct_shipping is False
    monkeypatch.setenv("AZL_COMPLAINT_ATTACHMENTS_ENABLED", "false")
    monkeypatch.setenv("AZL_DEDUCT_SHIPPING_FROM_REFUNDS", "true")
    policy = ComplaintsSettings().policy
    assert policy.attachments_enabled is False
    # one setting, the fees ledger's: complaints applies what each order's ledger states
    assert policy.deduct_shipping is False
    assert policy.for_order(replace(facts(), deducts_shipping=True)).deduct_shipping is True


# --- the handlers' rules, on in-memory fakes (no broker, no database) ----------------------


def order_fields(version: int, **fields: Any) -> dict[str, Any]:
    return {
        "order_id": ORDER_ID,
        "order_code": "AZ12345678",
        "customer_id": CUSTOMER.id,
        "order_version": version,
        "occurred_at": NOW,
        **fields,
    }


def placed() -> orders.OrderPlaced:
    items = [
        orders.OrderItem(
            item_id=item_id,
            product_url="https://item.taobao.com/item.htm?id=1",
            title="Áo",
            quantity=1,
            unit_price_cny=Decimal(100),
            status=ItemStatus.PENDING,
        )
        for item_id in ITEMS
    ]
    goods = orders.Goods(
        exchange_rate=Decimal(3500), items=items, goods_total_vnd=Decimal(1_050_000)
    )
    return orders.OrderPlaced(
        **order_fields(1),
        status=OrderStatus.AWAITING_DEPOSIT,
        website=Website.TAOBAO,
        goods=goods,
        services=[],
        delivery=Delivery.of(ADDRESS),
        required_deposit_vnd=Decimal(735_000),
    )


def status(to: OrderStatus, version: int, at: datetime = NOW) -> orders.OrderStatusChanged:
    fields = order_fields(version, occurred_at=at)
    return orders.OrderStatusChanged(**fields, from_status=None, to_status=to, actor=STAFF)


def entry(kind: LedgerEntryKind, amount: int, **fields: Any) -> fees.LedgerEntry:
    return fees.LedgerEntry(
        entry_id=uuid4(),
        kind=kind,
        amount_vnd=Decimal(amount),
        description="…",
        recorded_at=NOW,
        **fields,
    )


def ledger(version: int, entries: list[fees.LedgerEntry], **totals: int) -> fees.LedgerUpdated:
    amounts = {
        "goods_total_vnd": 0,
        "charges_total_vnd": 0,
        "payments_total_vnd": 0,
        "refunds_total_vnd": 0,
        "balance_due_vnd": 0,
        **totals,
    }
    return fees.LedgerUpdated(
        order_id=ORDER_ID,
        customer_id=CUSTOMER.id,
        occurred_at=NOW,
        ledger_version=version,
        entries=entries,
        **{name: Decimal(amount) for name, amount in amounts.items()},
    )


async def delivered_order(
    handlers: Handlers[ports.UnitOfWork], uow: FakeUnitOfWork, paid: int = 1_000_000
) -> None:
    """An order the projection knows as delivered, with what its customer paid."""
    await handle(handlers, placed(), uow)
    await handle(handlers, status(OrderStatus.DELIVERED, 5), uow)
    payment = entry(LedgerEntryKind.PAYMENT, paid, reference="p1")
    await handle(handlers, ledger(1, [payment], payments_total_vnd=paid), uow)
    uow.commit()


async def open_one(
    handlers: Handlers[ports.UnitOfWork], uow: FakeUnitOfWork, **overrides: Any
) -> UUID:
    result = await handle(handlers, open_command(**overrides), uow)
    assert isinstance(result, k.OpenComplaintResult)
    uow.commit()
    return result.complaint_id


async def reviewed(
    handlers: Handlers[ports.UnitOfWork], uow: FakeUnitOfWork, **overrides: Any
) -> UUID:
    complaint_id = await open_one(handlers, uow, **overrides)
    await handle(handlers, k.StartReview(actor=STAFF, complaint_id=complaint_id), uow)
    uow.commit()
    return complaint_id


def refund(complaint_id: UUID, amount: int) -> k.ResolveComplaint:
    return k.ResolveComplaint(
        actor=STAFF, complaint_id=complaint_id, resolution=Resolution.REFUND, amount_vnd=amount
    )


def reason(error: pytest.ExceptionInfo[DomainError]) -> ReasonCode:
    return Rejection.of(error.value).reason_code


@pytest.fixture
def handlers() -> Handlers[ports.UnitOfWork]:
    return build_handlers(Policy(), Waits(0))


async def test_a_complaint_is_opened_on_the_order_locked_and_named_in_the_reply(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    await delivered_order(handlers, uow)
    result = await handle(handlers, open_command(), uow)
    assert uow.locks == [ORDER_ID]
    assert isinstance(result, k.OpenComplaintResult)
    (event,) = uow.commit()
    assert isinstance(event, k.ComplaintOpened)
    assert event.complaint_id == result.complaint_id
    assert uow.complaints.committed[result.complaint_id].status is ComplaintStatus.OPEN


async def test_a_complaint_id_given_twice_is_a_duplicate(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    await delivered_order(handlers, uow)
    complaint_id = uuid4()
    await open_one(handlers, uow, complaint_id=str(complaint_id))
    with pytest.raises(Duplicate) as again:
        await handle(handlers, open_command(complaint_id=str(complaint_id), item_ids=[]), uow)
    assert reason(again) is ReasonCode.DUPLICATE


async def test_a_complaint_on_an_order_not_heard_of_waits_then_is_not_found() -> None:
    moments = iter([0.0, 10.0])
    handlers = build_handlers(Policy(), Waits(5, clock=lambda: next(moments)))
    uow = FakeUnitOfWork()
    with pytest.raises(RetryLater):
        await handle(handlers, open_command(), uow)
    with pytest.raises(NotFound) as unknown:
        await handle(handlers, open_command(), uow)
    assert reason(unknown) is ReasonCode.NOT_FOUND
    assert uow.commit() == []


async def test_no_complaint_once_the_order_is_completed(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    await delivered_order(handlers, uow)
    await handle(handlers, status(OrderStatus.COMPLETED, 6), uow)
    uow.commit()
    with pytest.raises(DomainError) as closed:
        await handle(handlers, open_command(), uow)
    assert reason(closed) is ReasonCode.COMPLAINT_WINDOW_CLOSED


async def test_a_customer_acts_only_on_its_own_complaints(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    await delivered_order(handlers, uow)
    complaint_id = await open_one(handlers, uow)
    comment = k.AddComment(actor=OTHER_CUSTOMER, complaint_id=complaint_id, body="của tôi?")
    with pytest.raises(DomainError) as forbidden:
        await handle(handlers, comment, uow)
    assert reason(forbidden) is ReasonCode.FORBIDDEN
    with pytest.raises(NotFound) as missing:
        await handle(handlers, k.StartReview(actor=STAFF, complaint_id=uuid4()), uow)
    assert reason(missing) is ReasonCode.NOT_FOUND


async def test_resolving_locks_the_order_and_the_refund_limit_spans_its_complaints(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    await delivered_order(handlers, uow, paid=1_000_000)
    first = await reviewed(handlers, uow, item_ids=[str(ITEMS[0])])
    second = await reviewed(handlers, uow, item_ids=[str(ITEMS[1])])
    await handle(handlers, refund(first, 700_000), uow)
    assert uow.locks == [ORDER_ID]
    assert [type(e) for e in uow.commit()] == [k.ComplaintResolved, k.RefundApproved]
    with pytest.raises(LimitExceeded) as over:  # 700,000 approved, not yet in the ledger
        await handle(handlers, refund(second, 300_001), uow)
    assert reason(over) is ReasonCode.LIMIT_EXCEEDED
    assert over.value.details["refundable_vnd"] == "300000"


async def test_a_resolution_landing_while_waiting_for_the_lock_makes_this_one_run_again(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    """One resolution, never two: the loser conflicts, runs again and finds it resolved."""
    uow = FakeUnitOfWork()
    await delivered_order(handlers, uow)
    complaint_id = await reviewed(handlers, uow)

    def another_staff_member_resolves() -> None:
        stored = uow.complaints.committed[complaint_id]
        stored.resolve(
            STAFF, Resolution.REJECT, None, None, order=facts(), policy=Policy(), now=NOW
        )
        stored._changed = False

    uow.while_locking = another_staff_member_resolves
    with pytest.raises(ConcurrencyConflict):
        await handle(handlers, refund(complaint_id, 100_000), uow)
    uow.while_locking = None
    uow.commit()
    with pytest.raises(InvalidState) as again:
        await handle(handlers, refund(complaint_id, 100_000), uow)
    assert reason(again) is ReasonCode.INVALID_STATE


async def test_a_completion_learned_late_rejects_the_complaints_opened_after_it(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork(now=LATER)
    await delivered_order(handlers, uow)
    before = await open_one(handlers, uow, item_ids=[str(ITEMS[0])])
    uow.complaints.committed[before].opened_at = NOW - timedelta(minutes=1)
    after = await open_one(handlers, uow, item_ids=[str(ITEMS[1])])
    await handle(handlers, status(OrderStatus.COMPLETED, 6, at=NOW), uow)
    assert uow.locks == [ORDER_ID]
    (closed,) = uow.commit()
    assert isinstance(closed, k.ComplaintResolved)
    assert closed.complaint_id == after
    assert closed.reason_code is ReasonCode.COMPLAINT_WINDOW_CLOSED
    assert uow.complaints.committed[after].status is ComplaintStatus.REJECTED
    assert uow.complaints.committed[before].status is ComplaintStatus.OPEN


async def test_the_projection_keeps_the_newest_status_and_the_ledgers_money(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    await handle(handlers, placed(), uow)
    await handle(handlers, status(OrderStatus.DELIVERED, 5), uow)
    await handle(handlers, status(OrderStatus.DEPOSITED, 2), uow)  # late: changes nothing
    shipping = {"fee_code": ServiceCode.INTERNATIONAL_SHIPPING}
    entries = [
        entry(LedgerEntryKind.PAYMENT, 1_000_000, reference="p1"),
        entry(LedgerEntryKind.CHARGE, 80_000, **shipping),
        entry(LedgerEntryKind.VOID, 30_000, **shipping),
        entry(LedgerEntryKind.REFUND, 40_000, reference="c-1"),
        entry(LedgerEntryKind.PAYOUT, 100_000, reference="r-1"),
    ]
    await handle(
        handlers,
        ledger(
            3,
            entries,
            payments_total_vnd=1_000_000,
            refunds_total_vnd=40_000,
            payouts_total_vnd=100_000,
            shipping_deducted_vnd=10_000,
        ),
        uow,
    )
    await handle(handlers, ledger(2, [], payments_total_vnd=5), uow)  # an older snapshot
    facts_ = await uow.order_facts(ORDER_ID)
    assert facts_ is not None
    assert facts_.status is OrderStatus.DELIVERED
    assert facts_.item_ids == frozenset(ITEMS)
    assert facts_.paid_vnd == 900_000  # payments minus payouts
    assert facts_.shipping_charged_vnd == 50_000  # charges minus voids
    assert facts_.shipping_deducted_vnd == 10_000
    assert facts_.ledger_refunds == {"c-1": Decimal(40_000)}
    assert uow.commit() == []


@pytest.mark.parametrize("deducts", [False, True])
async def test_a_refund_deducts_shipping_as_the_orders_ledger_says_it_will(
    handlers: Handlers[ports.UnitOfWork], deducts: bool
) -> None:
    """The setting is fees' (AZL_DEDUCT_SHIPPING_FROM_REFUNDS): complaints reads it from the
    ledger's snapshot and expects the payout by the one rule, whatever its own environment."""
    uow = FakeUnitOfWork()
    await handle(handlers, placed(), uow)
    await handle(handlers, status(OrderStatus.DELIVERED, 5), uow)
    entries = [
        entry(LedgerEntryKind.PAYMENT, 1_000_000, reference="p1"),
        entry(LedgerEntryKind.CHARGE, 84_000, fee_code=ServiceCode.INTERNATIONAL_SHIPPING),
    ]
    snapshot = ledger(1, entries, payments_total_vnd=1_000_000, charges_total_vnd=84_000)
    stated = snapshot.model_copy(update={"deducts_shipping_from_refunds": deducts})
    await handle(handlers, stated, uow)
    uow.commit()
    complaint_id = await reviewed(handlers, uow)
    await handle(handlers, refund(complaint_id, 300_000), uow)
    resolved, approved = uow.commit()
    assert isinstance(resolved, k.ComplaintResolved)
    assert isinstance(approved, k.RefundApproved)
    assert approved.amount_vnd == 300_000  # fees deducts it itself, by the same rule
    assert resolved.shipping_deducted_vnd == (84_000 if deducts else None)
    assert resolved.payout_vnd == (216_000 if deducts else 300_000)
