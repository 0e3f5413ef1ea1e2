"""One function per message the complaints service takes: load, call the domain, save.

Each runs inside the pipeline's transaction; what a complaint records is published through
the outbox; a ``DomainError`` rolls everything back and becomes the command's rejection.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from functools import partial
from uuid import UUID, uuid4

from azl_contracts import complaints as commands
from azl_contracts import fees, orders
from azl_contracts.common import OrderStatus, ServiceCode
from azl_kit.errors import Duplicate, NotFound
from azl_kit.handlers import Handlers
from azl_kit.waiting import Waits

from .domain import Complaint, OrderFacts, Policy
from .ports import Ledger, UnitOfWork


async def _complaint(uow: UnitOfWork, complaint_id: UUID) -> Complaint:
    complaint = await uow.complaints.get(complaint_id)
    if complaint is None:
        raise NotFound(f"complaint {complaint_id} does not exist", complaint_id=str(complaint_id))
    return complaint


NO_WAIT = Waits(0)


async def _order(uow: UnitOfWork, order_id: UUID, waits: Waits = NO_WAIT) -> OrderFacts:
    """The order, locked until the command's transaction ends. A command sent right after
    the order was placed may overtake its events (another queue): it waits for them
    (``azl_kit.waiting``) before it is refused ``not_found``."""
    order = await uow.order_facts(order_id, lock=True)
    if order is None:
        waits.until(
            uow.flow.causation_id,
            NotFound(f"order {order_id} does not exist", order_id=str(order_id)),
        )
    waits.done(uow.flow.causation_id)
    assert order is not None
    return order


# --- commands --------------------------------------------------------------------------


async def open_complaint(
    command: commands.OpenComplaint, uow: UnitOfWork, *, policy: Policy, waits: Waits
) -> commands.OpenComplaintResult:
    complaint_id = command.complaint_id or uuid4()
    if await uow.complaints.exists(complaint_id):
        raise Duplicate(f"complaint {complaint_id} already exists", complaint_id=str(complaint_id))
    order = await _order(uow, command.order_id, waits)
    complaint = Complaint.open(
        command,
        complaint_id=complaint_id,
        order=order,
        active_on_order=await uow.complaints.active_on_order(order.order_id),
        policy=policy,
        now=uow.now(),
    )
    uow.complaints.add(complaint)
    return commands.OpenComplaintResult(complaint_id=complaint_id)


async def start_review(command: commands.StartReview, uow: UnitOfWork) -> None:
    complaint = await _complaint(uow, command.complaint_id)
    complaint.start_review(command.actor, uow.now())


async def request_info(command: commands.RequestInfo, uow: UnitOfWork) -> None:
    complaint = await _complaint(uow, command.complaint_id)
    complaint.request_info(command.actor, command.message, uuid4(), uow.now())


async def provide_info(command: commands.ProvideInfo, uow: UnitOfWork, *, policy: Policy) -> None:
    complaint = await _complaint(uow, command.complaint_id)
    complaint.provide_info(
        command.actor, command.message, command.attachments, policy, uuid4(), uow.now()
    )


async def add_comment(command: commands.AddComment, uow: UnitOfWork) -> None:
    complaint = await _complaint(uow, command.complaint_id)
    complaint.add_comment(command.actor, command.body, uuid4(), uow.now())


async def resolve(command: commands.ResolveComplaint, uow: UnitOfWork, *, policy: Policy) -> None:
    """The refund limit spans the order's complaints, so the order is locked; a resolution
    that lands meanwhile (another staff member's) makes this one run again and find the
    complaint resolved — one resolution, never two."""
    complaint = await _complaint(uow, command.complaint_id)
    order = await _order(uow, complaint.order_id)
    await uow.complaints.ensure_current(complaint)
    complaint.resolve(
        command.actor,
        command.resolution,
        command.amount_vnd,
        command.note,
        order=order,
        policy=policy.for_order(order),
        now=uow.now(),
    )


async def withdraw(command: commands.WithdrawComplaint, uow: UnitOfWork) -> None:
    complaint = await _complaint(uow, command.complaint_id)
    complaint.withdraw(command.actor, command.reason, uow.now())


# --- the order projection ---------------------------------------------------------------


def _items(goods: orders.Goods) -> list[dict[str, object]]:
    return [item.model_dump(mode="json") for item in goods.items]


async def order_placed(event: orders.OrderPlaced, uow: UnitOfWork) -> None:
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


async def status_changed(event: orders.OrderStatusChanged, uow: UnitOfWork) -> None:
    """Keep the order's status. On completion, complaints this service accepted after the
    order was completed (it learned of the completion late: the event came in on another
    queue than the command) were opened when the window was already closed; they are
    rejected as ``complaint_window_closed``."""
    completed = event.to_status is OrderStatus.COMPLETED
    await uow.record_status(
        event.order_id,
        event.customer_id,
        event.order_code,
        event.to_status.value,
        event.order_version,
        completed_at=event.occurred_at if completed else None,
    )
    if not completed:
        return
    await uow.order_facts(event.order_id, lock=True)
    for complaint in await uow.complaints.active_opened_after(event.order_id, event.occurred_at):
        complaint.close_if_opened_after(event.occurred_at, uow.now())


async def goods_changed(
    event: orders.QuantitiesIncreased | orders.ItemsConfirmed | orders.ItemsDeclined,
    uow: UnitOfWork,
) -> None:
    await uow.record_items(
        event.order_id,
        event.customer_id,
        event.order_code,
        _items(event.goods),
        event.order_version,
    )


async def ledger_updated(event: fees.LedgerUpdated, uow: UnitOfWork) -> None:
    """What the customer paid and what was refunded bound a complaint's amount; whether the
    ledger deducts shipping from refunds (fees' setting, stated here), the charged
    international shipping and what was already deducted tell what a refund will pay."""
    shipping: Counter[str] = Counter()
    refunds: dict[str, str] = {}
    for entry in event.entries:
        if entry.fee_code is ServiceCode.INTERNATIONAL_SHIPPING:
            if entry.kind is fees.LedgerEntryKind.CHARGE:
                shipping["charged"] += int(entry.amount_vnd)
            elif entry.kind is fees.LedgerEntryKind.VOID:
                shipping["charged"] -= int(entry.amount_vnd)
        if entry.kind is fees.LedgerEntryKind.REFUND and entry.reference:
            refunds[entry.reference] = str(entry.amount_vnd)
    await uow.record_ledger(
        event.order_id,
        event.customer_id,
        Ledger(
            # money paid out to the customer (payouts) is no longer paid; complaint refunds
            # are counted as refunds made
            paid=event.payments_total_vnd - event.payouts_total_vnd,
            refunded=event.refunds_total_vnd,
            shipping_charged=Decimal(max(0, shipping["charged"])),
            shipping_deducted=event.shipping_deducted_vnd,
            deducts_shipping=bool(event.deducts_shipping_from_refunds),
            refunds=refunds,
            version=event.ledger_version,
        ),
    )


def build_handlers(
    policy: Policy | None = None, waits: Waits | None = None
) -> Handlers[UnitOfWork]:
    policy = policy or Policy()
    waits = waits or Waits()
    handlers: Handlers[UnitOfWork] = Handlers()
    handlers.add(commands.OpenComplaint, partial(open_complaint, policy=policy, waits=waits))
    handlers.add(commands.StartReview, start_review)
    handlers.add(commands.RequestInfo, request_info)
    handlers.add(commands.ProvideInfo, partial(provide_info, policy=policy))
    handlers.add(commands.AddComment, add_comment)
    handlers.add(commands.ResolveComplaint, partial(resolve, policy=policy))
    handlers.add(commands.WithdrawComplaint, withdraw)
    handlers.add(orders.OrderPlaced, order_placed)
    handlers.add(orders.OrderStatusChanged, status_changed)
    handlers.add(orders.QuantitiesIncreased, goods_changed)
    handlers.add(orders.ItemsConfirmed, goods_changed)
    handlers.add(orders.ItemsDeclined, goods_changed)
    handlers.add(fees.LedgerUpdated, ledger_updated)
    return handlers
