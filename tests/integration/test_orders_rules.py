"""Bad input, one rule per test: each violation ends in exactly one ``orders.command.rejected``
with the rule's reason code, and changes nothing. Commands that break a field rule of the
contract are also dead-lettered (the kit's schema check); business rules are not."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
import pytest_asyncio
from azl_testing import builders, flows
from azl_testing.bus import Bus, Received
from azl_testing.orders_api import OrdersApi, caused_by

from azl_contracts import Command
from azl_contracts import orders as o
from azl_contracts.common import OrderStatus

from .conftest import Platform

S = OrderStatus
DLQ = "orders.commands.dlq"


@pytest_asyncio.fixture
async def api(platform: Platform) -> AsyncIterator[OrdersApi]:
    async with platform.http("orders") as http:
        yield OrdersApi(http)


async def rejected_alone(bus: Bus, reply: dict[str, Any], reason_code: str) -> dict[str, Any]:
    """The command's one outcome is a rejection with ``reason_code``, and nothing else."""
    assert reply["status"] == "rejected", reply
    assert reply["reason_code"] == reason_code, reply
    command_id = reply["command_id"]
    event = await bus.wait_for(
        "orders.command.rejected", lambda e: e.json["command_id"] == command_id
    )
    assert event[0].json["reason_code"] == reason_code
    await bus.settle(quiet=0.3)
    assert caused_by(bus, command_id) == ["orders.command.rejected.v1"]
    return reply


async def unchanged_after(
    bus: Bus, api: OrdersApi, order: flows.PlacedOrder, command: Command, reason_code: str
) -> dict[str, Any]:
    """Send ``command`` to an existing order: rejected, and the order is exactly as before."""
    await api.ledger_settled(bus, order.order_id)
    before = await api.detail(order.order_id)
    reply = await rejected_alone(bus, await bus.request(command), reason_code)
    assert await api.detail(order.order_id) == before
    return reply


_dead_letters: list[Received] = []


async def dead_lettered(bus: Bus, command_id: str) -> Received:
    for _ in range(100):
        _dead_letters.extend(await bus.drain_queue(DLQ, wait=0.1, expect=0))
        found = [m for m in _dead_letters if m.message_id == command_id]
        if found:
            return found[0]
    raise AssertionError(f"command {command_id} was not dead-lettered")


def place_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(builders.place_order(builders.customer()).model_dump_json())
    body.update(changes)
    return body


async def place_refused(
    bus: Bus, api: OrdersApi, body: dict[str, Any], reason_code: str, *, schema: bool
) -> dict[str, Any]:
    """A place-order that must be refused: no order exists afterwards; a schema violation is
    dead-lettered too."""
    received = await bus.request_raw(
        json.dumps(body).encode(),
        routing_key="orders.place-order",
        message_type="orders.place-order.v1",
    )
    reply = await rejected_alone(bus, received.json, reason_code)
    missing = await api.get(f"/orders/{body['order_id']}")
    assert missing.status_code == 404
    assert not bus.seen("orders.order.placed", lambda e: e.json["order_id"] == body["order_id"])
    if schema:
        dead = await dead_lettered(bus, reply["command_id"])
        assert dead.headers["x-azl-dead-letter-code"] == "schema_invalid"
        assert json.loads(dead.body) == body
    return reply


def error_locations(reply: dict[str, Any]) -> set[str]:
    return {e["loc"] for e in reply["details"]["errors"]}


# --- rules on an existing order ------------------------------------------------------------


async def test_a_quantity_decrease_is_refused(bus: Bus, api: OrdersApi) -> None:
    order = await flows.place(bus, items=[builders.item("20.00", 3), builders.item("5.00", 1)])
    await flows.pay_deposit(bus, order)
    first, second = order.item_ids
    command = o.IncreaseQuantities(
        actor=order.customer,
        order_id=order.order_id,
        items=[{"item_id": second, "add": 4}, {"item_id": first, "quantity": 2}],
    )
    reply = await unchanged_after(bus, api, order, command, "quantity_decrease_not_allowed")
    assert reply["details"] == {"item_id": str(first), "current": 3, "requested": 2}
    view = await api.detail(order.order_id)
    assert [i["quantity"] for i in view["info"]["items"]] == [3, 1]  # not even the +4


async def test_an_item_named_twice_is_refused(bus: Bus, api: OrdersApi) -> None:
    order = await flows.place(bus, items=[builders.item("20.00", 2), builders.item("5.00", 1)])
    await flows.pay_deposit(bus, order)
    first, second = order.item_ids
    command = o.IncreaseQuantities(
        actor=order.customer,
        order_id=order.order_id,
        items=[
            {"item_id": first, "add": 1},
            {"item_id": second, "add": 1},
            {"item_id": first, "add": 1},
        ],
    )
    reply = await unchanged_after(bus, api, order, command, "validation_error")
    assert reply["details"] == {"item_id": str(first)}
    view = await api.detail(order.order_id)
    assert [i["quantity"] for i in view["info"]["items"]] == [2, 1]


