"""The deployment's part of the topology, declared by the operator: the shared exchanges,
every service's queues and DLQs, and their bindings — all generated from the contracts.

Services only check them (passive declarations) and their broker users have no configure
right, so none can create, delete or bind an exchange or a queue; compose gets the same
objects from the broker definitions, ``azl run`` and the test fixtures from
``declare_topology`` as the operator user before any service starts. Declaring is
idempotent: what exists with the same arguments is left as is.
"""

from __future__ import annotations

from typing import Any

import aio_pika

from azl_contracts.topology import SHARED_EXCHANGES, deployment_bindings, deployment_queues

QUORUM: dict[str, Any] = {"x-queue-type": "quorum"}


async def declare_topology(amqp_url: str, namespace: str) -> list[str]:
    """Declare every exchange, queue and binding of ``namespace``; returns what it declared."""
    declared = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for relative, kind in SHARED_EXCHANGES.items():
            name = f"{namespace}.{relative}"
            await channel.declare_exchange(name, aio_pika.ExchangeType(kind), durable=True)
            declared.append(f"exchange {name}")
        for name, arguments in deployment_queues(namespace):
            queue_arguments: dict[str, Any] = {**QUORUM, **arguments}
            await channel.declare_queue(name, durable=True, arguments=queue_arguments)
            declared.append(f"queue {name}")
        for binding in deployment_bindings(namespace):
            queue = await channel.get_queue(binding.queue, ensure=False)
            await queue.bind(binding.exchange, routing_key=binding.routing_key)
        declared.append(f"{len(deployment_bindings(namespace))} bindings")
    return declared
