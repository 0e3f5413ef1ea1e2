"""The in-app inbox over HTTP, scoped to the caller (JWT)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from azl_kit.auth import CurrentPrincipal
from azl_kit.http import DbConnection

from .storage import inbox_row, notifications_table

router = APIRouter(prefix="/notifications", tags=["inbox"])


@router.get("")
async def inbox(
    principal: CurrentPrincipal,
    conn: DbConnection,
    unread_only: bool = False,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """The caller's notifications, newest first, with the unread count."""
    query = select(notifications_table).where(notifications_table.c.recipient_id == principal.id)
    if unread_only:
        query = query.where(notifications_table.c.read_at.is_(None))
    rows = (
        await conn.execute(
            query.order_by(notifications_table.c.created_at.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    ).all()
    unread = await conn.scalar(
        select(func.count()).where(
            notifications_table.c.recipient_id == principal.id,
            notifications_table.c.read_at.is_(None),
        )
    )
    return {"items": [inbox_row(r) for r in rows], "unread": unread or 0, "page": page}