async def test_a_command_in_the_wrong_status_is_refused(bus: Bus, api: OrdersApi) -> None:
    order = await flows.place(bus)
    command = o.StartPurchasing(actor=builders.STAFF, order_id=order.order_id)
    reply = await unchanged_after(bus, api, order, command, "invalid_state")
    assert reply["details"] == {"status": "awaiting_deposit", "allowed": ["deposited"]}


async def test_another_customers_order_is_refused(bus: Bus, api: OrdersApi) -> None:
    order = await flows.drive_to(bus, S.DEPOSITED)
    intruder = builders.customer()
    command = o.IncreaseQuantities(
        actor=intruder, order_id=order.order_id, items=[{"item_id": order.item_ids[0], "add": 1}]
    )
    await unchanged_after(bus, api, order, command, "forbidden")


async def test_an_unknown_item_is_refused(bus: Bus, api: OrdersApi) -> None:
    order = await flows.drive_to(bus, S.DEPOSITED)
    unknown = uuid4()
    command = o.IncreaseQuantities(
        actor=order.customer, order_id=order.order_id, items=[{"item_id": unknown, "add": 1}]
    )
    reply = await unchanged_after(bus, api, order, command, "not_found")
    assert reply["details"] == {"item_id": str(unknown)}


async def test_a_staff_command_from_a_customer_is_refused(bus: Bus, api: OrdersApi) -> None:
    order = await flows.drive_to(bus, S.DEPOSITED)
    command = o.MarkItemsOrdered(
        actor=order.customer, order_id=order.order_id, item_ids=order.item_ids
    )
    reply = await unchanged_after(bus, api, order, command, "forbidden")
    assert reply["details"] == {"allowed_roles": ["staff"]}


async def test_an_unknown_order_is_refused(bus: Bus) -> None:
    reply = await bus.request(o.CancelOrder(actor=builders.customer(), order_id=uuid4()))
    await rejected_alone(bus, reply, "not_found")


@pytest.mark.parametrize("phone", ["+86 138 0013 8000", "0123", "call me"])
async def test_an_invalid_vietnamese_phone_is_refused(bus: Bus, api: OrdersApi, phone: str) -> None:
    order = await flows.drive_to(bus, S.PURCHASING)
    address = builders.ADDRESS.model_copy(update={"phone": phone})
    command = o.UpdateDeliveryAddress(
        actor=order.customer, order_id=order.order_id, delivery_address=address
    )
    reply = await unchanged_after(bus, api, order, command, "validation_error")
    assert reply["details"] == {"field": "phone"}

    body = place_body()
    body["delivery_address"]["phone"] = phone
    refused = await place_refused(bus, api, body, "validation_error", schema=False)
    assert refused["details"] == {"field": "phone"}


# --- rules of a new order ---------------------------------------------------------------


@pytest.mark.parametrize("field", ["full_name", "address_line", "province", "district"])
async def test_an_empty_address_field_is_refused(bus: Bus, api: OrdersApi, field: str) -> None:
    body = place_body()
    body["delivery_address"][field] = "   "
    reply = await place_refused(bus, api, body, "validation_error", schema=True)
    assert error_locations(reply) == {f"delivery_address.{field}"}


@pytest.mark.parametrize("quantity", [0, 100_001])
async def test_a_quantity_out_of_range_is_refused(bus: Bus, api: OrdersApi, quantity: int) -> None:
    body = place_body(items=[builders.item(quantity=1), builders.item()])
    body["items"][1]["quantity"] = quantity
    reply = await place_refused(bus, api, body, "validation_error", schema=True)
    assert error_locations(reply) == {"items.1.quantity"}


async def test_ordering_more_beyond_100000_is_refused(bus: Bus, api: OrdersApi) -> None:
    order = await flows.place(bus, items=[builders.item("1.00", 99_999)])
    await flows.pay_deposit(bus, order)
    command = o.IncreaseQuantities(
        actor=order.customer,
        order_id=order.order_id,
        items=[{"item_id": order.item_ids[0], "add": 2}],
    )
    await unchanged_after(bus, api, order, command, "validation_error")


@pytest.mark.parametrize("price", ["0", "0.00", "-1.00"])
async def test_a_price_that_is_not_positive_is_refused(
    bus: Bus, api: OrdersApi, price: str
) -> None:
    body = place_body()
    body["items"][0]["unit_price_cny"] = price
    reply = await place_refused(bus, api, body, "validation_error", schema=True)
    assert error_locations(reply) == {"items.0.unit_price_cny"}


@pytest.mark.parametrize("rate", ["0", "-3500"])
async def test_an_exchange_rate_that_is_not_positive_is_refused(
    bus: Bus, api: OrdersApi, rate: str
) -> None:
    reply = await place_refused(
        bus, api, place_body(exchange_rate=rate), "validation_error", schema=True
    )
    assert error_locations(reply) == {"exchange_rate"}


@pytest.mark.parametrize(
    "url",
    [
        "https://www.amazon.com/dp/B0001",
        "https://taobao.com.evil.example/item.htm?id=1",
        "https://shop.jd.com/item/1",
    ],
)
async def test_a_product_from_an_unsupported_website_is_refused(
    bus: Bus, api: OrdersApi, url: str
) -> None:
    body = place_body(items=[builders.item(), builders.item()])
    body["items"][1]["product_url"] = url
    reply = await place_refused(bus, api, body, "validation_error", schema=False)
    assert reply["details"] == {"product_url": url}


