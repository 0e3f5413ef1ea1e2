"""The reply relay: RPC replies to RabbitMQ's direct reply-to, delivered without giving any
service the right to write to the default exchange.

A caller using direct reply-to (FastStream's ``broker.request()``, the usual aio-pika RPC
pattern) consumes ``amq.rabbitmq.reply-to`` and sends its request with that ``reply_to``; the
broker rewrites it to ``amq.rabbitmq.reply-to.<channel>.<key>``. RabbitMQ delivers a reply to
such an address only when it is published to the default exchange, and it checks ``write``
on ``amq.default`` for that publish like for any other (rabbit_channel, basic.publish; the
reply-to key is recognised only later, when routing). With that right a user may put any
message into any queue by its name: topic permissions do not apply to the default exchange.

So services publish such a reply to ``{ns}.direct-replies`` (topic; their topic permission
there allows only ``amq.rabbitmq.reply-to.*`` keys) and this relay, a process with a broker
user of its own, forwards each to the default exchange under its reply-to key and nothing
else: RabbitMQ routes a key with that prefix only to the waiting caller, never to a queue
(rabbit_exchange:route), and the relay copies no ``CC``/``BCC`` header (RabbitMQ 3.x does not
check those against topic permissions). A reply whose caller is gone is dropped by the
broker, as with direct reply-to everywhere; one older than a minute is dropped from the
queue (its caller has given up).

A malformed reply-to key published to the default exchange makes RabbitMQ 3.10 close the
publishing connection (``INTERNAL_ERROR``, measured), so the relay forwards only keys of the
broker's own shape (a base64 Erlang pid and a base64 16-byte key), takes each reply off its
queue before forwarding it (direct reply-to is at most once anyway: a crafted key can cost
one reply, never loop), and forwards on a connection of its own that reconnects.

    python -m azl_kit.reply_relay      # AZL_AMQP_URL, AZL_NAMESPACE
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import signal

from yarl import URL

from azl_contracts.topology import (
    DIRECT_REPLIES_EXCHANGE,
    DIRECT_REPLY_TO_PREFIX,
    REPLY_RELAY_QUEUE,
)

from . import broker
from .logging import configure_logging, get_logger
from .topology import ExchangeDeclaration, ExchangeType, QueueDeclaration

log = get_logger(__name__)

STALE_AFTER_MS = 60_000
FORWARDED_HEADERS_DROPPED = frozenset({"CC", "BCC"})
REPLIED_BY_HEADER = "x-azl-replied-by"


ERLANG_PID_TERMS = (b"\x83X", b"\x83g")  # external term format: NEW_PID_EXT, PID_EXT


def forwardable(routing_key: str) -> bool:
    """Only a direct reply-to address as the broker makes them:
    ``amq.rabbitmq.reply-to.<base64 of the channel's pid>.<base64 of a 16-byte key>``."""
    rest = routing_key.removeprefix(DIRECT_REPLY_TO_PREFIX)
    parts = rest.split(".")
    if rest == routing_key or len(parts) != 2:
        return False
    try:
        pid, key = (base64.b64decode(part, validate=True) for part in parts)
    except (binascii.Error, ValueError):
        return False
    return pid.startswith(ERLANG_PID_TERMS) and len(key) == 16


class ReplyRelay:
    def __init__(self, amqp_url: str, namespace: str, *, prefetch: int = 100) -> None:
        self._namespace = namespace
        self._prefetch = prefetch
        self._user = URL(amqp_url).user or "guest"
        # publishing has a connection of its own (broker.Broker): a malformed key that gets
        # the forwarding channel closed never touches the consumer
        self._broker = broker.Broker(amqp_url, app_id="reply-relay", graceful_timeout=5.0)
        self.forwarded = 0
        self.refused = 0

    async def start(self) -> None:
        queue = QueueDeclaration(
            f"{self._namespace}.{REPLY_RELAY_QUEUE}", {"x-message-ttl": STALE_AFTER_MS}
        )
        self._broker.consume(queue, self._forward, prefetch=self._prefetch)
        await self._broker.connect()
        self._default = await self._broker.declare_exchange(
            ExchangeDeclaration("", ExchangeType.DIRECT)
        )
        # the deployment's exchange: only checked, the relay's user may not create it
        exchange = await self._broker.declare_exchange(
            ExchangeDeclaration(
                f"{self._namespace}.{DIRECT_REPLIES_EXCHANGE}", ExchangeType.TOPIC, passive=True
            )
        )
        declared = await self._broker.declare_queue(queue)
        await self._broker.bind(declared, exchange, DIRECT_REPLY_TO_PREFIX + "#")
        await self._broker.start()
        log.info("reply relay started", queue=queue.name)

    async def _forward(self, delivery: broker.Delivery) -> None:
        await broker.ack(delivery)  # at most once: see the module's docstring
        message = delivery
        routing_key = message.routing_key or ""
        if not forwardable(routing_key):
            self.refused += 1
            log.warning("not a direct reply-to address; dropped", routing_key=routing_key[:200])
            return
        headers = {
            k: v for k, v in (message.headers or {}).items() if k not in FORWARDED_HEADERS_DROPPED
        }
        if message.user_id:
            headers[REPLIED_BY_HEADER] = message.user_id
        try:
            await broker.publish(
                self._default,
                message.body,
                routing_key=routing_key,
                headers=headers,
                app_id=message.app_id or "reply-relay",
                message_id=message.message_id,
                correlation_id=message.correlation_id,
                message_type=message.type,
                timestamp=message.timestamp,
                content_type=message.content_type,
                user_id=self._user,
            )
        except Exception as error:
            self.refused += 1
            log.warning("forwarding a reply failed; dropped", error=repr(error)[:300])
            return
        self.forwarded += 1

    async def stop(self) -> None:
        await self._broker.stop()


async def run(amqp_url: str, namespace: str) -> None:
    relay = ReplyRelay(amqp_url, namespace)
    await relay.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    await relay.stop()
    log.info("reply relay stopped", forwarded=relay.forwarded, refused=relay.refused)


def main() -> None:
    configure_logging("reply-relay", os.environ.get("AZL_LOG_LEVEL", "INFO"))
    asyncio.run(
        run(
            os.environ.get("AZL_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
            os.environ.get("AZL_NAMESPACE", "azl"),
        )
    )


if __name__ == "__main__":
    main()
