"""One function per message the fees service takes: load the ledger, call the domain, save.

Each runs inside the pipeline's transaction; what the ledger records is published through
the outbox. Events about an order whose ledger does not exist yet (its placement is still on
its way) are retried later.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from uuid import UUID

from azl_contracts import complaints, orders, payments
from azl_contracts import fees as contract
from azl_contracts.money import DEFAULT_DEPOSIT_RATIO
from azl_kit.errors import RetryLater
from azl_kit.handlers import Handlers

from .catalog import Catalog, Catalogs
from .domain import Ledger, goods_of, packages_of
from .ports import UnitOfWork
from .pricing import quote as price_quote


@dataclass(frozen=True)
class Terms:
    """What the handlers apply beyond the unit of work; built once, from the settings."""

    catalogs: Catalogs
    deduct_shipping: bool = False
    deposit_ratio: Decimal = DEFAULT_DEPOSIT_RATIO

    def catalog_of(self, ledger: Ledger) -> Catalog:
        """The catalog the ledger's order was placed under."""
        return self.catalogs.for_version(ledger.catalog_version, order_id=ledger.order_id)


async def _ledger(uow: UnitOfWork, order_id: UUID, terms: Terms) -> Ledger:
    ledger = await uow.ledgers.get(order_id)
    if ledger is None:
        # The order's placement has not reached fees yet (its own queue); try again shortly.
        raise RetryLater(f"no ledger for order {order_id} yet")
    ledger.deducts_shipping = terms.deduct_shipping
    return ledger


async def open_ledger(event: orders.OrderPlaced, uow: UnitOfWork, *, terms: Terms) -> None:
    if await uow.ledgers.get(event.order_id) is not None:
        return
    uow.ledgers.add(
        Ledger.open(
            event.order_id,
            event.customer_id,
            goods_of(event.goods),
            event.services,
            order_version=event.order_version,
            catalog_version=terms.catalogs.current.version,
            deducts_shipping=terms.deduct_shipping,
        )
    )


async def order_deposited(event: orders.OrderDeposited, uow: UnitOfWork, *, terms: Terms) -> None:
    ledger = await _ledger(uow, event.order_id, terms)
    ledger.order_deposited(
        goods_of(event.goods),
        event.services,
        order_version=event.order_version,
        catalog=terms.catalog_of(ledger),
        now=uow.now(),
    )


async def goods_changed(
    event: orders.QuantitiesIncreased | orders.ItemsConfirmed | orders.ItemsDeclined,
    uow: UnitOfWork,
    *,
    terms: Terms,
) -> None:
    ledger = await _ledger(uow, event.order_id, terms)
    ledger.goods_changed(
        goods_of(event.goods),
        order_version=event.order_version,
        catalog=terms.catalog_of(ledger),
        now=uow.now(),
    )


async def services_updated(event: orders.ServicesUpdated, uow: UnitOfWork, *, terms: Terms) -> None:
    ledger = await _ledger(uow, event.order_id, terms)
    ledger.services_updated(
        event.services,
        order_version=event.order_version,
        catalog=terms.catalog_of(ledger),
        now=uow.now(),
    )


async def order_cancelled(event: orders.OrderCancelled, uow: UnitOfWork, *, terms: Terms) -> None:
    ledger = await _ledger(uow, event.order_id, terms)
    ledger.order_cancelled(
        event.cancelled_from,
        order_version=event.order_version,
        catalog=terms.catalog_of(ledger),
        now=uow.now(),
    )


async def order_delivered(event: orders.OrderDelivered, uow: UnitOfWork, *, terms: Terms) -> None:
    ledger = await _ledger(uow, event.order_id, terms)
    ledger.order_delivered(
        packages_of(event.packages),
        event.services,
        order_version=event.order_version,
        catalog=terms.catalog_of(ledger),
        now=uow.now(),
    )


async def record_deposit(event: payments.DepositReceived, uow: UnitOfWork, *, terms: Terms) -> None:
    ledger = await _ledger(uow, event.order_id, terms)
    ledger.record_payment(event.payment_id, event.amount_vnd, "deposit", uow.now())


async def record_payment(event: payments.PaymentReceived, uow: UnitOfWork, *, terms: Terms) -> None:
    ledger = await _ledger(uow, event.order_id, terms)
    ledger.record_payment(
        event.payment_id, event.amount_vnd, f"payment ({event.method.value})", uow.now()
    )


async def record_payout(event: payments.RefundPaid, uow: UnitOfWork, *, terms: Terms) -> None:
    ledger = await _ledger(uow, event.order_id, terms)
    ledger.record_payout(event.refund_id, event.amount_vnd, "refund paid out", uow.now())


async def record_refund(event: complaints.RefundApproved, uow: UnitOfWork, *, terms: Terms) -> None:
    ledger = await _ledger(uow, event.order_id, terms)
    ledger.record_refund(event.complaint_id, event.amount_vnd, now=uow.now())


async def quote(request: contract.QuoteRequest, *, terms: Terms) -> contract.Quote:
    """``fees.quote``: the price of a prospective order with the catalog in force."""
    return price_quote(request, terms.catalogs.current, terms.deposit_ratio)


def build_handlers(
    catalogs: Catalogs,
    *,
    deduct_shipping: bool,
    deposit_ratio: Decimal = DEFAULT_DEPOSIT_RATIO,
) -> Handlers[UnitOfWork]:
    terms = Terms(catalogs, deduct_shipping, deposit_ratio)
    handlers: Handlers[UnitOfWork] = Handlers()
    for message, handler in (
        (orders.OrderPlaced, open_ledger),
        (orders.OrderDeposited, order_deposited),
        (orders.QuantitiesIncreased, goods_changed),
        (orders.ItemsConfirmed, goods_changed),
        (orders.ItemsDeclined, goods_changed),
        (orders.ServicesUpdated, services_updated),
        (orders.OrderCancelled, order_cancelled),
        (orders.OrderDelivered, order_delivered),
        (payments.DepositReceived, record_deposit),
        (payments.PaymentReceived, record_payment),
        (payments.RefundPaid, record_payout),
        (complaints.RefundApproved, record_refund),
        (contract.QuoteRequest, quote),
    ):
        handlers.add(message, partial(handler, terms=terms))
    return handlers
