"""A legacy version gets a route that upcasts before the handler; a retired one is refused
with ``version_retired``; the window's end is a setting that refuses typos."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from azl_contracts import orders as o
from azl_contracts.common import ReasonCode
from azl_kit.errors import VersionRetired
from azl_kit.handlers import Handlers
from azl_kit.settings import ServiceSettings

V1_BODY = {
    "actor": {"id": "cust-1", "role": "customer"},
    "items": [
        {
            "product_url": "https://item.taobao.com/item.htm?id=1",
            "title": "Áo",
            "quantity": 1,
            "unit_price_cny": "10.00",
        }
    ],
    "delivery_address": {
        "full_name": "Nguyễn Văn An",
        "phone": "0912345678",
        "address_line": "12 Phố Huế",
        "province": "Hà Nội",
        "district": "Hai Bà Trưng",
    },
    "exchange_rate": "3500",
}


class _Settings(ServiceSettings):
    SERVICE = "orders"


def handlers_seeing(seen: list[Any]) -> Handlers[Any]:
    async def place(command: o.PlaceOrder, uow: object) -> None:
        seen.append(command)

    handlers: Handlers[Any] = Handlers()
    handlers.add(o.PlaceOrder, place)
    return handlers


async def test_a_v1_command_reaches_the_handler_as_v2() -> None:
    seen: list[Any] = []
    route = handlers_seeing(seen).route("orders.place-order.v1")
    assert route is not None
    assert route.message is o.PlaceOrderV1  # what the body is validated against
    await route.handler(route.message.model_validate(V1_BODY), None)
    [command] = seen
    assert isinstance(command, o.PlaceOrder)
    assert command.delivery.address.line == "12 Phố Huế"
    assert command.delivery.recipient.phone == "0912345678"


async def test_a_retired_version_is_refused_with_its_reason() -> None:
    seen: list[Any] = []
    handlers = handlers_seeing(seen)
    handlers.retire(["orders.place-order.v1"])
    route = handlers.route("orders.place-order.v1")
    assert route is not None
    with pytest.raises(VersionRetired) as refused:
        await route.handler(route.message.model_validate(V1_BODY), None)
    assert refused.value.reason_code is ReasonCode.VERSION_RETIRED
    assert refused.value.details == {
        "message_type": "orders.place-order.v1",
        "current": "orders.place-order.v2",
    }
    assert seen == []
    assert handlers.route("orders.place-order.v2") is not None


def test_a_handler_is_written_against_the_current_version() -> None:
    async def place(command: o.PlaceOrderV1, uow: object) -> None: ...

    with pytest.raises(ValueError, match="legacy version"):
        Handlers().add(o.PlaceOrderV1, place)


def test_the_window_is_closed_by_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AZL_RETIRED_MESSAGE_TYPES", " orders.place-order.v1, orders.order.placed.v1 "
    )
    assert _Settings().retired_message_types == ("orders.place-order.v1", "orders.order.placed.v1")
    for wrong in ("orders.place-order.v2", "orders.place-order.v9"):
        monkeypatch.setenv("AZL_RETIRED_MESSAGE_TYPES", wrong)
        with pytest.raises(ValidationError, match="not a legacy message version"):
            _Settings()
