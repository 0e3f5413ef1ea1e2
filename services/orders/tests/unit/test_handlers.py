"""The orders service handles every orders command and every event its queues bind."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from azl_testing.fakes import handle

from azl_contracts import ReasonCode, payments
from azl_contracts import complaints as c
from azl_contracts import fees as fee_events
from azl_contracts import orders as commands
from azl_contracts.common import OrderStatus
from azl_kit.errors import DomainError, Duplicate, NotFound
from azl_kit.handlers import Handlers
from azl_kit.outcomes import Rejection
from orders import ports
from orders.domain import Order
from orders.handlers import build_handlers, new_order_code

from .conftest import CUSTOMER, NOW, OTHER_CUSTOMER, STAFF, item, place_command
from .fakes import FakeUnitOfWork


def test_every_command_and_bound_event_has_a_handler() -> None:
    assert build_handlers(deposit_ratio=Decimal("0.7")).uncovered("orders") == []


def test_an_order_code_is_az_and_eight_digits() -> None:
    codes = [new_order_code() for _ in range(1000)]
    assert all(re.fullmatch(r"AZ[0-9]{8}", code) for code in codes), codes
    assert any(code.startswith("AZ0") for code in codes)  # leading zeros are kept


# --- the handlers' rules, on in-memory fakes (no broker, no database) ----------------------


@pytest.fixture
def handlers() -> Handlers[ports.UnitOfWork]:
    return build_handlers(deposit_ratio=Decimal("0.5"))


async def placed(handlers: Handlers[ports.UnitOfWork], uow: FakeUnitOfWork) -> Order:
    result = await handle(handlers, place_command(items=[item("100.00", 2)]), uow)
    assert isinstance(result, commands.PlaceOrderResult)
    uow.commit()
    return uow.orders.committed[result.order_id]


def deposit(order: Order, amount: Decimal, payment_id: str = "dep-1") -> payments.DepositReceived:
    return payments.DepositReceived(
        occurred_at=NOW, order_id=order.order_id, amount_vnd=amount, payment_id=payment_id
    )


def reason(error: pytest.ExceptionInfo[DomainError]) -> ReasonCode:
    return Rejection.of(error.value).reason_code


async def test_an_order_is_placed_with_the_deposit_ratio_the_service_was_built_with(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    result = await handle(handlers, place_command(items=[item("100.00", 2)]), uow)
    assert isinstance(result, commands.PlaceOrderResult)
    assert re.fullmatch(r"AZ[0-9]{8}", result.order_code)
    events = uow.commit()
    assert [type(e) for e in events] == [commands.OrderPlaced, commands.OrderStatusChanged]
    placed_event = events[0]
    assert isinstance(placed_event, commands.OrderPlaced)
    assert placed_event.order_id == result.order_id
    assert placed_event.required_deposit_vnd == 350_000  # half of 2 × 100 CNY × 3,500


async def test_an_order_id_given_twice_is_a_duplicate(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    order = await placed(handlers, uow)
    with pytest.raises(Duplicate) as again:
        await handle(handlers, place_command(order_id=str(order.order_id)), uow)
    assert reason(again) is ReasonCode.DUPLICATE
    assert uow.commit() == []


async def test_a_command_on_an_order_that_does_not_exist_is_not_found(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(NotFound) as missing:
        await handle(handlers, commands.CancelOrder(actor=CUSTOMER, order_id=uuid4()), uow)
    assert reason(missing) is ReasonCode.NOT_FOUND


async def test_a_customer_cannot_cancel_another_customers_order(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    order = await placed(handlers, uow)
    cancel = commands.CancelOrder(actor=OTHER_CUSTOMER, order_id=order.order_id)
    with pytest.raises(DomainError) as forbidden:
        await handle(handlers, cancel, uow)
    assert reason(forbidden) is ReasonCode.FORBIDDEN


async def test_the_deposit_deposits_the_order_once_however_often_it_is_reported(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    order = await placed(handlers, uow)
    await handle(handlers, deposit(order, Decimal(350_000)), uow)
    events = uow.commit()
    assert commands.OrderDeposited in [type(e) for e in events]
    assert uow.orders.committed[order.order_id].status is OrderStatus.DEPOSITED
    await handle(handlers, deposit(order, Decimal(350_000)), uow)
    assert uow.commit() == []
    assert uow.orders.committed[order.order_id].deposit_paid_vnd == 350_000


async def test_a_deposit_for_a_cancelled_order_is_refused_for_an_operator(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    order = await placed(handlers, uow)
    await handle(handlers, commands.CancelOrder(actor=CUSTOMER, order_id=order.order_id), uow)
    uow.commit()
    with pytest.raises(DomainError) as refused:
        await handle(handlers, deposit(order, Decimal(350_000)), uow)
    assert reason(refused) is ReasonCode.INVALID_STATE


def ledger(order_id: UUID, version: int, balance: int) -> fee_events.LedgerUpdated:
    return fee_events.LedgerUpdated(
        order_id=order_id,
        customer_id=CUSTOMER.id,
        occurred_at=NOW,
        ledger_version=version,
        goods_total_vnd=Decimal(700_000),
        charges_total_vnd=Decimal(0),
        payments_total_vnd=Decimal(700_000 - balance),
        refunds_total_vnd=Decimal(0),
        balance_due_vnd=Decimal(balance),
        entries=[],
    )


async def test_the_ledger_projection_keeps_the_newest_snapshot(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    order_id = uuid4()
    await handle(handlers, ledger(order_id, 3, 0), uow)
    await handle(handlers, ledger(order_id, 2, 350_000), uow)  # late: changes nothing
    kept = uow.ledgers[order_id]
    assert (kept.ledger_version, kept.balance_due_vnd) == (3, Decimal(0))
    assert kept.snapshot["ledger_version"] == 3
    assert uow.commit() == []  # a projection publishes nothing


async def test_the_complaints_tab_is_the_same_whatever_order_its_events_come_in(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    complaint_id, order_id = uuid4(), uuid4()

    def common(status: c.ComplaintStatus, minutes: int) -> dict[str, Any]:
        return {
            "complaint_id": complaint_id,
            "order_id": order_id,
            "customer_id": CUSTOMER.id,
            "status": status,
            "actor": STAFF,
            "occurred_at": NOW + timedelta(minutes=minutes),
        }

    opened = c.ComplaintOpened(
        **common(c.ComplaintStatus.OPEN, 0),
        type=c.ComplaintType.DAMAGED,
        item_ids=[],
        description="Hộp bị móp",
        attachments=[],
    )
    review = c.ComplaintReviewStarted(**common(c.ComplaintStatus.IN_REVIEW, 1))
    views = []
    for events in ([opened, review], [review, opened, review]):
        uow = FakeUnitOfWork()
        for event in events:
            await handle(handlers, event, uow)
        customer_id, view = uow.complaints[complaint_id]
        assert customer_id == CUSTOMER.id
        views.append(view)
    assert views[0] == views[1]
    assert views[0]["status"] == "in_review"
    assert [s["step"] for s in views[0]["steps"]] == ["opened", "review-started"]
