"""Messages that can never be processed end in the DLQ with a reason; the service goes on."""

from __future__ import annotations

import json
from uuid import uuid4

from azl_testing import builders, flows
from azl_testing.bus import Bus

DLQ = "orders.commands.dlq"


async def test_schema_invalid_command_is_dead_lettered_and_rejected(bus: Bus) -> None:
    command = json.loads(builders.place_order(builders.customer()).model_dump_json())
    command["items"][0]["quantity"] = 0
    reply = await bus.request_raw(
        json.dumps(command).encode(),
        routing_key="orders.place-order",
        message_type="orders.place-order.v1",
    )
    outcome = reply.json
    assert outcome["status"] == "rejected"
    assert outcome["reason_code"] == "validation_error"
    assert any(e["loc"] == "items.0.quantity" for e in outcome["details"]["errors"])
    rejected = await bus.wait_for(
        "orders.command.rejected", lambda e: e.json["command_id"] == outcome["command_id"]
    )
    assert rejected[0].json["reason_code"] == "validation_error"

    dead = await _dead_letter(bus, outcome["command_id"])
    assert dead.headers["x-azl-dead-letter-code"] == "schema_invalid"
    assert "quantity" in dead.headers["x-azl-dead-letter-reason"]
    assert dead.headers["x-azl-original-queue"].endswith(".orders.commands")
    assert json.loads(dead.body) == command  # the message itself, unchanged

    await flows.place(bus)  # the service keeps consuming


async def test_non_json_body_is_dead_lettered(bus: Bus) -> None:
    message_id = await bus.publish_raw(
        b"\x00 not json {", routing_key="orders.cancel-order", message_type="orders.cancel-order.v1"
    )
    dead = await _dead_letter(bus, message_id)
    assert dead.headers["x-azl-dead-letter-code"] == "not_json"
    assert dead.body == b"\x00 not json {"
    rejected = await bus.wait_for(
        "orders.command.rejected", lambda e: e.json["command_id"] == message_id
    )
    assert rejected[0].json["reason_code"] == "validation_error"
    await flows.place(bus)


async def test_unknown_command_type_is_rejected_and_dead_lettered(bus: Bus) -> None:
    message_id = await bus.publish_raw(
        b"{}", routing_key="orders.teleport", message_type="orders.teleport.v1"
    )
    rejected = await bus.wait_for(
        "orders.command.rejected", lambda e: e.json["command_id"] == message_id
    )
    assert rejected[0].json["reason_code"] == "unknown_command"
    dead = await _dead_letter(bus, message_id)
    assert dead.headers["x-azl-dead-letter-code"] == "unknown_type"


async def test_a_command_without_a_readable_id_is_only_dead_lettered(bus: Bus) -> None:
    marker = str(uuid4())
    await bus.publish_raw(
        json.dumps({"marker": marker}).encode(),
        routing_key="orders.cancel-order",
        message_type="orders.cancel-order.v1",
        message_id="not-a-uuid",
    )
    dead = await _find_dead_letter(bus, lambda m: marker.encode() in m.body)
    assert dead.headers["x-azl-dead-letter-code"] == "missing_message_id"
    await bus.settle(quiet=0.3)
    assert not bus.seen("orders.command.rejected", lambda e: e.correlation_id == "not-a-uuid")


_collected: list = []  # type: ignore[type-arg]


async def _find_dead_letter(bus: Bus, match):  # type: ignore[no-untyped-def]
    for _ in range(50):
        _collected.extend(await bus.drain_queue(DLQ, wait=0.2, expect=0))
        found = [m for m in _collected if match(m)]
        if found:
            return found[0]
    raise AssertionError("no such dead letter")


async def _dead_letter(bus: Bus, message_id: str):  # type: ignore[no-untyped-def]
    return await _find_dead_letter(bus, lambda m: m.message_id == message_id)
