"""The order read API: list with filters and status-tab counts, and the order's tabs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from azl_contracts.common import Language, OrderStatus, PaymentStatus, Website
from azl_kit.auth import CurrentPrincipal, Principal
from azl_kit.http import DbConnection

from .domain import LISTED_TO_CUSTOMER, Order
from .storage import complaints_table, from_row, ledgers_table, orders_table

router = APIRouter(prefix="/orders", tags=["orders"])


class StatusLabel(BaseModel):
    vi: str
    en: str


def label(status: OrderStatus) -> StatusLabel:
    return StatusLabel(vi=status.label(Language.VI), en=status.label(Language.EN))


class OrderSummary(BaseModel):
    order_id: UUID
    code: str
    customer_id: str
    website: Website
    status: OrderStatus
    status_label: StatusLabel
    payment_status: PaymentStatus
    goods_total_vnd: int
    created_at: datetime
    updated_at: datetime


class OrderPage(BaseModel):
    items: list[OrderSummary]
    page: int
    page_size: int
    total: int
    counts: dict[str, int]


class ListFilters(BaseModel):
    status: OrderStatus | None = None
    website: Website | None = None
    code: str | None = None
    updated_from: AwareDatetime | None = None
    updated_to: AwareDatetime | None = None


def list_filters(
    status: OrderStatus | None = None,
    website: Website | None = None,
    code: Annotated[str | None, Query(max_length=10, description="Exact code or a prefix")] = None,
    updated_from: AwareDatetime | None = None,
    updated_to: AwareDatetime | None = None,
) -> ListFilters:
    return ListFilters(
        status=status, website=website, code=code, updated_from=updated_from, updated_to=updated_to
    )


Filters = Annotated[ListFilters, Depends(list_filters)]


def scope(
    principal: Principal, filters: ListFilters, *, with_status: bool
) -> list[ColumnElement[bool]]:
    """The WHERE clauses for a principal and filters (status optional: tab counts ignore it)."""
    clauses: list[ColumnElement[bool]] = []
    if principal.is_customer:
        clauses.append(orders_table.c.customer_id == principal.id)
        clauses.append(orders_table.c.status.in_([s.value for s in LISTED_TO_CUSTOMER]))
    if with_status and filters.status is not None:
        clauses.append(orders_table.c.status == filters.status.value)
    if filters.website is not None:
        clauses.append(orders_table.c.website == filters.website.value)
    if filters.code:
        escaped = filters.code.upper().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append(orders_table.c.code.like(escaped + "%", escape="\\"))
    if filters.updated_from is not None:
        clauses.append(orders_table.c.updated_at >= filters.updated_from)
    if filters.updated_to is not None:
        clauses.append(orders_table.c.updated_at <= filters.updated_to)
    return clauses


def summary(row: Any) -> OrderSummary:
    status = OrderStatus(row.status)
    return OrderSummary(
        order_id=row.order_id,
        code=row.code,
        customer_id=row.customer_id,
        website=Website(row.website),
        status=status,
        status_label=label(status),
        payment_status=PaymentStatus(row.payment_status),
        goods_total_vnd=int(row.goods_total_vnd),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


SUMMARY_COLUMNS = [
    orders_table.c.order_id,
    orders_table.c.code,
    orders_table.c.customer_id,
    orders_table.c.website,
    orders_table.c.status,
    orders_table.c.payment_status,
    orders_table.c.goods_total_vnd,
    orders_table.c.created_at,
    orders_table.c.updated_at,
]


async def status_counts(
    conn: AsyncConnection, clauses: list[ColumnElement[bool]]
) -> dict[str, int]:
    rows = (
        await conn.execute(
            select(orders_table.c.status, func.count())
            .where(and_(True, *clauses))
            .group_by(orders_table.c.status)
        )
    ).all()
    counts: dict[str, int] = {row[0]: row[1] for row in rows}
    return {"all": sum(counts.values()), **{s.value: counts.get(s.value, 0) for s in OrderStatus}}


@router.get("", response_model=OrderPage)
async def list_orders(
    principal: CurrentPrincipal,
    conn: DbConnection,
    filters: Filters,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> OrderPage:
    """Newest update first; ``counts`` are per status under the same filters (for the tabs)."""
    clauses = scope(principal, filters, with_status=True)
    rows = (
        await conn.execute(
            select(*SUMMARY_COLUMNS)
            .where(and_(True, *clauses))
            .order_by(orders_table.c.updated_at.desc(), orders_table.c.order_id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    ).all()
    counts = await status_counts(conn, scope(principal, filters, with_status=False))
    total = counts["all"] if filters.status is None else counts[filters.status.value]
    return OrderPage(
        items=[summary(r) for r in rows], page=page, page_size=page_size, total=total, counts=counts
    )


async def load_visible(conn: AsyncConnection, principal: Principal, order_id: UUID) -> Order:
    row = (
        await conn.execute(select(orders_table).where(orders_table.c.order_id == order_id))
    ).first()
    if row is None or not principal.may_see(row.customer_id):
        raise HTTPException(404, "order not found")
    return from_row(row)


@router.get("/{order_id}")
async def get_order(
    principal: CurrentPrincipal, conn: DbConnection, order_id: UUID
) -> dict[str, Any]:
    """The order's tabs: info, history, transactions, packages, complaints."""
    order = await load_visible(conn, principal, order_id)
    ledger = (
        await conn.execute(
            select(ledgers_table.c.snapshot).where(ledgers_table.c.order_id == order_id)
        )
    ).scalar()
    complaints = (
        await conn.execute(
            select(complaints_table)
            .where(complaints_table.c.order_id == order_id)
            .order_by(complaints_table.c.updated_at)
        )
    ).all()
    return order_view(order, ledger, complaints)


