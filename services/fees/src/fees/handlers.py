"""One function per message the fees service takes: load the ledger, call the domain, save.

Each runs inside the pipeline's transaction; what the ledger records is published through
the outbox. Events about an order whose ledger does not exist yet (its placement is still on
its way) are retried later.
"""

from __future__ import annotations

from functools import partial
from uuid import UUID

from azl_contracts import complaints, orders, payments
from azl_contracts import fees as contract
from azl_kit.errors import RetryLater
from azl_kit.handlers import Handlers

from .catalog import Catalogs
from .domain import Ledger, goods_of, packages_of
from .ports import UnitOfWork
from .pricing import quote as price_quote


async def _ledger(uow: UnitOfWork, order_id: UUID) -> Ledger:
    ledger = await uow.ledgers.get(order_id)
    if ledger is None:
        # The order's placement has not reached fees yet (its own queue); try again shortly.
        raise RetryLater(f"no ledger for order {order_id} yet")
    return ledger


async def open_ledger(event: orders.OrderPlaced, uow: UnitOfWork, *, catalogs: Catalogs) -> None:
    if await uow.ledgers.get(event.order_id) is not None:
        return
    uow.ledgers.add(
        Ledger.open(
            event.order_id,
            event.customer_id,
            goods_of(event.goods),
            event.services,
            order_version=event.order_version,
            catalog_version=catalogs.current.version,
        )
    )


async def order_deposited(
    event: orders.OrderDeposited, uow: UnitOfWork, *, catalogs: Catalogs
) -> None:
    ledger = await _ledger(uow, event.order_id)
    ledger.order_deposited(
        goods_of(event.goods),
        event.services,
        order_version=event.order_version,
        catalog=catalogs.for_version(ledger.catalog_version, order_id=ledger.order_id),
        now=uow.now(),
    )


async def goods_changed(
    event: orders.QuantitiesIncreased | orders.ItemsConfirmed | orders.ItemsDeclined,
    uow: UnitOfWork,
    *,
    catalogs: Catalogs,
) -> None:
    ledger = await _ledger(uow, event.order_id)
    ledger.goods_changed(
        goods_of(event.goods),
        order_version=event.order_version,
        catalog=catalogs.for_version(ledger.catalog_version, order_id=ledger.order_id),
        now=uow.now(),
    )


async def services_updated(
    event: orders.ServicesUpdated, uow: UnitOfWork, *, catalogs: Catalogs
) -> None:
    ledger = await _ledger(uow, event.order_id)
    ledger.services_updated(
        event.services,
        order_version=event.order_version,
        catalog=catalogs.for_version(ledger.catalog_version, order_id=ledger.order_id),
        now=uow.now(),
    )


async def order_cancelled(
    event: orders.OrderCancelled, uow: UnitOfWork, *, catalogs: Catalogs
) -> None:
    ledger = await _ledger(uow, event.order_id)
    ledger.order_cancelled(
        event.cancelled_from,
        order_version=event.order_version,
        catalog=catalogs.for_version(ledger.catalog_version, order_id=ledger.order_id),
        now=uow.now(),
    )


async def order_delivered(
    event: orders.OrderDelivered, uow: UnitOfWork, *, catalogs: Catalogs
) -> None:
    ledger = await _ledger(uow, event.order_id)
    ledger.order_delivered(
        packages_of(event.packages),
        event.services,
        order_version=event.order_version,
        catalog=catalogs.for_version(ledger.catalog_version, order_id=ledger.order_id),
        now=uow.now(),
    )


async def record_deposit(event: payments.DepositReceived, uow: UnitOfWork) -> None:
    ledger = await _ledger(uow, event.order_id)
    ledger.record_payment(event.payment_id, event.amount_vnd, "deposit", uow.now())


async def record_payment(event: payments.PaymentReceived, uow: UnitOfWork) -> None:
    ledger = await _ledger(uow, event.order_id)
    ledger.record_payment(
        event.payment_id, event.amount_vnd, f"payment ({event.method.value})", uow.now()
    )


async def record_payout(event: payments.RefundPaid, uow: UnitOfWork) -> None:
    ledger = await _ledger(uow, event.order_id)
    ledger.record_payout(event.refund_id, event.amount_vnd, "refund paid out", uow.now())


async def record_refund(
    event: complaints.RefundApproved, uow: UnitOfWork, *, deduct_shipping: bool
) -> None:
    ledger = await _ledger(uow, event.order_id)
    ledger.record_refund(
        event.complaint_id, event.amount_vnd, deduct_shipping=deduct_shipping, now=uow.now()
    )


async def quote(request: contract.QuoteRequest, *, catalogs: Catalogs) -> contract.Quote:
    """``fees.quote``: the price of a prospective order with the catalog in force."""
    return price_quote(request, catalogs.current)


def build_handlers(catalogs: Catalogs, *, deduct_shipping: bool) -> Handlers[UnitOfWork]:
    handlers: Handlers[UnitOfWork] = Handlers()
    handlers.add(orders.OrderPlaced, partial(open_ledger, catalogs=catalogs))
    handlers.add(orders.OrderDeposited, partial(order_deposited, catalogs=catalogs))
    handlers.add(orders.QuantitiesIncreased, partial(goods_changed, catalogs=catalogs))
    handlers.add(orders.ItemsConfirmed, partial(goods_changed, catalogs=catalogs))
    handlers.add(orders.ItemsDeclined, partial(goods_changed, catalogs=catalogs))
    handlers.add(orders.ServicesUpdated, partial(services_updated, catalogs=catalogs))
    handlers.add(orders.OrderCancelled, partial(order_cancelled, catalogs=catalogs))
    handlers.add(orders.OrderDelivered, partial(order_delivered, catalogs=catalogs))
    handlers.add(payments.DepositReceived, record_deposit)
    handlers.add(payments.PaymentReceived, record_payment)
    handlers.add(payments.RefundPaid, record_payout)
    handlers.add(complaints.RefundApproved, partial(record_refund, deduct_shipping=deduct_shipping))
    handlers.add(contract.QuoteRequest, partial(quote, catalogs=catalogs))
    return handlers
