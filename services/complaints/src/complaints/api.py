"""Complaints read API (staff view of the order projection for now)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException
from sqlalchemy import select

from azl_kit.auth import CurrentPrincipal
from azl_kit.http import DbConnection

from .storage import order_states_table

router = APIRouter(tags=["complaints"])


@router.get("/order-states/{order_id}")
async def order_state(
    principal: CurrentPrincipal, conn: DbConnection, order_id: UUID
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
