"""The raw floor: the same work per command as the platform, hand-written with aio-pika and
asyncpg and nothing else — consume a command, one transaction writing the state row, an
inbox row and an outbox row, publish the event persistently with publisher confirms, ack.

Run as its own process (like a service): ``python bench/raw_floor.py AMQP_URL DSN NAMESPACE``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid

import aio_pika
import asyncpg

PREFETCH = 32
POOL = 10


async def main(amqp_url: str, dsn: str, namespace: str) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=POOL, max_size=POOL)
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    await channel.set_qos(prefetch_count=PREFETCH)
    events = await channel.declare_exchange(
        f"{namespace}.raw-events", aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.get_queue(f"{namespace}.raw.commands")

    async def handle(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        command = json.loads(message.body)
        event_id = uuid.uuid4()
        event = json.dumps({"order_id": command["order_id"], "event_id": str(event_id)}).encode()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE raw_state SET quantity = quantity + 1, version = version + 1 WHERE id = $1",
                uuid.UUID(command["order_id"]),
            )
            await conn.execute(
                "INSERT INTO raw_inbox (message_id) VALUES ($1)", uuid.UUID(message.message_id)
            )
            await conn.execute(
                "INSERT INTO raw_outbox (message_id, body) VALUES ($1, $2)", event_id, event
            )
        await events.publish(
            aio_pika.Message(
                event,
                message_id=str(event_id),
                correlation_id=message.message_id,
                headers={"x-causation-id": message.message_id},
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                content_type="application/json",
            ),
            routing_key="raw.order.quantities-increased",
        )
        await message.ack()

    await queue.consume(handle)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await connection.close()
    await pool.close()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(*sys.argv[1:4]))
