"""The order read API against a seeded set of orders with known answers: the list's filters,
order, pages and status tabs, the export files parsed back, the invoice, and who may see
what (spec §3, Read API).

Other tests share the orders database, so the known answers are scoped to customers of
this module's own; staff views are checked with the ``customer_id`` filter or as a
relative order inside an update window.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import jwt
import pytest
import pytest_asyncio
from azl_testing import builders, flows
from azl_testing.bus import Bus
from azl_testing.orders_api import OrdersApi
from azl_testing.processes import JWT_SECRET
from azl_testing.tokens import bearer, token
from openpyxl import load_workbook
from pypdf import PdfReader

from azl_contracts import Actor
from azl_contracts import orders as o
from azl_contracts.common import OrderStatus, Website

from .conftest import Platform

S = OrderStatus

HOSTS = {
    Website.TAOBAO: "item.taobao.com",
    Website.TMALL: "detail.tmall.com",
    Website.ALIBABA_1688: "detail.1688.com",
}


@dataclass
class Seeded:
    name: str
    website: Website
    status: OrderStatus
    order: flows.PlacedOrder | None = None
    updated_at: datetime | None = None

    @property
    def code(self) -> str:
        assert self.order is not None
        return self.order.code


@dataclass
class Catalogue:
    """One customer's orders, each in a known status, last touched in a known sequence."""

    customer: Actor
    orders: dict[str, Seeded]
    touched: list[str]  # oldest first; the untouched (cancelled) one is older than all

    def codes(self, *names: str) -> list[str]:
        return [self.orders[n].code for n in names]

    def newest_first(self, *, staff: bool = False) -> list[str]:
        names = [*reversed(self.touched), *self.untouched]
        return [n for n in names if staff or self.orders[n].status is not S.AWAITING_DEPOSIT]

    def updated_at(self) -> dict[str, datetime]:
        found = {n: s.updated_at for n, s in self.orders.items() if s.updated_at is not None}
        assert len(found) == len(self.orders)
        return found

    @property
    def untouched(self) -> list[str]:
        return [n for n in self.orders if n not in self.touched]


PLAN = [
    Seeded("A", Website.TAOBAO, S.DEPOSITED),
    Seeded("B", Website.TMALL, S.DEPOSITED),
    Seeded("C", Website.ALIBABA_1688, S.PURCHASING),
    Seeded("D", Website.TAOBAO, S.PURCHASING),
    Seeded("E", Website.TAOBAO, S.PURCHASED),
    Seeded("F", Website.TMALL, S.CANCELLED),
    Seeded("G", Website.ALIBABA_1688, S.AWAITING_DEPOSIT),
]
TOUCH_SEQUENCE = ["G", "A", "C", "E", "B", "D"]


async def advance(bus: Bus, order: flows.PlacedOrder, status: OrderStatus) -> None:
    oid, staff = order.order_id, builders.STAFF
    if status is S.AWAITING_DEPOSIT:
        return
    await flows.pay_deposit(bus, order)
    if status is S.CANCELLED:
        await flows.accepted(bus, o.CancelOrder(actor=order.customer, order_id=oid))
        return
    if status is S.DEPOSITED:
        return
    await flows.accepted(bus, o.StartPurchasing(actor=staff, order_id=oid))
    if status is S.PURCHASED:
        await flows.accepted(
            bus, o.MarkItemsOrdered(actor=staff, order_id=oid, item_ids=order.item_ids)
        )


async def seed(bus: Bus, api: OrdersApi) -> Catalogue:
    customer = builders.customer()
    plan = {s.name: Seeded(s.name, s.website, s.status) for s in PLAN}

    async def one(seeded: Seeded) -> None:
        seeded.order = await flows.place(
            bus, customer, items=[builders.item("10.00", 2, host=HOSTS[seeded.website])]
        )
        await advance(bus, seeded.order, seeded.status)

    await asyncio.gather(*(one(s) for s in plan.values()))
    # the fees service's ledger snapshots move update times: let them land first
    await api.ledger_settled(bus, *(s.order.order_id for s in plan.values() if s.order))
    for name in TOUCH_SEQUENCE:
        seeded = plan[name]
        assert seeded.order is not None
        address = builders.ADDRESS.model_copy(update={"address_line": f"{name} Phố Huế"})
        await flows.accepted(
            bus,
            o.UpdateDeliveryAddress(
                actor=customer, order_id=seeded.order.order_id, delivery_address=address
            ),
        )
    for seeded in plan.values():
        assert seeded.order is not None
        view = await api.detail(seeded.order.order_id)
        assert view["status"] == seeded.status.value
        seeded.updated_at = datetime.fromisoformat(view["updated_at"])
    return Catalogue(customer, plan, TOUCH_SEQUENCE)


