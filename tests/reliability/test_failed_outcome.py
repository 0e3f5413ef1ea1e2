"""Issue 16 item 2: a command whose handler keeps failing (not an outage: a bug, here a
database trigger that raises) gets one outcome the caller can act on, ``failed``
(``processing_failed``), on its ``reply_to`` within the retry budget, and is dead-lettered
for an operator. Replayed after the cause is fixed, its real outcome (``accepted``) follows
to the same ``reply_to``, and the order exists once."""

from __future__ import annotations

import asyncio
import json
import time

import aio_pika
import asyncpg
from azl_testing import builders
from azl_testing.bus import Bus

from azl_contracts.topology import REPLIES_EXCHANGE

from .faults import FaultPlatform, service_database
from .test_replay import azl, listing

ATTEMPTS = 3  # AZL_UNEXPECTED_MAX_ATTEMPTS: a bug is retried a few times, not twelve
BREAK_PLACEMENTS = """
CREATE FUNCTION azl_test_refuse_orders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'injected by the test: orders cannot be written'; END $$;
CREATE TRIGGER azl_test_refuse_orders BEFORE INSERT ON orders
    FOR EACH ROW EXECUTE FUNCTION azl_test_refuse_orders();
"""
FIX_PLACEMENTS = "DROP TRIGGER azl_test_refuse_orders ON orders"


async def run_sql(bus: Bus, sql: str) -> None:
    conn = await asyncpg.connect(service_database(bus.infra, "orders"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_a_command_that_keeps_failing_is_answered_failed_then_its_replay_answered(
    platform: FaultPlatform, bus: Bus
) -> None:
    platform.start("orders", env={"AZL_UNEXPECTED_MAX_ATTEMPTS": str(ATTEMPTS)})
    await run_sql(bus, BREAK_PLACEMENTS)
    connection = await aio_pika.connect(bus.infra.url_as("bus"))
    try:
        channel = await connection.channel()
        replies = await channel.declare_queue(exclusive=True, auto_delete=True)
        # as azl_client does: replies travel through the namespace's replies exchange
        await replies.bind(bus.infra.name(REPLIES_EXCHANGE), routing_key=replies.name)
        outcomes: asyncio.Queue[dict[str, object]] = asyncio.Queue()

        async def on_reply(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            await outcomes.put(json.loads(message.body))

        await replies.consume(on_reply, no_ack=True)
        placement = builders.place_order(builders.customer(), items=[builders.item("100.00")])
        sent_at = time.monotonic()
        command_id = await bus.publish(placement, reply_to=replies.name)

        first = await asyncio.wait_for(outcomes.get(), 60)
        answered_after = time.monotonic() - sent_at
        assert first["status"] == "failed", first
        assert first["reason_code"] == "processing_failed"
        assert first["command_id"] == command_id
        assert first["details"] == {
            "attempts": ATTEMPTS,
            "dead_letter_queue": bus.infra.name("orders.commands.dlq"),
        }
        letters = await listing(bus, "--queue", "orders.commands")
        assert [letter["message_id"] for letter in letters] == [command_id]

        await run_sql(bus, FIX_PLACEMENTS)
        replayed = await asyncio.to_thread(
            azl, bus, "dlq", "replay", "--all", "--queue", "orders.commands"
        )
        assert "1 message(s) replayed" in replayed
        second = await asyncio.wait_for(outcomes.get(), 60)
        assert second["status"] == "accepted", second
        assert second["command_id"] == command_id
        placed = await bus.wait_for_order("orders.order.placed", placement.order_id)
        assert len(placed) == 1
        assert await listing(bus, "--queue", "orders.commands") == []
        print(f"\nfailed outcome after {answered_after:.2f} s ({ATTEMPTS} attempts)")
    finally:
        await connection.close()
