"""One function per message the complaints service takes."""

from __future__ import annotations

from azl_contracts import fees, orders
from azl_kit.handlers import Handlers

from .storage import ComplaintsUnitOfWork


def _items(goods: orders.Goods) -> list[dict[str, object]]:
    return [item.model_dump(mode="json") for item in goods.items]


async def order_placed(event: orders.OrderPlaced, uow: ComplaintsUnitOfWork) -> None:
    await uow.record_items(
        event.order_id,
        event.customer_id,
        event.order_code,
        _items(event.goods),
        event.order_version,
    )
    await uow.record_status(
        event.order_id, event.customer_id, event.order_code, event.status.value, event.order_version
    )


async def status_changed(event: orders.OrderStatusChanged, uow: ComplaintsUnitOfWork) -> None:
    await uow.record_status(
        event.order_id,
        event.customer_id,
        event.order_code,
        event.to_status.value,
        event.order_version,
    )


async def goods_changed(
    event: orders.QuantitiesIncreased | orders.ItemsConfirmed | orders.ItemsDeclined,
    uow: ComplaintsUnitOfWork,
) -> None:
    await uow.record_items(
        event.order_id,
        event.customer_id,
        event.order_code,
        _items(event.goods),
        event.order_version,
    )


async def ledger_updated(event: fees.LedgerUpdated, uow: ComplaintsUnitOfWork) -> None:
    """What the customer paid and what was refunded bounds a complaint's amount."""
    await uow.record_ledger(
        event.order_id,
        event.customer_id,
        event.payments_total_vnd,
        event.refunds_total_vnd,
        event.ledger_version,
    )


def build_handlers() -> Handlers[ComplaintsUnitOfWork]:
    handlers: Handlers[ComplaintsUnitOfWork] = Handlers()
    handlers.add(orders.OrderPlaced, order_placed)
    handlers.add(orders.OrderStatusChanged, status_changed)
    handlers.add(orders.QuantitiesIncreased, goods_changed)
    handlers.add(orders.ItemsConfirmed, goods_changed)
    handlers.add(orders.ItemsDeclined, goods_changed)
    handlers.add(fees.LedgerUpdated, ledger_updated)
    return handlers
