"""``azl_client`` against the platform, as an integrating system uses it, and the CLI
commands built on it for newcomers: ``azl send`` of a payments event, ``azl pay-deposit``
and ``azl token``."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from uuid import UUID

import httpx
import jwt
import pytest
import pytest_asyncio
from azl_testing import builders, flows
from azl_testing.bus import Bus
from azl_testing.infra import BUS_ROLE, Infra
from azl_testing.processes import JWT_SECRET

from azl_client import Accepted, Client, Delivered, QueryRefused, Rejected, Subscription
from azl_contracts import fees as f
from azl_contracts import orders as o
from azl_contracts.common import ReasonCode

from .conftest import Platform


@pytest_asyncio.fixture
async def client(infra: Infra, platform: Platform) -> AsyncIterator[Client]:
    async with await Client.connect(
        infra.url_as(BUS_ROLE),
        namespace=infra.namespace,
        app_id="storefront",
        impersonating=infra.user_prefix,  # plays the storefront, staff tools and payments
    ) as connected:
        yield connected


async def test_a_command_ends_accepted_with_its_events_or_rejected_with_its_reason(
    client: Client,
) -> None:
    command = builders.place_order_v2(builders.customer())
    outcome = await client.send(command)
    assert isinstance(outcome, Accepted)
    assert [e.type for e in outcome.events] == [
        "orders.order.placed.v2",
        "orders.order.status-changed.v1",
    ]
    assert outcome.result is not None
    assert outcome.result["order_id"] == str(command.order_id)

    again = await client.send(command)  # the same order id: it exists
    assert isinstance(again, Rejected)
    assert again.reason_code is ReasonCode.DUPLICATE
    assert again.details == {"order_id": str(command.order_id)}


async def test_a_query_gets_its_typed_reply_or_is_refused(client: Client) -> None:
    quote = await client.ask(
        f.QuoteRequest.model_validate(
            {"items": [{"quantity": 2, "unit_price_cny": "8.50"}], "exchange_rate": "3500"}
        )
    )
    assert isinstance(quote, f.Quote)
    assert quote.goods_total_vnd == Decimal(59_500)
    with pytest.raises(QueryRefused) as refused:
        await client.ask(
            f.QuoteRequest.model_validate(
                {
                    "items": [{"quantity": 100_000, "unit_price_cny": "9999999999.99"}] * 200,
                    "exchange_rate": "99999999.9999",
                }
            )
        )
    assert refused.value.failed.reason_code == "limit_exceeded"


async def test_events_reach_a_subscriber_once_each_as_current_models(
    client: Client, bus: Bus
) -> None:
    """The subscriber gets the order's events as current models, and a copy of one (the same
    message id, as a redelivery would bring it) only once; the payments event the client
    emitted carries its broker user."""
    async with client.subscribe("orders.order.*") as events:
        order = await flows.place(bus)
        placed = await _next_of(events, order.order_id, "orders.order.placed.v2")
        assert isinstance(placed.event, o.OrderPlaced)
        assert placed.event.delivery.address.line == builders.ADDRESS.address_line
        [copy] = bus.seen("orders.order.placed", lambda e: e.message_id == placed.message_id)
        await bus.republish(copy)
        marker = await client.emit(builders.deposit(order.order_id, 1))
        while (delivered := await events.next()).causation_id != marker:  # a later event
            assert delivered.message_id != placed.message_id, "the copy was delivered again"
        assert events.duplicates == 1
    [emitted] = bus.seen("payments.deposit.received", lambda e: e.message_id == marker)
    assert emitted.app_id == "storefront"
    # stamped as its publisher (the client impersonates), and checked by RabbitMQ
    assert emitted.user_id == client.user_for(builders.deposit(order.order_id, 1))
    assert emitted.user_id == bus.infra.user("payments")


async def _next_of(events: Subscription, order_id: UUID, message_type: str) -> Delivered:
    while True:
        delivered = await events.next()
        ours = getattr(delivered.event, "order_id", None) == order_id
        if ours and delivered.message_type == message_type:
            return delivered


async def _azl(infra: Infra, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    environment = {
        **{k: v for k, v in os.environ.items() if k not in ("AZL_JWT_SECRET", "AZL_ENV")},
        "AZL_AMQP_URL": infra.url_as(BUS_ROLE),
        "AZL_NAMESPACE": infra.namespace,
        **(env or {}),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "azl_cli",
        *args,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_azl_sends_the_payments_systems_events(infra: Infra, bus: Bus) -> None:
    order = await flows.place(bus)
    half = order.required_deposit // 2
    body = json.dumps(
        {"order_id": str(order.order_id), "amount_vnd": str(half), "payment_id": "pay-cli-1"}
    )
    code, out, err = await _azl(infra, "send", "payments.deposit.received", body)
    assert code == 0, err
    assert out.strip() == "sent payments.deposit.received.v1"
    await bus.wait_for_order("orders.order.deposit-payment-recorded", order.order_id)

    code, out, err = await _azl(
        infra, "pay-deposit", str(order.order_id), str(order.required_deposit - half)
    )
    assert code == 0, err
    assert "orders.order.deposited.v1" in out

    code, _, err = await _azl(infra, "send", "orders.order.deposited", "{}")
    assert code == 2
    assert "published only by orders" in err


async def test_azl_token_mints_a_token_the_read_apis_take(
    infra: Infra, platform: Platform, bus: Bus
) -> None:
    order = await flows.place(bus)
    code, token, err = await _azl(
        infra,
        "token",
        "--role",
        "customer",
        "--sub",
        order.customer.id,
        env={"AZL_JWT_SECRET": JWT_SECRET},
    )
    assert code == 0, err
    claims = jwt.decode(token.strip(), JWT_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["role"]) == (order.customer.id, "customer")
    async with httpx.AsyncClient(base_url=platform.url("orders")) as http:
        response = await http.get(
            f"/orders/{order.order_id}", headers={"Authorization": f"Bearer {token.strip()}"}
        )
    assert response.status_code == 200

    code, _, err = await _azl(infra, "token", "--role", "staff", env={"AZL_ENV": "production"})
    assert code == 2
    assert "give the platform's secret" in err
