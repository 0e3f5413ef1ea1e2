"""The deployment's part of the topology: the shared exchanges, declared by the operator.

Services only check them (a passive declaration) and their broker users may not create,
delete or bind them; compose gets them from the broker definitions, ``azl run`` and the
test fixtures from ``declare_shared_exchanges`` as the operator user before any service
starts. Declaring is idempotent: an exchange that exists with the same type is left as is.
"""

from __future__ import annotations

import aio_pika

from azl_contracts.topology import SHARED_EXCHANGES


def shared_exchange_names(namespace: str) -> list[str]:
    return [f"{namespace}.{relative}" for relative in SHARED_EXCHANGES]


async def declare_shared_exchanges(amqp_url: str, namespace: str) -> list[str]:
    """Declare (durable) every shared exchange of ``namespace``; returns their names."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for relative, kind in SHARED_EXCHANGES.items():
            await channel.declare_exchange(
                f"{namespace}.{relative}", aio_pika.ExchangeType(kind), durable=True
            )
    return shared_exchange_names(namespace)
