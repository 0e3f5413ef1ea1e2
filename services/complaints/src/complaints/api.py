"""The complaints read API: the list (by order, status, type) and each complaint with its
steps and thread; scoped like orders (a customer sees only its own, anything else is 404)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, and_, func, select

from azl_contracts import Actor, ReasonCode
from azl_contracts.common import OrderStatus
from azl_contracts.complaints import ComplaintStatus, ComplaintType, Resolution
from azl_kit.auth import CurrentPrincipal, Principal
from azl_kit.http import DbConnection, Page

from .domain import Complaint, OrderFacts, ThreadKind
from .storage import (
    complaints_table,
    from_row,
    order_states_table,
    read_order_facts,
)

router = APIRouter(tags=["complaints"])

_c = complaints_table


class ComplaintSummary(BaseModel):
    complaint_id: UUID
    order_id: UUID
    order_code: str
    customer_id: str
    type: ComplaintType
    status: ComplaintStatus
    resolution: Resolution | None
    resolved_amount_vnd: int | None
    opened_at: datetime
    updated_at: datetime


class ComplaintPage(BaseModel):
    items: list[ComplaintSummary]
    page: int
    page_size: int
    total: int
    counts: dict[str, int] = Field(description="Per status under the same filters (tabs).")


class StepView(BaseModel):
    event: str
    from_status: ComplaintStatus | None
    to_status: ComplaintStatus
    actor: Actor
    at: datetime
    note: str | None


class ThreadEntryView(BaseModel):
    entry_id: UUID
    kind: ThreadKind
    actor: Actor
    body: str
    attachments: list[str]
    at: datetime


class RefundView(BaseModel):
    resolved_amount_vnd: int
    shipping_deducted_vnd: int = Field(
        description="International shipping deducted (deduct-shipping setting on)."
    )
    payout_vnd: int = Field(description="What the customer is paid back.")
    recorded_in_ledger: bool = Field(
        description="The fees ledger recorded the refund: the amounts are the ledger's; "
        "until then they are what complaints expects."
    )


class ComplaintView(ComplaintSummary):
    version: int
    item_ids: list[UUID]
    description: str
    attachments: list[str]
    requested_amount_vnd: int | None
    resolution_note: str | None
    closed_reason: ReasonCode | None
    refund: RefundView | None
    history: list[StepView]
    thread: list[ThreadEntryView]


def summary(row: Any) -> ComplaintSummary:
    return ComplaintSummary(
        complaint_id=row.complaint_id,
        order_id=row.order_id,
        order_code=row.order_code,
        customer_id=row.customer_id,
        type=ComplaintType(row.type),
        status=ComplaintStatus(row.status),
        resolution=None if row.resolution is None else Resolution(row.resolution),
        resolved_amount_vnd=None
        if row.resolved_amount_vnd is None
        else int(row.resolved_amount_vnd),
        opened_at=row.opened_at,
        updated_at=row.updated_at,
    )


def complaint_view(complaint: Complaint, order: OrderFacts | None) -> ComplaintView:
    refund = complaint.refund_view(order)
    return ComplaintView(
        complaint_id=complaint.complaint_id,
        order_id=complaint.order_id,
        order_code=complaint.order_code,
        customer_id=complaint.customer_id,
        type=complaint.type,
        status=complaint.status,
        resolution=complaint.resolution,
        resolved_amount_vnd=None
        if complaint.resolved_amount_vnd is None
        else int(complaint.resolved_amount_vnd),
        opened_at=complaint.opened_at,
        updated_at=complaint.updated_at,
        version=complaint.version,
        item_ids=complaint.item_ids,
        description=complaint.description,
        attachments=complaint.attachments,
        requested_amount_vnd=None
        if complaint.requested_amount_vnd is None
        else int(complaint.requested_amount_vnd),
        resolution_note=complaint.resolution_note,
        closed_reason=complaint.closed_reason,
        refund=None if refund is None else RefundView(**refund),
        history=[
            StepView(
                event=s.event,
                from_status=s.from_status,
                to_status=s.to_status,
                actor=s.actor,
                at=s.at,
                note=s.note,
            )
            for s in complaint.history
        ],
        thread=[
            ThreadEntryView(
                entry_id=e.entry_id,
                kind=e.kind,
                actor=e.actor,
                body=e.body,
                attachments=list(e.attachments),
                at=e.at,
            )
            for e in complaint.thread
        ],
    )


def scope(
    principal: Principal,
    order_id: UUID | None,
    status: ComplaintStatus | None,
    complaint_type: ComplaintType | None,
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if principal.is_customer:
        clauses.append(_c.c.customer_id == principal.id)
    if order_id is not None:
        clauses.append(_c.c.order_id == order_id)
    if status is not None:
        clauses.append(_c.c.status == status.value)
    if complaint_type is not None:
        clauses.append(_c.c.type == complaint_type.value)
    return clauses


SUMMARY_COLUMNS = [
    _c.c.complaint_id,
    _c.c.order_id,
    _c.c.order_code,
    _c.c.customer_id,
    _c.c.type,
    _c.c.status,
    _c.c.resolution,
    _c.c.resolved_amount_vnd,
    _c.c.opened_at,
    _c.c.updated_at,
]


@router.get("/complaints", response_model=ComplaintPage)
async def list_complaints(
    principal: CurrentPrincipal,
    conn: DbConnection,
    order_id: UUID | None = None,
    status: ComplaintStatus | None = None,
    complaint_type: Annotated[ComplaintType | None, Query(alias="type")] = None,
    page: Page = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ComplaintPage:
    """Newest update first; ``counts`` are per status under the same filters. A customer
    sees only its own complaints."""
    rows = (
        await conn.execute(
            select(*SUMMARY_COLUMNS)
            .where(and_(True, *scope(principal, order_id, status, complaint_type)))
            .order_by(_c.c.updated_at.desc(), _c.c.complaint_id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    ).all()
    grouped = (
        await conn.execute(
            select(_c.c.status, func.count())
            .where(and_(True, *scope(principal, order_id, None, complaint_type)))
            .group_by(_c.c.status)
        )
    ).all()
    per_status: dict[str, int] = {row[0]: row[1] for row in grouped}
    counts = {
        "all": sum(per_status.values()),
        **{s.value: per_status.get(s.value, 0) for s in ComplaintStatus},
    }
    return ComplaintPage(
        items=[summary(r) for r in rows],
        page=page,
        page_size=page_size,
        total=counts["all"] if status is None else counts[status.value],
        counts=counts,
    )


@router.get("/complaints/{complaint_id}", response_model=ComplaintView)
async def get_complaint(
    principal: CurrentPrincipal, conn: DbConnection, complaint_id: UUID
) -> ComplaintView:
    """A complaint with its steps (who, when), its thread and, for a refund, what is paid."""
    row = (await conn.execute(select(_c).where(_c.c.complaint_id == complaint_id))).first()
    if row is None or not principal.may_see(row.customer_id):
        raise HTTPException(404, "complaint not found")
    complaint = from_row(row)
    return complaint_view(complaint, await read_order_facts(conn, complaint.order_id))


class OrderStateView(BaseModel):
    order_id: UUID
    order_code: str
    status: OrderStatus
    status_version: int
    completed_at: datetime | None
    items: list[dict[str, Any]]
    paid_vnd: int
    refunded_vnd: int
    shipping_charged_vnd: int
    shipping_deducted_vnd: int
    ledger_version: int


@router.get("/order-states/{order_id}", response_model=OrderStateView)
async def order_state(
    principal: CurrentPrincipal, conn: DbConnection, order_id: UUID
) -> OrderStateView:
    """What complaints knows of an order, from orders and fees events (scoped like orders)."""
    t = order_states_table
    row = (await conn.execute(select(t).where(t.c.order_id == order_id))).first()
    if row is None or not principal.may_see(row.customer_id):
        raise HTTPException(404, "order not found")
    return OrderStateView(
        order_id=row.order_id,
        order_code=row.order_code,
        status=OrderStatus(row.status),
        status_version=row.status_version,
        completed_at=row.completed_at,
        items=row.items,
        paid_vnd=int(row.paid_vnd),
        refunded_vnd=int(row.refunded_vnd),
        shipping_charged_vnd=int(row.shipping_charged_vnd),
        shipping_deducted_vnd=int(row.shipping_deducted_vnd),
        ledger_version=row.ledger_version,
    )
