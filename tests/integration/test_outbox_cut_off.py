"""A handling cut off after its commit (aiormq cancels the handling of a connection that is
lost: a broker node gone) leaves its events in the outbox unpublished, and the delivery comes
back as a duplicate. The duplicate publishes them at once; before, they waited for the
outbox sweeper's grace period (about 10 s of outcomes missing after a failover)."""

from __future__ import annotations

from uuid import uuid4

import asyncpg
from azl_testing import builders
from azl_testing.bus import Bus
from azl_testing.infra import Infra

from azl_contracts import orders as o

# An event type no service consumes: only the test's observer, bound to every key, sees it.
LEFT_TYPE = "orders.test.left-behind"


async def test_a_duplicate_publishes_at_once_what_its_cut_off_handling_left(
    bus: Bus, infra: Infra
) -> None:
    command_id, left_id = uuid4(), uuid4()
    conn = await asyncpg.connect(
        infra.database_url("orders").replace("postgresql+asyncpg", "postgresql")
    )
    try:
        # the first handling's commit: its inbox row and its event, the event unpublished.
        # Stamped an hour ahead, so the sweeper (rows older than its grace) never takes it.
        await conn.execute(
            "INSERT INTO messaging_inbox (consumer, message_id, message_type)"
            " VALUES ('orders.commands', $1, 'orders.increase-quantities.v1')",
            command_id,
        )
        await conn.execute(
            "INSERT INTO messaging_outbox (message_id, exchange, routing_key, message_type,"
            " correlation_id, causation_id, headers, body, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, '{}'::jsonb, $7, now() + interval '1 hour')",
            left_id,
            infra.name("events"),
            LEFT_TYPE,
            f"{LEFT_TYPE}.v1",
            str(command_id),
            command_id,
            b'{"left": "behind"}',
        )
        command = o.IncreaseQuantities(
            actor=builders.customer(),
            order_id=uuid4(),
            items=[o.ItemQuantity(item_id=uuid4(), add=1)],
        )

        reply = await bus.request(command, message_id=str(command_id))

        assert reply["status"] == "accepted"
        assert reply["details"] == {"duplicate": True}
        [left] = await bus.wait_for(LEFT_TYPE, lambda e: e.message_id == str(left_id))
        assert left.body == b'{"left": "behind"}'
        assert left.causation_id == str(command_id)
        remaining = await conn.fetchval(
            "SELECT count(*) FROM messaging_outbox WHERE message_id = $1", left_id
        )
        assert remaining == 0
    finally:
        await conn.execute("DELETE FROM messaging_outbox WHERE message_id = $1", left_id)
        await conn.close()
