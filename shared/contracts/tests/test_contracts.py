from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import ValidationError

from azl_contracts import MessageKind, registry
from azl_contracts import orders as o
from azl_contracts import payments as p
from azl_contracts.export import DEFAULT_OUT, DEFAULT_PUBLISHED, differences, unrecorded
from azl_contracts.topology import SERVICES, all_queues, consumers_of, routing_key_matches

ACTOR = {"id": "cust-1", "role": "customer"}


def test_the_committed_export_matches_the_code() -> None:
    assert differences(DEFAULT_OUT) == [], "run `uv run azl-contracts-export`"
    assert unrecorded(DEFAULT_PUBLISHED) == [], "run `uv run azl-contracts-export`"


def test_commands_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="extra"):
        o.CancelOrder.model_validate({"actor": ACTOR, "order_id": str(uuid4()), "force": True})


def test_events_ignore_unknown_fields() -> None:
    event = p.DepositReceived.model_validate(
        {"order_id": str(uuid4()), "amount_vnd": "100", "payment_id": "p1", "new_field": 1}
    )
    assert event.amount_vnd == Decimal(100)


@pytest.mark.parametrize("amount", ["100.5", "-1", "1e30"])
def test_vnd_is_whole_non_negative_dong(amount: str) -> None:
    with pytest.raises(ValidationError):
        p.DepositReceived.model_validate(
            {"order_id": str(uuid4()), "amount_vnd": amount, "payment_id": "p"}
        )


def test_vnd_accepts_whole_numbers_written_as_decimals() -> None:
    event = p.DepositReceived.model_validate(
        {"order_id": str(uuid4()), "amount_vnd": "70000.00", "payment_id": "p"}
    )
    assert event.amount_vnd == Decimal(70000)
    assert event.model_dump_json().count('"70000"') == 1


def test_actor_ids_are_at_most_64_characters() -> None:
    with pytest.raises(ValidationError):
        o.CancelOrder.model_validate(
            {"actor": {"id": "x" * 65, "role": "customer"}, "order_id": str(uuid4())}
        )


def test_increase_quantities_takes_a_new_quantity_or_an_addition() -> None:
    item_id = str(uuid4())
    base = {"actor": ACTOR, "order_id": str(uuid4())}
    o.IncreaseQuantities.model_validate({**base, "items": [{"item_id": item_id, "add": 1}]})
    with pytest.raises(ValidationError, match="exactly one"):
        o.IncreaseQuantities.model_validate(
            {**base, "items": [{"item_id": item_id, "add": 1, "quantity": 3}]}
        )


def test_message_types_are_versioned_names() -> None:
    for message in registry:
        assert message.message_type() == f"{message.NAME}.v{message.VERSION}"


def test_every_command_is_owned_by_a_service() -> None:
    for command in registry.of_kind(MessageKind.COMMAND):
        assert command.owner() in SERVICES


def test_event_queues_bind_exact_routing_keys_of_known_events() -> None:
    known = {m.routing_key() for m in registry.of_kind(MessageKind.EVENT)}
    for queue in all_queues():
        if queue.exchange == "events":
            assert set(queue.bindings) <= known, queue


def test_deposits_reach_orders_and_fees() -> None:
    assert {q.name for q in consumers_of(p.DepositReceived)} == {
        "orders.payment-events",
        "fees.payment-events",
    }


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("orders.#", "orders.cancel-order", True),
        ("orders.#", "orders", True),
        ("orders.*", "orders.order.placed", False),
        ("*.order.#", "orders.order.placed", True),
        ("fees.ledger.updated", "fees.ledger.updated", True),
        ("fees.ledger.updated", "fees.ledger", False),
    ],
)
def test_topic_matching(pattern: str, key: str, matches: bool) -> None:
    assert routing_key_matches(pattern, key) is matches