def order_view(
    order: Order, ledger: dict[str, Any] | None, complaints: Sequence[Any]
) -> dict[str, Any]:
    return {
        "order_id": str(order.order_id),
        "code": order.code,
        "customer_id": order.customer_id,
        "website": order.website.value,
        "status": order.status.value,
        "status_label": label(order.status).model_dump(),
        "payment_status": order.payment_status.value,
        "version": order.version,
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
        "info": {
            "items": [i.to_contract().model_dump(mode="json") for i in order.items],
            "services": [s.value for s in order.services],
            "delivery_address": order.delivery_address.model_dump(mode="json"),
            "exchange_rate": str(order.exchange_rate),
            "goods_total_vnd": int(order.goods_total_vnd),
            "required_deposit_vnd": int(order.required_deposit_vnd),
            "deposit_paid_vnd": int(order.deposit_paid_vnd),
            "balance_due_vnd": None
            if order.balance_due_vnd is None
            else int(order.balance_due_vnd),
        },
        "history": [
            {
                "from_status": None if h.from_status is None else h.from_status.value,
                "to_status": h.to_status.value,
                "actor": h.actor.model_dump(mode="json"),
                "reason": h.reason,
                "at": h.at.isoformat(),
            }
            for h in order.history
        ],
        "transactions": _transactions(ledger),
        "packages": [p.model_dump(mode="json") for p in order.packages],
        "complaints": [
            {"complaint_id": str(c.complaint_id), "type": c.type, "status": c.status, **c.summary}
            for c in complaints
        ],
    }


def _transactions(ledger: dict[str, Any] | None) -> dict[str, Any]:
    if ledger is None:
        return {"entries": [], "totals": None}
    totals = {
        key: ledger[key]
        for key in (
            "goods_total_vnd",
            "charges_total_vnd",
            "payments_total_vnd",
            "refunds_total_vnd",
            "balance_due_vnd",
        )
    }
    return {
        "entries": ledger["entries"],
        "totals": totals,
        "ledger_version": ledger["ledger_version"],
    }
