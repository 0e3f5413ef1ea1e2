"""Complaints read API (staff view of the order projection for now)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from azl_kit.auth import CurrentPrincipal

from .storage import order_states_table

router = APIRouter(tags=["complaints"])


async def connection(request: Request) -> Any:
    async with request.app.state.runtime.database().connect() as conn:
        yield conn


Connection = Annotated[AsyncConnection, Depends(connection)]


@router.get("/order-states/{order_id}")
async def order_state(
    principal: CurrentPrincipal, conn: Connection, order_id: UUID
) -> dict[str, Any]:
    """What complaints knows of an order, from orders and fees events (scoped like orders)."""
    row = (
        await conn.execute(
            select(order_states_table).where(order_states_table.c.order_id == order_id)
        )
    ).first()
    if row is None or not principal.may_see(row.customer_id):
        raise HTTPException(404, "order not found")
    return {
        "order_id": str(row.order_id),
        "order_code": row.order_code,
        "status": row.status,
        "status_version": row.status_version,
        "items": row.items,
        "paid_vnd": int(row.paid_vnd),
        "refunded_vnd": int(row.refunded_vnd),
    }
