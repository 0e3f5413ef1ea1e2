"""The order's views and files, built from the aggregate without a database: the tabs,
the export (parsed back) and the invoice (its text read back from the PDF)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from azl_contracts import orders as o
from azl_contracts.common import OrderStatus, PaymentMethod, ServiceCode
from orders import export
from orders.invoice import number, render_invoice, vnd
from orders.views import OrderDetail, OrderSummary, order_detail

from .conftest import NOW, STAFF, item, order_in

S = OrderStatus


def ledger_snapshot(order_id: Any, **overrides: Any) -> dict[str, Any]:
    """A ``fees.ledger.updated`` body as the orders service stores it (JSON)."""
    at = NOW.isoformat()
    snapshot = {
        "order_id": str(order_id),
        "customer_id": "cust-1",
        "occurred_at": at,
        "ledger_version": 3,
        "goods_total_vnd": "831250",
        "charges_total_vnd": "21000",
        "payments_total_vnd": "490000",
        "refunds_total_vnd": "0",
        "balance_due_vnd": "362250",
        "entries": [
            {
                "entry_id": str(uuid4()),
                "kind": "payment",
                "amount_vnd": "490000",
                "description": "deposit",
                "reference": "p1",
                "recorded_at": at,
            },
            {
                "entry_id": str(uuid4()),
                "kind": "charge",
                "amount_vnd": "21000",
                "fee_code": "purchase_fee",
                "catalog_version": "2026-11",
                "description": "3 % of 700,000",
                "recorded_at": at,
            },
            {
                "entry_id": str(uuid4()),
                "kind": "charge",
                "amount_vnd": "21000",
                "fee_code": "insurance",
                "catalog_version": "2026-11",
                "description": "3 % of 700,000",
                "recorded_at": at,
            },
            {
                "entry_id": str(uuid4()),
                "kind": "void",
                "amount_vnd": "21000",
                "fee_code": "insurance",
                "description": "removed",
                "recorded_at": at,
            },
        ],
    }
    snapshot.update(overrides)
    return snapshot


def delivered_detail() -> OrderDetail:
    order = order_in(
        S.SELLER_SHIPPED, items=[item("100.00", 2), item("12.50", 3)], services=["wooden_crate"]
    )
    order.record_package(
        o.PackageDetails(
            package_code="PK-1",
            tracking_number="SF123",
            weight_kg=Decimal("2.5"),
            length_cm=Decimal(40),
            width_cm=Decimal(30),
            height_cm=Decimal(20),
        ),
        NOW,
    )
    order.advance_shipping(STAFF, S.DELIVERED, NOW + timedelta(days=3))
    order.record_payment("cod-1", Decimal(100_000), PaymentMethod.COD, NOW + timedelta(days=3))
    return order_detail(order, ledger_snapshot(order.order_id), [])


class TestOrderDetail:
    def test_the_tabs(self) -> None:
        detail = delivered_detail()
        assert detail.status is S.DELIVERED
        assert detail.status_label.vi == "Đã giao hàng"
        assert [i.amount_vnd for i in detail.info.items] == [700_000, 131_250]
        assert detail.info.goods_total_vnd == 831_250
        assert [s.code for s in detail.info.services] == [ServiceCode.WOODEN_CRATE]
        assert [(p.kind, p.amount_vnd) for p in detail.payments] == [
            ("deposit", int(detail.info.required_deposit_vnd)),
            ("payment", 100_000),
        ]
        assert detail.info.paid_vnd == detail.info.required_deposit_vnd + 100_000
        assert [(h.from_status, h.to_status) for h in detail.history][-2:] == [
            (S.PURCHASED, S.SELLER_SHIPPED),
            (S.SELLER_SHIPPED, S.DELIVERED),
        ]
        assert detail.packages[0].package_code == "PK-1"
        assert detail.transactions.ledger_version == 3
        assert detail.transactions.totals is not None
        assert detail.transactions.totals.balance_due_vnd == 362_250
        assert detail.transactions.entries[1].fee_label is not None
        assert detail.transactions.entries[1].fee_label.vi == "Phí mua hàng"
        # insurance was charged and voided: only the purchase fee stays
        assert detail.transactions.charged() == {ServiceCode.PURCHASE_FEE: 21_000}

    def test_before_any_ledger(self) -> None:
        detail = order_detail(order_in(S.AWAITING_DEPOSIT), None, [])
        assert detail.transactions.entries == []
        assert detail.transactions.totals is None
        assert detail.info.balance_due_vnd is None


def _summaries(count: int) -> list[OrderSummary]:
    detail = delivered_detail()
    return [
        OrderSummary(
            order_id=uuid4(),
            code=f"AZ{n:08d}",
            customer_id="cust-1",
            website=detail.website,
            status=detail.status,
            status_label=detail.status_label,
            payment_status=detail.payment_status,
            goods_total_vnd=1_000 * n,
            created_at=NOW,
            updated_at=NOW + timedelta(seconds=n, microseconds=123),
        )
        for n in range(count)
    ]


class TestExport:
    def test_csv_parses_back_to_the_list(self) -> None:
        orders = _summaries(3)
        text = export.csv_header() + export.csv_rows(orders)
        assert text.startswith("\ufeff")
        rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
        assert [r["code"] for r in rows] == [o.code for o in orders]
        assert rows[1]["status_label"] == "Đã giao hàng"
        assert rows[2]["goods_total_vnd"] == "2000"
        assert datetime.fromisoformat(rows[2]["updated_at"]) == orders[2].updated_at
        assert tuple(rows[0]) == export.COLUMNS

    def test_xlsx_parses_back_to_the_list(self) -> None:
        orders = _summaries(3)
        workbook = export.XlsxExport()
        workbook.append(orders[:2])
        workbook.append(orders[2:])
        sheet = load_workbook(io.BytesIO(workbook.finish()), read_only=True)["orders"]
        header, *rows = list(sheet.iter_rows(values_only=True))
        assert header == export.COLUMNS
        assert [r[0] for r in rows] == [o.code for o in orders]
        assert rows[1][5] == "Đã giao hàng"
        assert rows[2][7] == 2000
        # Excel keeps date-times to the millisecond
        assert abs(rows[2][9].replace(tzinfo=UTC) - orders[2].updated_at) < timedelta(
            milliseconds=1
        )

    @pytest.mark.parametrize("fmt", list(export.ExportFormat))
    def test_filenames(self, fmt: export.ExportFormat) -> None:
        assert export.filename(fmt, NOW) == f"orders-20261122-090000.{fmt.value}"


class TestInvoice:
    def test_vietnamese_renders_and_reads_back(self) -> None:
        detail = delivered_detail()
        pdf = render_invoice(detail, NOW)
        assert pdf.startswith(b"%PDF")
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
        for expected in (
            "HÓA ĐƠN",
            detail.code,
            "Đã giao hàng",
            "Nguyễn" if "Nguyễn" in detail.info.delivery_address.full_name else "Trần Thị Bình",
            "Phí mua hàng",
            vnd(21_000),
            vnd(831_250),  # goods
            vnd(852_250),  # goods and fees
            vnd(362_250),  # balance due
            "2,5",  # kg
            "12,50",  # a unit price in CNY
            "3.500 ₫ / CNY",
            "Đóng gỗ",
            "PK-1",
            "Giày",
        ):
            assert expected in text, expected
        assert "Bảo hiểm" not in text  # charged, then voided

    def test_numbers_use_vietnamese_separators(self) -> None:
        assert vnd(1_234_567) == "1.234.567 ₫"
        assert vnd(Decimal(0)) == "0 ₫"
        assert number(Decimal("1234.5")) == "1.234,50"
        assert number(Decimal("3500"), None) == "3.500"
        assert number(Decimal("3512.1234"), None) == "3.512,1234"
