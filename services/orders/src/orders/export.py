"""The order list as a file: CSV (streamed) or XLSX (openpyxl, write-only).

One row per order with the list's columns, newest update first, like ``GET /orders``.
Times are UTC: ISO 8601 in CSV, Excel date-times (no zone, UTC) in XLSX.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from .views import OrderSummary

COLUMNS = (
    "code",
    "order_id",
    "customer_id",
    "website",
    "status",
    "status_label",
    "payment_status",
    "goods_total_vnd",
    "created_at",
    "updated_at",
)

XLSX_MAX_ROWS = 1_048_575  # an Excel sheet's rows, less the header
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"

    @property
    def media_type(self) -> str:
        return CSV_MEDIA_TYPE if self is ExportFormat.CSV else XLSX_MEDIA_TYPE


def values(order: OrderSummary) -> tuple[Any, ...]:
    return (
        order.code,
        str(order.order_id),
        order.customer_id,
        order.website.value,
        order.status.value,
        order.status_label.vi,
        order.payment_status.value,
        order.goods_total_vnd,
        order.created_at,
        order.updated_at,
    )


def _iso(value: Any) -> Any:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def csv_header() -> str:
    """The header, after a UTF-8 byte order mark so spreadsheets read Vietnamese right."""
    return "\ufeff" + csv_rows([], header=True)


def csv_rows(orders: Iterable[OrderSummary], *, header: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(COLUMNS)
    writer.writerows(tuple(_iso(v) for v in values(order)) for order in orders)
    return buffer.getvalue()


class XlsxExport:
    """A workbook written row by row (memory stays flat), then read back as bytes."""

    def __init__(self) -> None:
        # imported on the first export, not at start-up: openpyxl is ~10 MB of every
        # process's memory that most never use
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        self._workbook = Workbook(write_only=True)
        self._sheet = self._workbook.create_sheet("orders")
        bold = Font(bold=True)
        header = []
        for name in COLUMNS:
            cell = WriteOnlyCell(self._sheet, value=name)
            cell.font = bold
            header.append(cell)
        self._sheet.append(header)
        self._sheet.freeze_panes = "A2"
        self.rows = 0

    def append(self, orders: Iterable[OrderSummary]) -> None:
        for order in orders:
            self._sheet.append([_excel(v) for v in values(order)])
            self.rows += 1

    def finish(self) -> bytes:
        with tempfile.TemporaryFile() as file:
            self._workbook.save(file)
            file.seek(0)
            return file.read()


def _excel(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def filename(export_format: ExportFormat, now: datetime) -> str:
    return f"orders-{now.astimezone(UTC):%Y%m%d-%H%M%S}.{export_format.value}"
