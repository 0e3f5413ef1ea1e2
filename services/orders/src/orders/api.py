"""The order read API: the list (filters, pages, status-tab counts), its export, the order's
tabs and its printable invoice.

Every route needs a bearer token. A customer sees only its own orders, and lists them only
once their deposit succeeded; anything else is 404, never 403. Staff and systems see all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from azl_contracts.common import OrderStatus, Website
from azl_kit.auth import CurrentPrincipal, Principal
from azl_kit.http import DateTime, DbConnection, Page

from . import export
from .storage import complaints_table, from_row, ledgers_table, orders_table
from .views import OrderDetail, OrderPage, OrderSummary, order_detail, summary_of

router = APIRouter(prefix="/orders", tags=["orders"])

EXPORT_BATCH = 2000
Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {404: {"description": "No such order, or not the caller's"}}
UNAUTHORIZED: Responses = {401: {"description": "Missing, malformed or expired bearer token"}}


class ListFilters(BaseModel):
    status: OrderStatus | None = None
    website: Website | None = None
    code: str | None = None
    customer_id: str | None = None
    updated_from: AwareDatetime | None = None
    updated_to: AwareDatetime | None = None


def list_filters(
    status: OrderStatus | None = None,
    website: Website | None = None,
    code: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=10,
            pattern=r"^[A-Za-z0-9]+$",
            description="An order code (AZ + 8 digits) or its beginning: exact or prefix.",
        ),
    ] = None,
    customer_id: Annotated[
        str | None,
        Query(max_length=64, description="Staff: one customer's orders (customers: their own)."),
    ] = None,
    updated_from: Annotated[
        DateTime | None, Query(description="Updated at or after (with a time zone).")
    ] = None,
    updated_to: Annotated[
        DateTime | None, Query(description="Updated at or before (with a time zone).")
    ] = None,
) -> ListFilters:
    return ListFilters(
        status=status,
        website=website,
        code=code,
        customer_id=customer_id,
        updated_from=updated_from,
        updated_to=updated_to,
    )


Filters = Annotated[ListFilters, Depends(list_filters)]


def _engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.runtime.database()
    return engine


Database = Annotated[AsyncEngine, Depends(_engine)]


def scope(
    principal: Principal, filters: ListFilters, *, with_status: bool
) -> list[ColumnElement[bool]]:
    """The WHERE clauses for a principal and filters (status optional: tab counts ignore it)."""
    clauses: list[ColumnElement[bool]] = []
    if principal.is_customer:
        clauses.append(orders_table.c.customer_id == principal.id)
        # listed once the deposit succeeded, whatever the status is now (see
        # ``Order.listed_to_customer``): an order cancelled before any deposit never is
        clauses.append(orders_table.c.deposited_at.is_not(None))
    if filters.customer_id is not None:
        clauses.append(orders_table.c.customer_id == filters.customer_id)
    if with_status and filters.status is not None:
        clauses.append(orders_table.c.status == filters.status.value)
    if filters.website is not None:
        clauses.append(orders_table.c.website == filters.website.value)
    if filters.code:
        # The pattern allows letters and digits only, so nothing needs escaping for LIKE.
        clauses.append(orders_table.c.code.like(filters.code.upper() + "%"))
    if filters.updated_from is not None:
        clauses.append(orders_table.c.updated_at >= filters.updated_from)
    if filters.updated_to is not None:
        clauses.append(orders_table.c.updated_at <= filters.updated_to)
    return clauses


SUMMARY_COLUMNS = [
    orders_table.c.order_id,
    orders_table.c.code,
    orders_table.c.customer_id,
    orders_table.c.website,
    orders_table.c.status,
    orders_table.c.goods_total_vnd,
    orders_table.c.created_at,
    orders_table.c.updated_at,
    ledgers_table.c.balance_due_vnd,  # for the payment status
]


def newest_first(clauses: list[ColumnElement[bool]]) -> Select[Any]:
    return (
        select(*SUMMARY_COLUMNS)
        .select_from(
            orders_table.outerjoin(
                ledgers_table, ledgers_table.c.order_id == orders_table.c.order_id
            )
        )
        .where(and_(True, *clauses))
        .order_by(orders_table.c.updated_at.desc(), orders_table.c.order_id.desc())
    )


async def status_counts(
    conn: AsyncConnection, clauses: list[ColumnElement[bool]]
) -> dict[str, int]:
    """One grouped count: ``all`` and every status under the filters (0 when none)."""
    rows = (
        await conn.execute(
            select(orders_table.c.status, func.count())
            .where(and_(True, *clauses))
            .group_by(orders_table.c.status)
        )
    ).all()
    counts: dict[str, int] = {row[0]: row[1] for row in rows}
    return {"all": sum(counts.values()), **{s.value: counts.get(s.value, 0) for s in OrderStatus}}


@router.get("", response_model=OrderPage, responses=UNAUTHORIZED)
async def list_orders(
    principal: CurrentPrincipal,
    conn: DbConnection,
    filters: Filters,
    page: Page = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> OrderPage:
    """Orders, newest update first. ``counts`` holds the status tabs (All, Deposited,
    Ordering, …) under the same filters except ``status``; ``total`` counts this tab."""
    clauses = scope(principal, filters, with_status=True)
    rows = (
        await conn.execute(newest_first(clauses).limit(page_size).offset((page - 1) * page_size))
    ).all()
    counts = await status_counts(conn, scope(principal, filters, with_status=False))
    total = counts["all"] if filters.status is None else counts[filters.status.value]
    return OrderPage(
        items=[summary_of(r) for r in rows],
        page=page,
        page_size=page_size,
        total=total,
        counts=counts,
    )


@router.get(
    "/export",
    response_class=Response,
    responses={
        **UNAUTHORIZED,
        200: {
            "description": "The filtered list, newest update first",
            "content": {export.CSV_MEDIA_TYPE: {}, export.XLSX_MEDIA_TYPE: {}},
        },
        400: {"description": "Too many orders for one XLSX sheet: narrow the filters"},
    },
)
async def export_orders(
    principal: CurrentPrincipal,
    database: Database,
    filters: Filters,
    export_format: Annotated[export.ExportFormat, Query(alias="format")] = export.ExportFormat.CSV,
) -> Response:
    """The filtered list (the same filters and scope as ``GET /orders``) as a CSV or XLSX
    file."""
    query = newest_first(scope(principal, filters, with_status=True))
    headers = {
        "Content-Disposition": (
            f'attachment; filename="{export.filename(export_format, datetime.now(UTC))}"'
        )
    }
    if export_format is export.ExportFormat.CSV:
        return StreamingResponse(
            _csv_stream(database, query), media_type=export_format.media_type, headers=headers
        )
    async with database.connect() as conn:
        matching = await conn.scalar(select(func.count()).select_from(query.subquery()))
    if (matching or 0) > export.XLSX_MAX_ROWS:
        raise HTTPException(
            400, f"{matching} orders do not fit one XLSX sheet; narrow the filters or use CSV"
        )
    return Response(
        await _xlsx(database, query), media_type=export_format.media_type, headers=headers
    )


async def _summaries(
    database: AsyncEngine, query: Select[Any]
) -> AsyncIterator[list[OrderSummary]]:
    async with database.connect() as conn:
        result = await conn.stream(query.execution_options(yield_per=EXPORT_BATCH))
        async for rows in result.partitions(EXPORT_BATCH):
            yield [summary_of(r) for r in rows]


async def _csv_stream(database: AsyncEngine, query: Select[Any]) -> AsyncIterator[bytes]:
    yield export.csv_header().encode()
    async for batch in _summaries(database, query):
        yield export.csv_rows(batch).encode()


async def _xlsx(database: AsyncEngine, query: Select[Any]) -> bytes:
    """Rows are appended (and the file written) in a worker thread, off the event loop."""
    workbook = await asyncio.to_thread(export.XlsxExport)
    async for batch in _summaries(database, query):
        await asyncio.to_thread(workbook.append, batch)
    return await asyncio.to_thread(workbook.finish)


async def visible_order_detail(
    conn: AsyncConnection, principal: Principal, order_id: UUID
) -> OrderDetail:
    row = (
        await conn.execute(select(orders_table).where(orders_table.c.order_id == order_id))
    ).first()
    if row is None or not principal.may_see(row.customer_id):
        raise HTTPException(404, "order not found")
    ledger = (
        await conn.execute(
            select(ledgers_table.c.snapshot).where(ledgers_table.c.order_id == order_id)
        )
    ).scalar()
    complaints = (
        (
            await conn.execute(
                select(complaints_table.c.summary).where(complaints_table.c.order_id == order_id)
            )
        )
        .scalars()
        .all()
    )
    return order_detail(from_row(row._mapping), ledger, complaints)


@router.get("/{order_id}", response_model=OrderDetail, responses={**NOT_FOUND, **UNAUTHORIZED})
async def get_order(principal: CurrentPrincipal, conn: DbConnection, order_id: UUID) -> OrderDetail:
    """The order's tabs: info (items, services, address, amounts), payments, status history,
    transactions (the fees ledger), packages and complaints."""
    return await visible_order_detail(conn, principal, order_id)


@router.get(
    "/{order_id}/invoice.pdf",
    response_class=Response,
    responses={
        **NOT_FOUND,
        **UNAUTHORIZED,
        200: {"description": "The invoice (PDF)", "content": {"application/pdf": {}}},
    },
)
async def get_invoice(principal: CurrentPrincipal, conn: DbConnection, order_id: UUID) -> Response:
    """A printable invoice of the order: items, charges from the fees ledger, payments and
    balance, in Vietnamese with English beside it."""
    order = await visible_order_detail(conn, principal, order_id)
    # imported on the first invoice, not at start-up: fpdf2 (and the imaging libraries it
    # loads) is ~30 MB of every process's memory that most never use
    from .invoice import render_invoice

    pdf = await asyncio.to_thread(render_invoice, order, datetime.now(UTC))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{order.code}.pdf"'},
    )