@pytest_asyncio.fixture
async def api(platform: Platform) -> AsyncIterator[OrdersApi]:
    async with platform.http("orders") as http:
        yield OrdersApi(http)


@pytest_asyncio.fixture(scope="module")
async def catalogue(bus: Bus, platform: Platform) -> Catalogue:
    async with platform.http("orders") as http:
        return await seed(bus, OrdersApi(http))


def codes(page: dict[str, Any] | list[dict[str, Any]]) -> list[str]:
    items = page["items"] if isinstance(page, dict) else page
    return [i["code"] for i in items]


NO_ORDERS = {"all": 0, **{s.value: 0 for s in S}}


def tabs(**counts: int) -> dict[str, int]:
    return {**NO_ORDERS, **counts, "all": sum(counts.values())}


# --- the list -------------------------------------------------------------------------------


async def test_the_customers_list_newest_update_first_with_status_tabs(
    catalogue: Catalogue, api: OrdersApi
) -> None:
    me = catalogue.customer.id
    page = await api.page(me, "customer")
    assert codes(page) == catalogue.codes(*catalogue.newest_first())
    assert page["counts"] == tabs(deposited=2, purchasing=2, purchased=1, cancelled=1)
    assert page["total"] == 6
    assert (page["page"], page["page_size"]) == (1, 20)
    first = page["items"][0]
    d = catalogue.orders["D"]
    assert d.order is not None
    assert first == {
        "order_id": str(d.order.order_id),
        "code": d.code,
        "customer_id": me,
        "website": "taobao",
        "status": "purchasing",
        "status_label": {"vi": "Đang mua hàng", "en": "Ordering"},
        "payment_status": "unpaid",
        "goods_total_vnd": 70_000,
        "created_at": first["created_at"],
        "updated_at": first["updated_at"],
    }
    times = [datetime.fromisoformat(i["updated_at"]) for i in page["items"]]
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize(
    ("filters", "expected", "counts"),
    [
        ({"status": "purchasing"}, ["D", "C"], None),
        ({"status": "awaiting_deposit"}, [], None),
        ({"website": "taobao"}, ["D", "E", "A"], tabs(deposited=1, purchasing=1, purchased=1)),
        ({"website": "tmall"}, ["B", "F"], tabs(deposited=1, cancelled=1)),
        ({"website": "1688"}, ["C"], tabs(purchasing=1)),
        ({"website": "tmall", "status": "deposited"}, ["B"], tabs(deposited=1, cancelled=1)),
    ],
)
async def test_status_and_website_filters(
    catalogue: Catalogue,
    api: OrdersApi,
    filters: dict[str, str],
    expected: list[str],
    counts: dict[str, int] | None,
) -> None:
    page = await api.page(catalogue.customer.id, "customer", **filters)
    assert codes(page) == catalogue.codes(*expected)
    assert page["total"] == len(expected)
    # the tabs count under every filter but the status itself
    unfiltered = tabs(deposited=2, purchasing=2, purchased=1, cancelled=1)
    assert page["counts"] == (counts or unfiltered)


async def test_the_code_filter_is_exact_or_a_prefix(catalogue: Catalogue, api: OrdersApi) -> None:
    me = catalogue.customer.id
    listed = catalogue.newest_first()
    for name in listed:
        code = catalogue.orders[name].code
        assert codes(await api.page(me, "customer", code=code)) == [code]
        assert codes(await api.page(me, "customer", code=code.lower())) == [code]
        for length in (2, 5, 7, 9):
            prefix = code[:length]
            page = await api.page(me, "customer", code=prefix)
            expected = [c for c in catalogue.codes(*listed) if c.startswith(prefix)]
            assert codes(page) == expected, prefix
            assert page["counts"]["all"] == len(expected)
    hidden = catalogue.orders["G"].code  # awaiting its deposit: not the customer's to list
    assert codes(await api.page(me, "customer", code=hidden)) == []
    assert codes(await api.page(customer_id=me, code=hidden)) == [hidden]
    ours = catalogue.codes(*catalogue.orders)
    unknown = next(f"AZ{n:08d}" for n in range(100) if f"AZ{n:08d}" not in ours)
    assert codes(await api.page(me, "customer", code=unknown)) == []
    for bad in ("AZ%", "AZ_1", "AZ123456789"):
        assert (await api.get("/orders", me, "customer", code=bad)).status_code == 422


