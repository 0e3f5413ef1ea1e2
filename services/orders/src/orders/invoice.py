"""The printable invoice of an order (PDF, A4), in Vietnamese with English beside it.

The text is set in DejaVu Sans, shipped inside this package (``fonts/``, with its licence),
so Vietnamese renders wherever the service runs; fpdf2 embeds the subset it uses. Pure: the
order's view in, bytes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF, FontFace
from fpdf.enums import XPos, YPos

from .labels import PAYMENT_STATUS_LABELS, SERVICE_LABELS, WEBSITE_LABELS
from .views import OrderDetail

FONTS = Path(__file__).parent / "fonts"
FAMILY = "DejaVuSans"
COMPANY = "AZLOGISTIC"
TAGLINE = "Dịch vụ mua hàng hộ & vận chuyển Trung Quốc – Việt Nam · King Cargo"
LINE = 5.5


def vnd(amount: int | Decimal) -> str:
    """1234567 → ``1.234.567 ₫`` (Vietnamese thousands separators)."""
    return f"{int(amount):,} ₫".replace(",", ".")


def number(value: Decimal, places: int | None = 2) -> str:
    """Vietnamese notation: ``number(Decimal("1234.5"))`` → ``1.234,50``; with ``places=None``
    as many decimals as the value has (an exchange rate of 3500 → ``3.500``)."""
    text = f"{value:,.{places}f}" if places is not None else f"{value.normalize():,f}"
    return text.translate(_VIETNAMESE_SEPARATORS)


_VIETNAMESE_SEPARATORS = str.maketrans(",.", ".,")


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%d/%m/%Y %H:%M} UTC"


class _Invoice(FPDF):
    def __init__(self, code: str) -> None:
        super().__init__(format="A4")
        self.code = code
        self.add_font(FAMILY, "", FONTS / "DejaVuSans.ttf")
        self.add_font(FAMILY, "B", FONTS / "DejaVuSans-Bold.ttf")
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=18)
        self.set_title(f"Hóa đơn {code}")
        self.set_author(COMPANY)
        self.set_creator("AZL orders")

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(FAMILY, size=8)
        self.cell(0, 5, f"{self.code} · Trang / Page {self.page_no()}/{{nb}}", align="C")


def render_invoice(order: OrderDetail, printed_at: datetime) -> bytes:
    pdf = _Invoice(order.code)
    pdf.add_page()
    _heading(pdf, order, printed_at)
    _parties(pdf, order)
    _items(pdf, order)
    _amounts(pdf, order)
    _packages(pdf, order)
    return bytes(pdf.output())


def _text(pdf: FPDF, text: str, *, size: float = 10, bold: bool = False, align: str = "L") -> None:
    pdf.set_font(FAMILY, "B" if bold else "", size)
    pdf.multi_cell(0, LINE, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _section(pdf: FPDF, title: str) -> None:
    pdf.ln(3)
    _text(pdf, title, size=11, bold=True)
    pdf.ln(1)


def _heading(pdf: FPDF, order: OrderDetail, printed_at: datetime) -> None:
    _text(pdf, COMPANY, size=18, bold=True)
    _text(pdf, TAGLINE, size=9)
    pdf.ln(4)
    _text(pdf, "HÓA ĐƠN / INVOICE", size=15, bold=True, align="C")
    pdf.ln(2)
    status = order.status_label
    payment = PAYMENT_STATUS_LABELS[order.payment_status]
    _pairs(
        pdf,
        [
            ("Mã đơn hàng / Order", order.code),
            ("Ngày đặt / Placed", _when(order.created_at)),
            ("Trạng thái / Status", f"{status.vi} ({status.en})"),
            ("Thanh toán / Payment", f"{payment.vi} ({payment.en})"),
            ("Website", WEBSITE_LABELS[order.website]),
            ("Tỷ giá / Exchange rate", f"{number(order.info.exchange_rate, None)} ₫ / CNY"),
            ("Ngày in / Printed", _when(printed_at)),
        ],
    )


def _pairs(pdf: FPDF, pairs: Sequence[tuple[str, str]]) -> None:
    for label, value in pairs:
        pdf.set_font(FAMILY, "", 10)
        pdf.cell(55, LINE, label + ":")
        pdf.set_font(FAMILY, "B", 10)
        pdf.multi_cell(0, LINE, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _parties(pdf: FPDF, order: OrderDetail) -> None:
    address = order.info.delivery_address
    _section(pdf, "Người nhận / Deliver to")
    _pairs(
        pdf,
        [
            ("Họ tên / Name", address.full_name),
            ("Điện thoại / Phone", address.phone),
            (
                "Địa chỉ / Address",
                f"{address.address_line}, {address.district}, {address.province}",
            ),
            ("Khách hàng / Customer", order.customer_id),
        ],
    )


def _items(pdf: FPDF, order: OrderDetail) -> None:
    _section(pdf, "Hàng hóa / Goods")
    pdf.set_font(FAMILY, "", 9)
    heading = FontFace(emphasis="BOLD", fill_color=(230, 230, 230))
    with pdf.table(
        col_widths=(8, 70, 14, 24, 30, 34),
        text_align=("RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
        headings_style=heading,
        line_height=LINE,
    ) as table:
        table.row(
            [
                "#",
                "Sản phẩm / Product",
                "SL / Qty",
                "Đơn giá (CNY)",
                "Thành tiền (VND)",
                "Trạng thái / Status",
            ]
        )
        for position, item in enumerate(order.info.items, start=1):
            title = item.title if not item.variant else f"{item.title} ({item.variant})"
            table.row(
                [
                    str(position),
                    title,
                    str(item.quantity),
                    number(item.unit_price_cny),
                    vnd(item.amount_vnd) if item.amount_vnd else "—",
                    item.status_label.vi,
                ]
            )


def _amounts(pdf: FPDF, order: OrderDetail) -> None:
    _section(pdf, "Chi phí / Charges")
    info = order.info
    rows: list[tuple[str, str]] = [("Tiền hàng / Goods total", vnd(info.goods_total_vnd))]
    transactions = order.transactions
    charged = transactions.charged()
    for code, amount in charged.items():
        fee = SERVICE_LABELS[code]
        rows.append((f"{fee.vi} / {fee.en}", vnd(amount)))
    if transactions.totals is None:
        rows.append(("Phí dịch vụ / Fees", "chưa tính / not priced yet"))
        rows.append(("Đã thanh toán / Paid", vnd(info.paid_vnd)))
    else:
        totals = transactions.totals
        rows.append(("Tổng phí / Fees total", vnd(totals.charges_total_vnd)))
        rows.append(
            (
                "Tổng cộng / Total",
                vnd(info.goods_total_vnd + totals.charges_total_vnd),
            )
        )
        rows.append(("Đã thanh toán / Paid", vnd(totals.payments_total_vnd)))
        if totals.refunds_total_vnd:
            rows.append(("Đã hoàn / Refunded", vnd(totals.refunds_total_vnd)))
        rows.append(("Còn phải trả / Balance due", vnd(max(totals.balance_due_vnd, Decimal(0)))))
        if totals.balance_due_vnd < 0:
            rows.append(("Tiền thừa / Credit", vnd(-totals.balance_due_vnd)))
    if info.services:
        services = ", ".join(s.label.vi for s in info.services)
        rows.append(("Dịch vụ đã chọn / Services", services))
    pdf.set_font(FAMILY, "", 10)
    with pdf.table(
        col_widths=(110, 70),
        text_align=("LEFT", "RIGHT"),
        first_row_as_headings=False,
        line_height=LINE,
    ) as table:
        for name, value in rows:
            table.row([name, value])


def _packages(pdf: FPDF, order: OrderDetail) -> None:
    if not order.packages:
        return
    _section(pdf, "Kiện hàng / Packages")
    pdf.set_font(FAMILY, "", 9)
    with pdf.table(
        col_widths=(40, 50, 30, 60),
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT"),
        headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
        line_height=LINE,
    ) as table:
        table.row(["Mã kiện / Package", "Vận đơn / Tracking", "Cân nặng / kg", "D × R × C (cm)"])
        for package in order.packages:
            table.row(
                [
                    package.package_code,
                    package.tracking_number,
                    number(package.weight_kg, None),
                    " × ".join(
                        number(side, None)
                        for side in (package.length_cm, package.width_cm, package.height_cm)
                    ),
                ]
            )
