"""Forgeries (issue 14, PRODUCT.md §2 "Trust on the bus"), sent with the per-service
least-privilege broker users of this run — never guest, never the impersonating Bus.

Each is refused: it changes nothing (proved by a genuine message sent after it, whose
outcome would differ had the forgery been believed), and it is in the consuming queue's
DLQ with code ``forbidden``, its reason and who sent it. The Bus only observes and sends
the genuine messages."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from uuid import uuid4

import aio_pika
from azl_testing import builders, flows, ledger
from azl_testing.bus import Bus, Received
from azl_testing.complaints import open_complaint
from azl_testing.infra import Infra

from azl_client import Client
from azl_contracts import Actor, ActorRole, Message
from azl_contracts import orders as o
from azl_contracts.topology import COMMANDS_EXCHANGE, EVENTS_EXCHANGE
from azl_kit.dead_letters import CODE_HEADER, ORIGINAL_USER_ID_HEADER, REASON_HEADER

from .conftest import Platform


async def forge(infra: Infra, role: str, exchange: str, routing_key: str, message: Message) -> str:
    """``message`` published as ``role``'s broker user, stamped with that user (the broker
    refuses any other), under a routing key its permissions allow."""
    message_id = str(uuid4())
    connection = await aio_pika.connect(infra.url_as(role))
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        target = await channel.get_exchange(infra.name(exchange), ensure=False)
        await target.publish(
            aio_pika.Message(
                message.model_dump_json().encode(),
                message_id=message_id,
                type=message.message_type(),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                user_id=infra.user(role),
            ),
            routing_key=routing_key,
        )
    return message_id


async def refused(
    bus: Bus, dlq: str, message_id: str, reason: str, *, user: str | None
) -> Received:
    letter = await bus.dead_letter(dlq, message_id)
    assert letter.headers[CODE_HEADER] == "forbidden"
    assert reason in str(letter.headers[REASON_HEADER]), letter.headers[REASON_HEADER]
    assert letter.headers.get(ORIGINAL_USER_ID_HEADER) == user
    return letter


async def test_a_deposit_typed_message_under_a_command_key_is_refused(
    infra: Infra, platform: Platform, bus: Bus
) -> None:
    order = await flows.place(bus)
    forged = builders.deposit(order.order_id, order.required_deposit)

    message_id = await forge(infra, "storefront", COMMANDS_EXCHANGE, "orders.place-order", forged)

    await refused(
        bus, "orders.commands.dlq", message_id, "does not belong", user=infra.user("storefront")
    )
    genuine = await bus.emit(builders.deposit(order.order_id, order.required_deposit))
    [deposited] = await bus.wait_for_order("orders.order.deposited", order.order_id)
    assert deposited.causation_id == genuine  # the forged deposit never counted


async def test_a_refund_typed_message_under_the_quote_key_is_refused(
    infra: Infra, platform: Platform, bus: Bus
) -> None:
    order = await flows.drive_to(bus, flows.S.DEPOSITED)
    forged = ledger.refund_approved(order.order_id, order.customer.id, 777_777)

    message_id = await forge(infra, "storefront", COMMANDS_EXCHANGE, "fees.quote", forged)

    await refused(
        bus, "fees.commands.dlq", message_id, "does not belong", user=infra.user("storefront")
    )
    await _only_the_genuine_refund_counts(bus, order.order_id, order.customer.id)


async def test_a_staff_command_from_the_payments_user_is_refused(
    infra: Infra, platform: Platform, bus: Bus
) -> None:
    order = await flows.drive_to(bus, flows.S.DEPOSITED)
    forged = o.StartPurchasing(actor=builders.STAFF, order_id=order.order_id)

    message_id = await forge(
        infra, "payments", EVENTS_EXCHANGE, "payments.deposit.received", forged
    )

    await refused(
        bus, "orders.payment-events.dlq", message_id, "does not belong", user=infra.user("payments")
    )
    # still deposited: purchasing starts now, and only now
    await flows.accepted(bus, o.StartPurchasing(actor=builders.STAFF, order_id=order.order_id))


async def test_a_refund_published_by_orders_is_refused(
    infra: Infra, platform: Platform, bus: Bus
) -> None:
    order = await flows.drive_to(bus, flows.S.DEPOSITED)
    forged = ledger.refund_approved(order.order_id, order.customer.id, 424_242)

    message_id = await forge(infra, "orders", EVENTS_EXCHANGE, "orders.order.placed", forged)

    await refused(
        bus, "fees.order-events.dlq", message_id, "does not belong", user=infra.user("orders")
    )
    await _only_the_genuine_refund_counts(bus, order.order_id, order.customer.id)


async def test_a_status_change_published_by_fees_is_refused(
    infra: Infra, platform: Platform, bus: Bus
) -> None:
    order = await flows.drive_to(bus, flows.S.DEPOSITED)
    forged = o.OrderStatusChanged.model_validate(
        {
            "order_id": str(order.order_id),
            "order_code": order.code,
            "customer_id": order.customer.id,
            "occurred_at": "2026-01-01T00:00:00Z",
            "order_version": 99,
            "from_status": "delivering",
            "to_status": "delivered",
            "actor": builders.STAFF.model_dump(),
        }
    )

    message_id = await forge(infra, "fees", EVENTS_EXCHANGE, "fees.ledger.updated", forged)

    await refused(
        bus, "complaints.ledger-events.dlq", message_id, "does not belong", user=infra.user("fees")
    )
    # complaints still knows the order as deposited: no complaint can be opened on it
    reply = await bus.request(open_complaint(order.customer, order.order_id))
    assert reply["status"] == "rejected", reply


async def test_a_customer_claiming_staff_through_the_storefront_is_refused(
    infra: Infra, platform: Platform, bus: Bus
) -> None:
    order = await flows.drive_to(bus, flows.S.DEPOSITED)
    as_staff = Actor(id=order.customer.id, role=ActorRole.STAFF)
    command = o.StartPurchasing(actor=as_staff, order_id=order.order_id)

    async with await Client.connect(
        infra.url_as("storefront"), namespace=infra.namespace, app_id="forger"
    ) as storefront:
        message_id = str(uuid4())
        reply = (await storefront.request(command, message_id=message_id)).json

    assert (reply["status"], reply["reason_code"]) == ("rejected", "forbidden")
    assert reply["message"] == "storefront may not send orders.start-purchasing as staff"
    await refused(bus, "orders.commands.dlq", message_id, "as staff", user=infra.user("storefront"))
    await flows.accepted(bus, o.StartPurchasing(actor=builders.STAFF, order_id=order.order_id))


async def test_a_command_without_user_id_is_refused(
    infra: Infra, platform: Platform, bus: Bus
) -> None:
    order = await flows.place(bus)
    command = o.CancelOrder(actor=order.customer, order_id=order.order_id)

    async with await Client.connect(
        infra.url_as("storefront"), namespace=infra.namespace, app_id="forger"
    ) as storefront:
        message_id = str(uuid4())
        raw = await storefront.request_raw(
            command.model_dump_json().encode(),
            routing_key=command.routing_key(),
            exchange=COMMANDS_EXCHANGE,
            message_type=command.message_type(),
            message_id=message_id,
            user_id="",  # none
        )
    reply: dict[str, Any] = json.loads(raw.body)

    assert (reply["status"], reply["reason_code"]) == ("rejected", "forbidden")
    await refused(bus, "orders.commands.dlq", message_id, "no user_id", user=None)
    await flows.accepted(bus, command.model_copy())  # the order was not cancelled


async def _only_the_genuine_refund_counts(bus: Bus, order_id: Any, customer_id: str) -> None:
    """A genuine refund of 1,000 ₫ after the forgery: the ledger's refunds are exactly it."""
    await bus.emit(ledger.refund_approved(order_id, customer_id, 1_000))
    snapshot = await ledger.ledger_when(
        bus, order_id, lambda s: Decimal(s["refunds_total_vnd"]) > 0
    )
    assert Decimal(snapshot["refunds_total_vnd"]) == 1_000