async def test_the_update_window(catalogue: Catalogue, api: OrdersApi) -> None:
    me = catalogue.customer.id
    when = catalogue.updated_at()
    # A, C and E were touched second, third and fourth; both bounds are inclusive
    page = await api.page(
        me, "customer", updated_from=when["A"].isoformat(), updated_to=when["E"].isoformat()
    )
    assert codes(page) == catalogue.codes("E", "C", "A")
    assert page["counts"] == tabs(deposited=1, purchasing=1, purchased=1)
    since_e = await api.page(me, "customer", updated_from=when["E"].isoformat())
    assert codes(since_e) == catalogue.codes("D", "B", "E")
    until_a = await api.page(me, "customer", updated_to=when["A"].isoformat())
    assert codes(until_a) == catalogue.codes("A", "F")  # G is not listed to the customer
    staff = await api.page(customer_id=me, updated_to=when["A"].isoformat())
    assert codes(staff) == catalogue.codes("A", "G", "F")
    just_after = (when["A"] + timedelta(microseconds=1)).isoformat()
    assert codes(await api.page(me, "customer", updated_to=just_after)) == catalogue.codes("A", "F")
    # a time without a zone is ambiguous: refused
    naive = when["A"].replace(tzinfo=None).isoformat()
    assert (await api.get("/orders", me, "customer", updated_from=naive)).status_code == 422


async def test_pages(catalogue: Catalogue, api: OrdersApi) -> None:
    me = catalogue.customer.id
    pages = [await api.page(me, "customer", page=n, page_size=4) for n in (1, 2, 3)]
    assert [len(p["items"]) for p in pages] == [4, 2, 0]
    assert [p["total"] for p in pages] == [6, 6, 6]
    assert codes(pages[0]) + codes(pages[1]) == catalogue.codes(*catalogue.newest_first())
    one_by_one = [
        code
        for n in range(1, 7)
        for code in codes(await api.page(me, "customer", page=n, page_size=1))
    ]
    assert one_by_one == catalogue.codes(*catalogue.newest_first())
    full = await api.page(me, "customer", page_size=100)
    assert len(full["items"]) == 6
    for bad in ({"page_size": 101}, {"page_size": 0}, {"page": 0}):
        assert (await api.get("/orders", me, "customer", **bad)).status_code == 422


async def test_staff_see_every_status_of_a_customer(catalogue: Catalogue, api: OrdersApi) -> None:
    me = catalogue.customer.id
    page = await api.page(customer_id=me)
    assert codes(page) == catalogue.codes(*catalogue.newest_first(staff=True))
    assert page["counts"] == tabs(
        awaiting_deposit=1, deposited=2, purchasing=2, purchased=1, cancelled=1
    )
    # without the customer filter, inside the seeding's update window: the same relative
    # order (orders of other tests may interleave)
    when = catalogue.updated_at().values()
    everyone = await api.everything(
        updated_from=min(when).isoformat(), updated_to=max(when).isoformat()
    )
    ours = set(catalogue.codes(*catalogue.orders))
    assert [c for c in codes(everyone) if c in ours] == catalogue.codes(
        *catalogue.newest_first(staff=True)
    )
    # a customer's own customer_id filter changes nothing; another's shows nothing
    assert codes(await api.page(me, "customer", customer_id=me)) == catalogue.codes(
        *catalogue.newest_first()
    )
    assert codes(await api.page(me, "customer", customer_id="somebody-else")) == []


