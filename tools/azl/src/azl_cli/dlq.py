"""Dead-letter queues: list what is there and why, replay messages to where they came from,
purge. Works on any namespace; needs only the broker.

Listing takes every message of a DLQ without acknowledging it and closes the channel, so
the broker puts them all back (each DLQ's delivery limit is set far above what browsing
reaches: on RabbitMQ 4.x each of these returns counts, and the default limit of 20 would
make the broker drop the letters). Replaying publishes the message unchanged (same message id,
type, correlation id) to its original queue through the default exchange — only that
queue's consumer sees it again, and its inbox makes a second replay change nothing — and
acks the dead-lettered copy only after the broker confirmed the replayed one.

The replayed message keeps its original publisher (``original_user_id``), so consumers
believe or refuse it as they would have the first time: a letter the broker dead-lettered
(it has ``x-death``) still carries the original ``user_id`` property; one the owning service
dead-lettered carries the service's own, and the original in ``x-azl-original-user-id``.
Publishing with a ``user_id`` other than the connection's needs RabbitMQ's ``impersonator``
tag: the replay user (the definitions' ``admin``) has it; a user without it is refused and
the letter stays in its DLQ.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import AMQPError, ChannelNotFoundEntity

from azl_contracts.topology import BROKER_DELIVERY_HEADERS, all_queues

from .definitions import user_name

REPLAYED_HEADER = "x-azl-replayed"
ORIGINAL_USER_ID_HEADER = "x-azl-original-user-id"


class ReplayRefused(RuntimeError):
    pass


@dataclass(frozen=True)
class DeadLetter:
    dlq: str
    message_id: str | None
    message_type: str | None
    correlation_id: str | None
    origin_queue: str
    code: str
    reason: str
    failed_at: str
    attempts: int | None
    size: int

    @classmethod
    def of(cls, dlq: str, message: AbstractIncomingMessage) -> DeadLetter:
        headers = dict(message.headers or {})
        origin, code, reason = _why(dlq, headers)
        attempts = headers.get("x-azl-attempts")
        return cls(
            dlq=dlq,
            message_id=message.message_id,
            message_type=message.type,
            correlation_id=message.correlation_id,
            origin_queue=origin,
            code=code,
            reason=reason,
            failed_at=str(headers.get("x-azl-failed-at", "")),
            attempts=attempts if isinstance(attempts, int) else None,
            size=len(message.body),
        )


def _why(dlq: str, headers: dict[str, Any]) -> tuple[str, str, str]:
    """From the pipeline's headers, or else from the broker's own ``x-death``."""
    if "x-azl-dead-letter-code" in headers:
        return (
            str(headers.get("x-azl-original-queue", dlq.removesuffix(".dlq"))),
            str(headers["x-azl-dead-letter-code"]),
            str(headers.get("x-azl-dead-letter-reason", "")),
        )
    deaths = headers.get("x-death") or []
    if deaths and isinstance(deaths[0], dict):
        death = deaths[0]
        return (
            str(death.get("queue", dlq.removesuffix(".dlq"))),
            f"broker:{death.get('reason', '?')}",
            f"dead-lettered by the broker ({death.get('reason')}) after "
            f"{death.get('count', '?')} deliveries",
        )
    return dlq.removesuffix(".dlq"), "unknown", "no dead-letter headers"


def queue_names() -> list[str]:
    """The queues that have a dead-letter queue, without the namespace."""
    return [spec.name for spec in all_queues()]


def dead_letter_queues(namespace: str, queue: str | None = None) -> list[str]:
    names = [f"{namespace}.{spec.dead_letter_queue}" for spec in all_queues()]
    if queue is None:
        return names
    wanted = queue if queue.startswith(f"{namespace}.") else f"{namespace}.{queue}"
    if not wanted.endswith(".dlq"):
        wanted += ".dlq"
    if wanted not in names:
        raise ValueError(f"{wanted} is not a dead-letter queue of namespace {namespace!r}")
    return [wanted]


@dataclass
class _Session:
    connection: aio_pika.abc.AbstractConnection
    channel: AbstractChannel

    async def existing(self, names: list[str]) -> list[tuple[str, AbstractQueue]]:
        """The dead-letter queues that exist (a service never started has declared none)."""
        found = []
        for name in names:
            probe = await self.connection.channel()
            try:
                await probe.declare_queue(name, passive=True)
            except ChannelNotFoundEntity:
                continue
            finally:
                if not probe.is_closed:
                    await probe.close()
            found.append((name, await self.channel.declare_queue(name, passive=True)))
        return found


@asynccontextmanager
async def _session(amqp_url: str) -> AsyncIterator[_Session]:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        yield _Session(connection, channel)
    finally:
        await connection.close()


async def _take_all(queue: AbstractQueue) -> list[AbstractIncomingMessage]:
    """Every message now in the queue, unacknowledged: unless acked, they return to it
    when the channel closes."""
    taken: list[AbstractIncomingMessage] = []
    while (message := await queue.get(no_ack=False, fail=False, timeout=5)) is not None:
        taken.append(message)
    return taken


async def list_dead_letters(
    amqp_url: str, namespace: str, queue: str | None = None
) -> list[DeadLetter]:
    found: list[DeadLetter] = []
    async with _session(amqp_url) as session:
        for name, dlq in await session.existing(dead_letter_queues(namespace, queue)):
            found += [DeadLetter.of(name, m) for m in await _take_all(dlq)]
    return found


async def replay(
    amqp_url: str,
    namespace: str,
    *,
    queue: str | None = None,
    message_id: str | None = None,
) -> list[DeadLetter]:
    """Replay one message (by id) or all of them; returns what was replayed."""
    replayed: list[DeadLetter] = []
    async with _session(amqp_url) as session:
        for name, dlq in await session.existing(dead_letter_queues(namespace, queue)):
            for message in await _take_all(dlq):
                if message_id is not None and message.message_id != message_id:
                    continue
                letter = DeadLetter.of(name, message)
                user_id = original_user_id(namespace, name, message)
                try:
                    await session.channel.default_exchange.publish(
                        _as_original(message, user_id), routing_key=letter.origin_queue
                    )
                except AMQPError as error:
                    raise ReplayRefused(
                        f"the broker refused to replay {letter.message_id} as {user_id!r} "
                        f"({error}): the replay user needs RabbitMQ's impersonator tag to "
                        "keep the original publisher; the letter stays in its DLQ"
                    ) from error
                await message.ack()
                replayed.append(letter)
    return replayed


async def purge(
    amqp_url: str, namespace: str, *, queue: str | None = None, confirm: Callable[[int], bool]
) -> int:
    async with _session(amqp_url) as session:
        queues = await session.existing(dead_letter_queues(namespace, queue))
        total = sum(q.declaration_result.message_count or 0 for _, q in queues)
        if total == 0 or not confirm(total):
            return 0
        for _, dlq in queues:
            await dlq.purge()
        return total


def _owner(dlq: str, namespace: str) -> str | None:
    for spec in all_queues():
        if f"{namespace}.{spec.dead_letter_queue}" == dlq:
            return spec.service
    return None


def original_user_id(namespace: str, dlq: str, message: AbstractIncomingMessage) -> str | None:
    """The broker user that first published the letter, as far as it can be trusted.

    - Dead-lettered by the broker (``x-death``): the message is unchanged, its ``user_id``
      property is the original one RabbitMQ validated; any header claiming otherwise is
      the publisher's own and ignored.
    - Dead-lettered by the owning service (no ``x-death``; only that service may publish to
      ``{ns}.dlx`` under the queue's name): the service recorded the validated original in
      ``x-azl-original-user-id``. Believed only when the letter's own ``user_id`` is the
      owning service's user (or absent, from a service that does not stamp it); a letter
      from anyone else keeps its own ``user_id``.
    """
    headers = message.headers or {}
    if "x-death" in headers:
        return message.user_id or None
    owner = _owner(dlq, namespace)
    if message.user_id and (owner is None or message.user_id != user_name(namespace, owner)):
        return message.user_id
    claimed = headers.get(ORIGINAL_USER_ID_HEADER)
    if isinstance(claimed, bytes):
        claimed = claimed.decode(errors="replace")
    return claimed if isinstance(claimed, str) and claimed else None


def _as_original(message: AbstractIncomingMessage, user_id: str | None) -> aio_pika.Message:
    headers = {
        key: value
        for key, value in (message.headers or {}).items()
        # the broker's counts and death records stay behind: the replayed message starts
        # afresh (an x-delivery-count over the limit would send it straight back here)
        if key not in BROKER_DELIVERY_HEADERS and not key.startswith("x-azl-")
    }
    previous = (message.headers or {}).get(REPLAYED_HEADER, 0)
    headers[REPLAYED_HEADER] = (previous if isinstance(previous, int) else 0) + 1
    return aio_pika.Message(
        message.body,
        headers=headers,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        type=message.type,
        reply_to=message.reply_to,
        content_type=message.content_type,
        timestamp=message.timestamp,
        app_id=message.app_id,
        user_id=user_id,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
