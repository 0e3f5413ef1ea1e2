"""One function per message the fees service takes."""

from __future__ import annotations

from functools import partial
from uuid import UUID

from azl_contracts import orders, payments
from azl_kit.errors import RetryLater
from azl_kit.handlers import Handlers

from .catalog import Catalog
from .domain import Ledger
from .storage import FeesUnitOfWork


async def _ledger(uow: FeesUnitOfWork, order_id: UUID) -> Ledger:
    ledger = await uow.ledgers.get(order_id)
    if ledger is None:
        # The order's placement has not reached fees yet (its own queue); try again shortly.
        raise RetryLater(f"no ledger for order {order_id} yet")
    return ledger


async def open_ledger(event: orders.OrderPlaced, uow: FeesUnitOfWork) -> None:
    if await uow.ledgers.get(event.order_id) is not None:
        return
    uow.ledgers.add(
        Ledger.open(event.order_id, event.customer_id, event.goods.goods_total_vnd, event.services)
    )


async def charge_at_deposit(
    event: orders.OrderDeposited, uow: FeesUnitOfWork, *, catalog: Catalog
) -> None:
    ledger = await _ledger(uow, event.order_id)
    ledger.charge_at_deposit(catalog, uow.now())


async def record_deposit(event: payments.DepositReceived, uow: FeesUnitOfWork) -> None:
    ledger = await _ledger(uow, event.order_id)
    ledger.record_payment(event.payment_id, event.amount_vnd, "deposit", uow.now())


async def record_payment(event: payments.PaymentReceived, uow: FeesUnitOfWork) -> None:
    ledger = await _ledger(uow, event.order_id)
    ledger.record_payment(
        event.payment_id, event.amount_vnd, f"payment ({event.method.value})", uow.now()
    )


def build_handlers(catalog: Catalog) -> Handlers[FeesUnitOfWork]:
    handlers: Handlers[FeesUnitOfWork] = Handlers()
    handlers.add(orders.OrderPlaced, open_ledger)
    handlers.add(orders.OrderDeposited, partial(charge_at_deposit, catalog=catalog))
    handlers.add(payments.DepositReceived, record_deposit)
    handlers.add(payments.PaymentReceived, record_payment)
    return handlers