async def test_an_order_cancelled_before_its_deposit_is_never_listed_to_the_customer(
    bus: Bus, api: OrdersApi
) -> None:
    customer = builders.customer()
    me = customer.id
    never_paid = await flows.place(bus, customer)
    await flows.accepted(bus, o.CancelOrder(actor=customer, order_id=never_paid.order_id))
    paid_then_cancelled = await flows.place(bus, customer)
    await flows.pay_deposit(bus, paid_then_cancelled)
    await flows.accepted(bus, o.CancelOrder(actor=customer, order_id=paid_then_cancelled.order_id))
    await api.ledger_settled(bus, never_paid.order_id, paid_then_cancelled.order_id)

    page = await api.page(me, "customer")
    assert codes(page) == [paid_then_cancelled.code]
    assert page["counts"] == tabs(cancelled=1)
    assert page["total"] == 1
    cancelled_tab = await api.page(me, "customer", status="cancelled")
    assert (codes(cancelled_tab), cancelled_tab["total"]) == ([paid_then_cancelled.code], 1)
    assert codes(await api.page(me, "customer", code=never_paid.code)) == []
    for fmt in ("csv", "xlsx"):
        exported = await api.get("/orders/export", me, "customer", format=fmt)
        assert exported.status_code == 200, exported.text
        rows = _csv(exported.content) if fmt == "csv" else _xlsx(exported.content)
        assert [r["code"] for r in rows] == [paid_then_cancelled.code]
    # its owner still reaches its page, as before the deposit; staff see both everywhere
    mine = await api.detail(never_paid.order_id, me, "customer")
    assert mine["status"] == "cancelled"
    staff = await api.page(customer_id=me)
    assert sorted(codes(staff)) == sorted([never_paid.code, paid_then_cancelled.code])
    assert staff["counts"] == tabs(cancelled=2)
    exported = await api.get("/orders/export", customer_id=me)
    assert sorted(r["code"] for r in _csv(exported.content)) == sorted(
        [never_paid.code, paid_then_cancelled.code]
    )


# --- export ---------------------------------------------------------------------------------


def _csv(content: bytes) -> list[dict[str, str]]:
    text = content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def _xlsx(content: bytes) -> list[dict[str, Any]]:
    sheet = load_workbook(io.BytesIO(content), read_only=True)["orders"]
    header, *rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(header, row, strict=True)) for row in rows]


def _same_as_listed(row: dict[str, Any], listed: dict[str, Any], *, excel: bool) -> None:
    assert row["code"] == listed["code"]
    assert row["order_id"] == listed["order_id"]
    assert row["customer_id"] == listed["customer_id"]
    assert row["website"] == listed["website"]
    assert row["status"] == listed["status"]
    assert row["status_label"] == listed["status_label"]["vi"]
    assert row["payment_status"] == listed["payment_status"]
    assert int(row["goods_total_vnd"]) == listed["goods_total_vnd"]
    for field in ("created_at", "updated_at"):
        expected = datetime.fromisoformat(listed[field])
        if excel:  # Excel keeps UTC date-times without a zone, to the millisecond
            assert abs(row[field].replace(tzinfo=UTC) - expected) < timedelta(milliseconds=1)
        else:
            assert datetime.fromisoformat(row[field]) == expected


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("filters", [{}, {"website": "taobao"}, {"status": "deposited"}])
async def test_the_export_is_the_filtered_list(
    catalogue: Catalogue, api: OrdersApi, fmt: str, filters: dict[str, str]
) -> None:
    me = catalogue.customer.id
    listed = await api.everything(me, "customer", **filters)
    response = await api.get("/orders/export", me, "customer", format=fmt, **filters)
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="orders-')
    assert disposition.endswith(f'.{fmt}"')
    if fmt == "csv":
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        rows = _csv(response.content)
    else:
        assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
        rows = _xlsx(response.content)
    assert len(rows) == len(listed) > 0
    for row, summary in zip(rows, listed, strict=True):
        _same_as_listed(row, summary, excel=fmt == "xlsx")


async def test_staff_export_a_customers_orders(catalogue: Catalogue, api: OrdersApi) -> None:
    response = await api.get("/orders/export", customer_id=catalogue.customer.id)
    assert [r["code"] for r in _csv(response.content)] == catalogue.codes(
        *catalogue.newest_first(staff=True)
    )
    bad = await api.get("/orders/export", format="pdf")
    assert bad.status_code == 422


# --- the invoice ----------------------------------------------------------------------------


