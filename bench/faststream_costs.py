"""What FastStream's conveniences cost per message, beside what the kit does instead.

The figures behind docs/decisions/0001-faststream-at-arms-length.md. On the local RabbitMQ
(``AZL_BENCH_AMQP_URL``, default guest on 127.0.0.1) in a namespace of its own, removed
afterwards, it measures the CPU time of this process per message, in interleaved rounds
(median of the rounds, so a noisy neighbour hits both sides alike):

- publishing: FastStream's ``broker.publish`` against the kit's path, aio-pika's robust
  exchange on the same publisher-confirm channel;
- consuming: a FastStream subscriber with dependency injection and automatic acks (the
  handler takes the decoded body) against the kit's subscriber (``apply_types=False``, the
  delivery handed over undecoded, acked by the consumer).

    uv run python bench/faststream_costs.py [--messages 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.rabbit import RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.message import RabbitMessage

AMQP_URL = os.environ.get("AZL_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
BODY = json.dumps({"order_id": str(uuid.uuid4()), "items": [{"quantity": 2}] * 5}).encode()


async def cpu_per_message(messages: int, work: Callable[[], Awaitable[None]]) -> float:
    """Microseconds of this process's CPU per message for ``work``."""
    started = time.process_time()
    await work()
    return (time.process_time() - started) / messages * 1e6


async def publish_with_faststream(broker: RabbitBroker, exchange: str, messages: int) -> None:
    target = RabbitExchange(exchange, declare=False)
    for _ in range(messages):
        await broker.publish(BODY, exchange=target, routing_key="bench", persist=True)


async def publish_with_aio_pika(exchange: aio_pika.abc.AbstractExchange, messages: int) -> None:
    for _ in range(messages):
        await exchange.publish(
            aio_pika.Message(BODY, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key="bench",
        )


async def fill(exchange: aio_pika.abc.AbstractExchange, routing_key: str, messages: int) -> None:
    await asyncio.gather(
        *(
            exchange.publish(aio_pika.Message(BODY), routing_key=routing_key)
            for _ in range(messages)
        )
    )


async def _undecoded(message: StreamMessage[Any]) -> StreamMessage[Any]:
    return message


async def consume(
    queue: str,
    exchange: str,
    messages: int,
    *,
    injected: bool,
    filler: Callable[[], Awaitable[None]],
) -> float:
    """CPU per message of a subscriber that takes ``messages`` already waiting in ``queue``."""
    done = asyncio.Event()
    count = 0
    broker = RabbitBroker(AMQP_URL, apply_types=injected, logger=None)
    source = RabbitQueue(queue, declare=False)
    target = RabbitExchange(exchange, declare=False)

    def counted() -> None:
        nonlocal count
        count += 1
        if count == messages:
            done.set()

    if injected:

        @broker.subscriber(source, target, ack_policy=AckPolicy.ACK, no_reply=True)
        async def with_di(body: dict[str, Any]) -> None:
            counted()
    else:

        @broker.subscriber(
            source, target, ack_policy=AckPolicy.MANUAL, decoder=_undecoded, no_reply=True
        )
        async def as_the_kit(message: RabbitMessage) -> None:
            json.loads(message.body)
            await message.ack()
            counted()

    await filler()
    started = time.process_time()
    await broker.start()
    await done.wait()
    spent = time.process_time() - started
    await broker.stop()
    return spent / messages * 1e6


async def main(messages: int, rounds: int) -> None:
    namespace = f"bench-fs-{uuid.uuid4().hex[:8]}"
    exchange_name, queue_name = f"{namespace}.x", f"{namespace}.q"
    connection = await aio_pika.connect_robust(AMQP_URL)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC)
    sink = await channel.declare_queue(f"{namespace}.sink")
    await sink.bind(exchange, "bench")
    queue = await channel.declare_queue(queue_name)
    await queue.bind(exchange, "consume")
    publisher = RabbitBroker(AMQP_URL, logger=None)
    await publisher.connect()
    figures: dict[str, list[float]] = {k: [] for k in ("fs-pub", "kit-pub", "fs-sub", "kit-sub")}
    try:
        for _ in range(rounds):
            figures["fs-pub"].append(
                await cpu_per_message(
                    messages, lambda: publish_with_faststream(publisher, exchange_name, messages)
                )
            )
            figures["kit-pub"].append(
                await cpu_per_message(messages, lambda: publish_with_aio_pika(exchange, messages))
            )
            await sink.purge()
            for injected, key in ((True, "fs-sub"), (False, "kit-sub")):
                figures[key].append(
                    await consume(
                        queue_name,
                        exchange_name,
                        messages,
                        injected=injected,
                        filler=lambda: fill(exchange, "consume", messages),
                    )
                )
    finally:
        await publisher.stop()
        for name in (f"{namespace}.sink", queue_name):
            await channel.queue_delete(name)
        await channel.exchange_delete(exchange_name)
        await connection.close()
    median = {k: statistics.median(v) for k, v in figures.items()}
    print(f"load average {os.getloadavg()[0]:.2f}; {rounds} rounds of {messages} messages")
    print("| path | FastStream | the kit's | ratio |")
    print("| --- | --- | --- | --- |")
    for path, fs, kit in (
        ("publish (confirmed)", "fs-pub", "kit-pub"),
        ("consume", "fs-sub", "kit-sub"),
    ):
        print(
            f"| {path}, CPU µs/msg | {median[fs]:.0f} | {median[kit]:.0f} "
            f"| {median[fs] / median[kit]:.2f}× |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.messages, arguments.rounds))