async def test_items_from_two_websites_are_refused(bus: Bus, api: OrdersApi) -> None:
    body = place_body(
        items=[builders.item(host="item.taobao.com"), builders.item(host="detail.tmall.com")]
    )
    reply = await place_refused(bus, api, body, "validation_error", schema=False)
    assert reply["details"] == {"websites": ["taobao", "tmall"]}


async def test_more_than_200_items_are_refused(bus: Bus, api: OrdersApi) -> None:
    body = place_body(items=[builders.item() for _ in range(201)])
    reply = await place_refused(bus, api, body, "validation_error", schema=True)
    assert error_locations(reply) == {"items"}
    # 200 is still one order
    accepted = await bus.request(
        builders.place_order(builders.customer(), items=[builders.item() for _ in range(200)])
    )
    assert accepted["status"] == "accepted"


# --- goods no money field could carry ---------------------------------------------------
# Every field within its own limits, the goods together above MAX_GOODS_TOTAL_VND (17
# digits, one below the 18-digit money fields): refused by name, not crashed on the event.

HUGE_RATE = "100000"  # 1 CNY of goods is 100,000 VND
GOODS_LIMIT = {"limit_vnd": "99999999999999999"}


async def test_a_new_order_whose_goods_no_field_could_carry_is_refused(
    bus: Bus, api: OrdersApi
) -> None:
    body = place_body(items=[builders.item("10000000", 100_000)], exchange_rate=HUGE_RATE)
    reply = await place_refused(bus, api, body, "limit_exceeded", schema=False)
    assert reply["details"] == {**GOODS_LIMIT, "goods_total_vnd": "100000000000000000"}


async def test_ordering_more_than_the_goods_limit_is_refused(bus: Bus, api: OrdersApi) -> None:
    order = await flows.place(bus, items=[builders.item("10000000", 10_000)], rate=HUGE_RATE)
    await flows.pay_deposit(bus, order)  # 70 % of 10^16 VND
    command = o.IncreaseQuantities(
        actor=order.customer,
        order_id=order.order_id,
        items=[{"item_id": order.item_ids[0], "quantity": 100_000}],
    )
    reply = await unchanged_after(bus, api, order, command, "limit_exceeded")
    assert reply["details"] == {**GOODS_LIMIT, "goods_total_vnd": "100000000000000000"}


async def test_a_reported_change_beyond_the_goods_limit_is_refused(
    bus: Bus, api: OrdersApi
) -> None:
    order = await flows.place(bus, items=[builders.item("10000000", 10_000)], rate=HUGE_RATE)
    await flows.pay_deposit(bus, order)
    await flows.accepted(bus, o.StartPurchasing(actor=builders.STAFF, order_id=order.order_id))
    change = o.ItemChange(item_id=order.item_ids[0], new_unit_price_cny=Decimal(100_000_000))
    command = o.ReportItemChange(actor=builders.STAFF, order_id=order.order_id, changes=[change])
    reply = await unchanged_after(bus, api, order, command, "limit_exceeded")
    assert reply["details"] == {**GOODS_LIMIT, "goods_total_vnd": "100000000000000000"}
    view = await api.detail(order.order_id)
    assert view["status"] == "purchasing"


async def test_confirming_changes_beyond_the_goods_limit_is_refused(
    bus: Bus, api: OrdersApi
) -> None:
    """The shop's two changes fit together; confirming the rise without the fall does not."""
    order = await flows.place(
        bus, items=[builders.item("100000000", 6_000), builders.item("1", 1)], rate=HUGE_RATE
    )
    await flows.pay_deposit(bus, order)
    oid, (falls, rises) = order.order_id, order.item_ids
    await flows.accepted(bus, o.StartPurchasing(actor=builders.STAFF, order_id=oid))
    changes = [
        o.ItemChange(item_id=falls, new_unit_price_cny=Decimal(1)),
        o.ItemChange(item_id=rises, new_quantity=50_000, new_unit_price_cny=Decimal(10_000_000)),
    ]
    await flows.accepted(
        bus, o.ReportItemChange(actor=builders.STAFF, order_id=oid, changes=changes)
    )
    command = o.ConfirmItems(actor=order.customer, order_id=oid, item_ids=[rises])
    reply = await unchanged_after(bus, api, order, command, "limit_exceeded")
    # 6,000 × 100,000,000 CNY (still unconfirmed) + 50,000 × 10,000,000 CNY, × 100,000
    assert reply["details"] == {**GOODS_LIMIT, "goods_total_vnd": "110000000000000000"}

    both = o.ConfirmItems(actor=order.customer, order_id=oid, item_ids=[falls, rises])
    await flows.accepted(bus, both)
    confirmed = await bus.wait_for_order("orders.order.items-confirmed", oid)
    assert Decimal(confirmed[0].json["goods"]["goods_total_vnd"]) == 50_000_000_600_000_000