async def test_the_invoice_of_an_order(catalogue: Catalogue, api: OrdersApi) -> None:
    seeded = catalogue.orders["E"]
    assert seeded.order is not None
    response = await api.get(
        f"/orders/{seeded.order.order_id}/invoice.pdf", catalogue.customer.id, "customer"
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'inline; filename="{seeded.code}.pdf"'
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    for expected in (seeded.code, "HÓA ĐƠN", "Đã mua hàng", "Áo khoác", "70.000 ₫", "E Phố Huế"):
        assert expected in text, expected


# --- who sees what --------------------------------------------------------------------------


async def test_a_customer_cannot_read_export_or_print_another_customers_orders(
    catalogue: Catalogue, api: OrdersApi, bus: Bus
) -> None:
    a = catalogue.customer.id
    b_order = await flows.drive_to(bus, S.DEPOSITED)
    b = b_order.customer.id
    a_order = catalogue.orders["A"].order
    assert a_order is not None

    for owner, order_id, intruder in ((b, b_order.order_id, a), (a, a_order.order_id, b)):
        for path in (f"/orders/{order_id}", f"/orders/{order_id}/invoice.pdf"):
            assert (await api.get(path, owner, "customer")).status_code == 200
            assert (await api.get(path)).status_code == 200  # staff
            hidden = await api.get(path, intruder, "customer")
            unknown_path = path.replace(str(order_id), str(uuid4()))
            unknown = await api.get(unknown_path, intruder, "customer")
            assert hidden.status_code == unknown.status_code == 404
            assert hidden.json() == unknown.json()  # nothing tells them apart
    assert b_order.code not in codes(await api.everything(a, "customer"))
    assert codes(await api.page(a, "customer", customer_id=b)) == []
    assert codes(await api.page(a, "customer", code=b_order.code)) == []
    for fmt in ("csv", "xlsx"):
        exported = await api.get("/orders/export", a, "customer", format=fmt)
        rows = _csv(exported.content) if fmt == "csv" else _xlsx(exported.content)
        assert {r["customer_id"] for r in rows} == {a}
        assert b_order.code not in {r["code"] for r in rows}
    assert codes(await api.page(b, "customer")) == [b_order.code]


def _unauthorized_tokens() -> dict[str, dict[str, str]]:
    now = datetime.now(UTC)

    def signed(claims: dict[str, Any], secret: str = JWT_SECRET) -> dict[str, str]:
        return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}

    expires = int((now + timedelta(hours=1)).timestamp())
    return {
        "missing": {},
        "not a bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
        "malformed": {"Authorization": "Bearer not-a-jwt"},
        "expired": bearer("cust-1", ttl=-60),
        "wrong secret": bearer("cust-1", secret="somebody-elses-secret-0123456789abcdef"),
        "no sub": signed({"role": "customer", "exp": expires}),
        "unknown role": signed({"sub": "cust-1", "role": "admin", "exp": expires}),
        "no expiry": signed({"sub": "cust-1", "role": "customer"}),
        "tampered signature": {"Authorization": f"Bearer {token('cust-1')[:-4]}AAAA"},
    }


@pytest.mark.parametrize("case", list(_unauthorized_tokens()))
async def test_requests_without_a_valid_token_are_unauthorized(
    catalogue: Catalogue, api: OrdersApi, case: str
) -> None:
    headers = _unauthorized_tokens()[case]
    a = catalogue.orders["A"].order
    assert a is not None
    for path in (
        "/orders",
        "/orders/export",
        f"/orders/{a.order_id}",
        f"/orders/{a.order_id}/invoice.pdf",
    ):
        response = await api.http.get(path, headers=headers)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"


async def test_the_openapi_document_describes_the_read_api(api: OrdersApi) -> None:
    document = (await api.http.get("/openapi.json")).json()
    paths = document["paths"]
    assert {
        "/orders",
        "/orders/export",
        "/orders/{order_id}",
        "/orders/{order_id}/invoice.pdf",
    } <= set(paths)
    parameters = {p["name"] for p in paths["/orders"]["get"]["parameters"]}
    assert {"status", "website", "code", "updated_from", "updated_to", "page", "page_size"} <= (
        parameters
    )
    detail = paths["/orders/{order_id}"]["get"]["responses"]["200"]["content"]
    assert detail["application/json"]["schema"] == {"$ref": "#/components/schemas/OrderDetail"}
    tabs_of_detail = document["components"]["schemas"]["OrderDetail"]["properties"]
    assert {"info", "history", "transactions", "packages", "complaints"} <= set(tabs_of_detail)
