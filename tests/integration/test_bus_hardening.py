"""Commands an attacker (or a broken publisher) might send: NUL characters, a second copy
of a message with another body while the first is being processed, a forged delivery
count. Each gets its one outcome and nothing else."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

from azl_testing import builders, flows
from azl_testing.bus import Bus, Received

DLQ = "orders.commands.dlq"


def _place_order() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(builders.place_order(builders.customer()).model_dump_json())
    return body


async def _rejected(bus: Bus, body: dict[str, Any]) -> dict[str, Any]:
    reply = await bus.request_raw(
        json.dumps(body).encode(),
        routing_key="orders.place-order",
        message_type="orders.place-order.v1",
    )
    outcome: dict[str, Any] = reply.json
    return outcome


async def test_a_nul_in_a_nested_string_is_a_validation_error_with_its_reply(bus: Bus) -> None:
    command = _place_order()
    command["items"][0]["title"] = "Áo\x00khoác"
    outcome = await _rejected(bus, command)
    assert outcome["status"] == "rejected"
    assert outcome["reason_code"] == "validation_error"
    assert "NUL" in outcome["message"]
    assert outcome["details"]["errors"][0]["loc"] == "items.0.title"
    rejected = await bus.wait_for(
        "orders.command.rejected", lambda e: e.json["command_id"] == outcome["command_id"]
    )
    assert rejected[0].json["reason_code"] == "validation_error"
    await flows.place(bus)  # the service goes on


async def test_a_nul_in_a_key_or_where_the_schema_fails_is_a_validation_error(bus: Bus) -> None:
    in_key = _place_order()
    in_key["items"][0]["no\x00te"] = "x"
    # the schema fails too, on a value whose error message echoes the NUL
    in_bad_value = _place_order()
    in_bad_value["order_id"] = "\x00" * 8
    for command in (in_key, in_bad_value):
        outcome = await _rejected(bus, command)
        assert outcome["status"] == "rejected", outcome
        assert outcome["reason_code"] == "validation_error"
        assert not _has_nul(outcome)


async def _drain_until(bus: Bus, marker: str) -> list[Received]:
    """Every dead letter of the orders command queue up to ``marker``'s own."""
    taken: list[Received] = []
    for _ in range(100):
        taken += await bus.drain_queue(DLQ, wait=0.1, expect=0)
        if any(m.message_id == marker for m in taken):
            return taken
    raise AssertionError("the marker never reached the DLQ")


async def test_a_second_copy_with_another_body_back_to_back_is_only_a_duplicate(
    bus: Bus,
) -> None:
    await bus.drain_queue(DLQ, wait=0.1, expect=0)
    pairs = 10
    ids = [str(uuid4()) for _ in range(pairs)]
    for message_id in ids:
        valid = _place_order()
        invalid = dict(valid, items=[])  # schema-invalid: an order needs items
        for body in (valid, invalid):
            await bus.publish_raw(
                json.dumps(body).encode(),
                routing_key="orders.place-order",
                message_type="orders.place-order.v1",
                message_id=message_id,
            )

    def outcomes_of(message_id: str) -> list[Received]:
        return bus.seen("orders.order.placed", lambda e: e.causation_id == message_id) + bus.seen(
            "orders.command.rejected", lambda e: e.json["command_id"] == message_id
        )

    # each id's first outcome (the copies are handled concurrently, in no set order) ...
    sent = set(ids)
    await bus.wait_for(
        "orders.",
        lambda e: e.causation_id in sent or e.json.get("command_id") in sent,
        count=pairs,
        timeout=30,
    )
    # ... then a poison command: once its letter is in the DLQ, the second copies' would be
    marker = await bus.publish_raw(
        b"not json", routing_key="orders.place-order", message_type="orders.place-order.v1"
    )
    letters = await _drain_until(bus, marker)
    await bus.wait_for(
        "orders.command.rejected", lambda e: e.json["command_id"] == marker, timeout=30
    )
    outcomes = {message_id: outcomes_of(message_id) for message_id in ids}
    counts = {message_id: len(found) for message_id, found in outcomes.items()}
    dead = [m.message_id for m in letters if m.message_id in set(ids)]
    print(f"duplicate copies: {pairs} pairs, {len(dead)} dead-lettered, outcomes {counts}")
    # whichever copy claims the id first is the message; the other changes nothing
    for message_id in ids:
        rejected = [e for e in outcomes[message_id] if e.type and "rejected" in e.type]
        assert counts[message_id] == 1, (message_id, counts)
        assert dead.count(message_id) == len(rejected), (message_id, dead)
    assert len(dead) < pairs, f"{len(dead)}/{pairs} second copies dead-lettered"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False
