"""The trust checks (PRODUCT.md §2 "Trust on the bus"), without a broker: each forgery of
issue 14 is refused with its reason, and the genuine message of each publisher passes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from azl_contracts import Actor, ActorRole, Message, complaints, fees, orders, payments, trust
from azl_contracts.common import OrderStatus
from azl_contracts.topology import QueueSpec, queues_of
from azl_kit.authorisation import Authorisation, Untrusted
from azl_kit.envelope import Envelope
from azl_kit.handlers import Route

PREFIX = "azl-"
NOW = datetime.now(UTC)
ORDER = uuid4()
STAFF = Actor(id="staff-1", role=ActorRole.STAFF)
CUSTOMER = Actor(id="cust-1", role=ActorRole.CUSTOMER)
WAREHOUSE = Actor(id="warehouse", role=ActorRole.SYSTEM)

DEPOSIT = payments.DepositReceived(order_id=ORDER, amount_vnd=100_000, payment_id="p-1")
REFUND = complaints.RefundApproved(
    complaint_id=uuid4(),
    order_id=ORDER,
    customer_id="cust-1",
    status=complaints.ComplaintStatus.RESOLVED,
    actor=STAFF,
    occurred_at=NOW,
    amount_vnd=Decimal(777_777),
)
START = orders.StartPurchasing(actor=STAFF, order_id=ORDER)
ADVANCE = orders.AdvanceShipping(
    actor=WAREHOUSE, order_id=ORDER, to_status=OrderStatus.SELLER_SHIPPED
)
STATUS = orders.OrderStatusChanged(
    order_id=ORDER,
    order_code="AZ00000001",
    customer_id="cust-1",
    order_version=9,
    occurred_at=NOW,
    from_status=OrderStatus.DELIVERING,
    to_status=OrderStatus.DELIVERED,
    actor=STAFF,
)


def queue(service: str, name: str) -> QueueSpec:
    return next(q for q in queues_of(service) if q.name == f"{service}.{name}")


def arriving(
    message: Message,
    on: QueueSpec,
    *,
    user: str | None,
    routing_key: str | None = None,
) -> tuple[Envelope, Route, Message]:
    envelope = Envelope(
        queue=f"azl.{on.name}",
        body=b"",
        raw_message_id=None,
        message_id=None,
        correlation_id=None,
        message_type=message.message_type(),
        reply_to=None,
        content_type="application/json",
        app_id=None,
        exchange=f"azl.{on.exchange}",
        routing_key=message.routing_key() if routing_key is None else routing_key,
        headers={},
        delivery_count=0,
        properties={},
        user_id=user,
    )
    return envelope, Route(type(message), _never), message


async def _never(*_: Any) -> None:
    raise AssertionError("not called")


def refusal(message: Message, on: QueueSpec, **kwargs: Any) -> str | None:
    refused = Authorisation.trusted(on, PREFIX)(*arriving(message, on, **kwargs))
    if refused is None:
        return None
    assert isinstance(refused, Untrusted) or refused.reason_code.value == "forbidden"
    return refused.message


def test_each_publisher_s_own_messages_are_believed() -> None:
    assert refusal(DEPOSIT, queue("orders", "payment-events"), user="azl-payments") is None
    assert refusal(REFUND, queue("fees", "complaint-events"), user="azl-complaints") is None
    assert refusal(START, queue("orders", "commands"), user="azl-staff-tools") is None
    assert refusal(ADVANCE, queue("orders", "commands"), user="azl-warehouse") is None
    assert refusal(STATUS, queue("complaints", "order-events"), user="azl-orders") is None


@pytest.mark.parametrize(
    ("message", "on", "user", "routing_key", "reason"),
    [
        # issue 14's table: a type on a queue it does not belong to, under another's key
        (DEPOSIT, ("orders", "commands"), "azl-storefront", "orders.place-order", "belong"),
        (REFUND, ("fees", "commands"), "azl-storefront", "fees.quote", "belong"),
        (START, ("orders", "payment-events"), "azl-payments", "payments.deposit.received", ""),
        (REFUND, ("fees", "complaint-events"), "azl-orders", "orders.order.placed", "key"),
        (STATUS, ("complaints", "order-events"), "azl-fees", "fees.ledger.updated", "key"),
        # right queue and key, wrong publisher
        (REFUND, ("fees", "complaint-events"), "azl-orders", None, "may not publish"),
        (DEPOSIT, ("orders", "payment-events"), "azl-orders", None, "may not publish"),
        (START, ("orders", "commands"), "azl-storefront", None, "as staff"),
        (START, ("orders", "commands"), "azl-payments", None, "as staff"),
        (ADVANCE, ("orders", "commands"), "azl-storefront", None, ""),
        (START, ("orders", "commands"), "azl-warehouse", None, "may not send"),
        # no publisher, or one the deployment does not know
        (DEPOSIT, ("orders", "payment-events"), None, None, "no user_id"),
        (DEPOSIT, ("orders", "payment-events"), "guest", None, "not a publisher"),
        (DEPOSIT, ("orders", "payment-events"), "other-payments", None, "not a publisher"),
        (DEPOSIT, ("orders", "payment-events"), "azl-bank", None, "not a publisher"),
    ],
)
def test_forgeries_are_refused_with_their_reason(
    message: Message, on: tuple[str, str], user: str | None, routing_key: str | None, reason: str
) -> None:
    why = refusal(message, queue(*on), user=user, routing_key=routing_key)
    assert why is not None
    assert reason in why


def test_a_customer_may_not_claim_staff_through_the_storefront() -> None:
    forged = orders.StartPurchasing(actor=Actor(id="cust-1", role=ActorRole.STAFF), order_id=ORDER)
    why = refusal(forged, queue("orders", "commands"), user="azl-storefront")
    assert why == "storefront may not send orders.start-purchasing as staff"


def test_a_customer_command_through_the_storefront_is_believed() -> None:
    cancel = orders.CancelOrder(actor=CUSTOMER, order_id=ORDER)
    assert refusal(cancel, queue("orders", "commands"), user="azl-storefront") is None
    assert refusal(cancel, queue("orders", "commands"), user="azl-staff-tools") is not None


def test_queries_only_from_clients() -> None:
    quote = fees.QuoteRequest.model_validate(
        {"items": [{"quantity": 1, "unit_price_cny": "10.00"}], "exchange_rate": "3500"}
    )
    assert refusal(quote, queue("fees", "commands"), user="azl-storefront") is None
    assert refusal(quote, queue("fees", "commands"), user="azl-orders") is not None


def test_every_event_type_has_exactly_one_publisher() -> None:
    from azl_contracts import MessageKind, registry

    for event in registry.of_kind(MessageKind.EVENT):
        owners = [p for p in trust.POLICIES.values() if p.may_publish_event(event)]
        assert [o.name for o in owners] == [event.owner()], event.message_type()


def test_a_deployment_names_its_users_once() -> None:
    assert trust.user_name("azl-", "orders") == "azl-orders"
    assert trust.publisher_of("azl-", "azl-staff-tools") == trust.POLICIES["staff-tools"]
    assert trust.publisher_of("azl-", "azl-admin") is None
    assert trust.publisher_of("azl-", None) is None


def test_a_replay_straight_into_its_queue_is_judged_by_its_original_publisher() -> None:
    """``azl dlq replay`` puts a letter back through the default exchange, keyed by the
    queue's name: that key is not the type's, but the publisher checks still decide."""
    on = queue("orders", "payment-events")

    def replayed(user: str) -> str | None:
        envelope, route, message = arriving(DEPOSIT, on, user=user)
        envelope = replace(envelope, exchange="", routing_key=envelope.queue)
        refused = Authorisation.trusted(on, PREFIX)(envelope, route, message)
        return None if refused is None else refused.message

    assert replayed("azl-payments") is None
    assert "may not publish" in (replayed("azl-orders") or "")
