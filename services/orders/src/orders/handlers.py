"""One function per message the orders service takes: load, call the domain, save.

Each runs inside the pipeline's transaction; what the order records is published through
the outbox; a ``DomainError`` rolls everything back and becomes the command's rejection.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from functools import partial
from uuid import UUID, uuid4

from azl_contracts import complaints as complaint_events
from azl_contracts import fees as fee_events
from azl_contracts import orders as commands
from azl_contracts import payments
from azl_kit.errors import Duplicate, NotFound
from azl_kit.handlers import Handlers

from .domain import Order
from .ports import UnitOfWork
from .projections import apply_complaint_event


def new_order_code() -> str:
    """``AZ`` + 8 digits; a collision fails the unique index and the handler runs again."""
    return f"AZ{secrets.randbelow(10**8):08d}"


async def _order(uow: UnitOfWork, order_id: UUID) -> Order:
    order = await uow.orders.get(order_id)
    if order is None:
        raise NotFound(f"order {order_id} does not exist", order_id=str(order_id))
    return order


async def place_order(
    command: commands.PlaceOrder, uow: UnitOfWork, *, deposit_ratio: Decimal
) -> commands.PlaceOrderResult:
    order_id = command.order_id or uuid4()
    if await uow.orders.exists(order_id):
        raise Duplicate(f"order {order_id} already exists", order_id=str(order_id))
    order = Order.place(
        command,
        order_id=order_id,
        code=new_order_code(),
        now=uow.now(),
        deposit_ratio=deposit_ratio,
    )
    uow.orders.add(order)
    return commands.PlaceOrderResult(order_id=order.order_id, order_code=order.code)


async def record_deposit(event: payments.DepositReceived, uow: UnitOfWork) -> None:
    order = await _order(uow, event.order_id)
    order.record_deposit(event.payment_id, event.amount_vnd, uow.now())


async def record_payment(event: payments.PaymentReceived, uow: UnitOfWork) -> None:
    order = await _order(uow, event.order_id)
    order.record_payment(event.payment_id, event.amount_vnd, event.method, uow.now())


async def cancel_order(command: commands.CancelOrder, uow: UnitOfWork) -> None:
    order = await _order(uow, command.order_id)
    order.cancel(command.actor, command.reason, uow.now())


async def approve_cancellation(command: commands.ApproveCancellation, uow: UnitOfWork) -> None:
    order = await _order(uow, command.order_id)
    order.approve_cancellation(command.actor, command.reason, uow.now())


async def reject_cancellation(command: commands.RejectCancellation, uow: UnitOfWork) -> None:
    order = await _order(uow, command.order_id)
    order.reject_cancellation(command.actor, command.reason, uow.now())


async def increase_quantities(command: commands.IncreaseQuantities, uow: UnitOfWork) -> None:
    order = await _order(uow, command.order_id)
    order.increase_quantities(command.actor, command.items, uow.now())


async def start_purchasing(command: commands.StartPurchasing, uow: UnitOfWork) -> None:
    order = await _order(uow, command.order_id)
    order.start_purchasing(command.actor, uow.now())


async def report_item_change(command: commands.ReportItemChange, uow: UnitOfWork) -> None:
    order = await _order(uow, command.order_id)
    order.report_item_change(command.actor, command.changes, uow.now())


async def confirm_items(command: commands.ConfirmItems, uow: UnitOfWork) -> None:
    order = await _order(uow, command.order_id)
    order.confirm_items(command.actor, command.item_ids, uow.now())


async def decline_items(command: commands.DeclineItems, uow: UnitOfWork) -> None:
    order = await _order(uow, command.order_id)
    order.decline_items(command.actor, command.item_ids, uow.now())


async def mark_items_ordered(command: commands.MarkItemsOrdered, uow: UnitOfWork) -> None:
    order = await _order(uow, command.order_id)
    order.mark_items_ordered(command.actor, command.item_ids, uow.now())


async def update_services(command: commands.UpdateServices, uow: UnitOfWork) -> None:
    order = await _order(uow, command.order_id)
    order.update_services(command.actor, command.services, uow.now())


async def update_delivery_address(command: commands.UpdateDeliveryAddress, uow: UnitOfWork) -> None:
    order = await _order(uow, command.order_id)
    order.update_delivery_address(command.actor, command.delivery_address, uow.now())


async def record_package(command: commands.RecordPackage, uow: UnitOfWork) -> None:
    order = await _order(uow, command.order_id)
    order.record_package(command.package, uow.now())


async def advance_shipping(command: commands.AdvanceShipping, uow: UnitOfWork) -> None:
    order = await _order(uow, command.order_id)
    order.advance_shipping(command.actor, command.to_status, uow.now())


async def confirm_received(command: commands.ConfirmReceived, uow: UnitOfWork) -> None:
    order = await _order(uow, command.order_id)
    order.confirm_received(command.actor, uow.now())


# --- projections for the read API ------------------------------------------------------


async def project_ledger(event: fee_events.LedgerUpdated, uow: UnitOfWork) -> None:
    """The transactions tab and the payment status come from the fees ledger's newest
    snapshot, kept beside the order (see ``domain.payment_status``)."""
    await uow.save_ledger(
        event.order_id,
        event.ledger_version,
        event.balance_due_vnd,
        event.model_dump(mode="json"),
    )


async def project_complaint(event: complaint_events.ComplaintEvent, uow: UnitOfWork) -> None:
    """The complaints tab: what each complaint is about, its steps and its latest status."""
    view = await uow.complaint_view(event.complaint_id)
    await uow.save_complaint(
        event.complaint_id,
        event.customer_id,
        apply_complaint_event(view, event),
        new=view is None,
    )


def build_handlers(*, deposit_ratio: Decimal) -> Handlers[UnitOfWork]:
    handlers: Handlers[UnitOfWork] = Handlers()
    handlers.add(commands.PlaceOrder, partial(place_order, deposit_ratio=deposit_ratio))
    handlers.add(commands.CancelOrder, cancel_order)
    handlers.add(commands.ApproveCancellation, approve_cancellation)
    handlers.add(commands.RejectCancellation, reject_cancellation)
    handlers.add(commands.IncreaseQuantities, increase_quantities)
    handlers.add(commands.StartPurchasing, start_purchasing)
    handlers.add(commands.ReportItemChange, report_item_change)
    handlers.add(commands.ConfirmItems, confirm_items)
    handlers.add(commands.DeclineItems, decline_items)
    handlers.add(commands.MarkItemsOrdered, mark_items_ordered)
    handlers.add(commands.UpdateServices, update_services)
    handlers.add(commands.UpdateDeliveryAddress, update_delivery_address)
    handlers.add(commands.RecordPackage, record_package)
    handlers.add(commands.AdvanceShipping, advance_shipping)
    handlers.add(commands.ConfirmReceived, confirm_received)
    handlers.add(payments.DepositReceived, record_deposit)
    handlers.add(payments.PaymentReceived, record_payment)
    handlers.add(fee_events.LedgerUpdated, project_ledger)
    for event in (
        complaint_events.ComplaintOpened,
        complaint_events.ComplaintReviewStarted,
        complaint_events.ComplaintInfoRequested,
        complaint_events.ComplaintInfoProvided,
        complaint_events.ComplaintCommentAdded,
        complaint_events.ComplaintResolved,
        complaint_events.ComplaintWithdrawn,
    ):
        handlers.add(event, project_complaint)
    return handlers
