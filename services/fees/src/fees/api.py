"""The fees read API: an order's ledger (scoped like orders) and the catalog in force."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from azl_contracts.common import OrderStatus, ServiceCode
from azl_contracts.fees import LedgerEntryKind
from azl_kit.auth import CurrentPrincipal
from azl_kit.http import DbConnection

from .catalog import Catalogs
from .domain import Entry, Ledger
from .storage import read_ledger

router = APIRouter(tags=["fees"])


class EntryView(BaseModel):
    entry_id: UUID
    kind: LedgerEntryKind
    amount_vnd: int
    signed_vnd: int = Field(
        description="How the entry moves the balance due (+ or −); a complaint refund 0: it "
        "lowers the cost and what was paid alike."
    )
    fee_code: ServiceCode | None
    catalog_version: str | None
    description: str
    reference: str | None
    recorded_at: datetime


class LedgerView(BaseModel):
    order_id: UUID
    customer_id: str
    ledger_version: int
    catalog_version: str
    services: list[ServiceCode]
    deposited: bool
    delivered: bool
    cancelled_from: OrderStatus | None
    goods_total_vnd: int = Field(description="What is owed for the goods (0 once cancelled).")
    charges_total_vnd: int = Field(description="Charges minus voids.")
    payments_total_vnd: int
    refunds_total_vnd: int = Field(description="Complaint refunds paid back.")
    payouts_total_vnd: int = Field(description="Money owed back that was paid out.")
    cost_vnd: int = Field(description="goods + charges − complaint refunds, never below 0.")
    paid_vnd: int = Field(description="payments − complaint refunds − payouts.")
    balance_due_vnd: int = Field(description="cost − paid; negative: owed back.")
    refund_due_vnd: int | None = Field(description="After a cancellation: what is owed back.")
    shipping_deducted_vnd: int
    fees: dict[ServiceCode, int] = Field(description="What stays charged, per fee.")
    entries: list[EntryView]


def _entry_view(entry: Entry) -> EntryView:
    return EntryView(
        entry_id=entry.entry_id,
        kind=entry.kind,
        amount_vnd=int(entry.amount_vnd),
        signed_vnd=int(entry.signed_vnd),
        fee_code=entry.fee_code,
        catalog_version=entry.catalog_version,
        description=entry.description,
        reference=entry.reference,
        recorded_at=entry.recorded_at,
    )


def ledger_view(ledger: Ledger) -> LedgerView:
    totals = ledger.totals
    return LedgerView(
        order_id=ledger.order_id,
        customer_id=ledger.customer_id,
        ledger_version=ledger.version,
        catalog_version=ledger.catalog_version,
        services=ledger.services,
        deposited=ledger.deposited,
        delivered=ledger.delivered,
        cancelled_from=ledger.cancelled_from,
        goods_total_vnd=int(ledger.goods_total_vnd),
        charges_total_vnd=int(ledger.charges_total_vnd),
        payments_total_vnd=int(ledger.payments_total_vnd),
        refunds_total_vnd=int(totals.complaint_refunds_vnd),
        payouts_total_vnd=int(totals.payouts_vnd),
        cost_vnd=int(totals.cost_vnd),
        paid_vnd=int(totals.paid_vnd),
        balance_due_vnd=int(totals.due_vnd),
        refund_due_vnd=None if ledger.refund_due_vnd is None else int(ledger.refund_due_vnd),
        shipping_deducted_vnd=int(ledger.shipping_deducted_vnd),
        fees={code: int(amount) for code, amount in ledger.charges_by_fee().items()},
        entries=[_entry_view(e) for e in ledger.entries],
    )


@router.get("/ledgers/{order_id}", response_model=LedgerView)
async def get_ledger(principal: CurrentPrincipal, conn: DbConnection, order_id: UUID) -> LedgerView:
    """An order's ledger: every payment, charge, void and refund, and the balance due.
    A customer sees only its own orders' ledgers (anything else is 404)."""
    ledger = await read_ledger(conn, order_id)
    if ledger is None or not principal.may_see(ledger.customer_id):
        raise HTTPException(404, "ledger not found")
    return ledger_view(ledger)


@router.get("/catalog")
async def get_catalog(principal: CurrentPrincipal, request: Request) -> dict[str, Any]:
    """The fee catalog in force (new orders are priced with it) and every known version."""
    catalogs: Catalogs = request.app.state.catalogs
    return {
        "catalog": catalogs.current.model_dump(mode="json"),
        "versions": catalogs.versions,
    }
