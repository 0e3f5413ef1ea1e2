"""Fault 2: messages that can never be processed go to the DLQ with a readable reason, after
a bounded number of attempts, and the consumers keep consuming.

Nothing here depends on the broker counting nacks (RabbitMQ 4.3 stopped counting them
toward x-delivery-limit): the pipeline never requeues a poison message; it re-publishes it
to its queue's DLQ once, with the reason, then acks it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass

from azl_testing import builders
from azl_testing.bus import Bus, Received

from azl_contracts import registry
from azl_contracts.topology import SERVICES, consumers_of, queues_of

from .faults import FaultPlatform, wait_until
from .report import Tally, report

BIG = b'{"padding": "' + b"x" * (1024 * 1024 + 10) + b'"}'


@dataclass(frozen=True)
class Poison:
    what: str
    body: bytes
    message_type: str
    exchange: str
    code: str

    @property
    def routing_key(self) -> str:
        return self.message_type.rsplit(".v", 1)[0]

    @property
    def queues(self) -> set[str]:
        """Where it lands: the command queue of its service, or every queue binding the event."""
        if self.exchange == "commands":
            return {f"{self.routing_key.split('.')[0]}.commands"}
        return {q.name for q in consumers_of(registry.by_type(self.message_type))}


def poisons() -> list[Poison]:
    found = [
        Poison("not-json", b"\xff\xfe{not json", "orders.cancel-order.v1", "commands", "not_json"),
        Poison(
            "wrong-schema",
            b'{"actor": {"id": "x", "role": "king"}}',
            "orders.cancel-order.v1",
            "commands",
            "schema_invalid",
        ),
    ]
    for service in SERVICES:
        found.append(
            Poison("unknown-type", b"{}", f"{service}.summon-dragon.v1", "commands", "unknown_type")
        )
        found.append(
            Poison("over-1MiB", BIG, f"{service}.summon-dragon.v1", "commands", "body_too_large")
        )
        event = queues_of(service)[1].bindings[0]
        event_type = f"{event}.v1"
        found.append(Poison("not-json", b"<xml/>", event_type, "events", "not_json"))
        found.append(
            Poison("wrong-schema", b'{"order_id": 5}', event_type, "events", "schema_invalid")
        )
    return found


async def test_poison_messages_are_dead_lettered_once_with_a_reason(
    platform: FaultPlatform, bus: Bus
) -> None:
    platform.start_all()
    expected: dict[tuple[str, str], Poison] = {}  # (queue, message id) → poison
    for poison in poisons():
        message_id = await bus.publish_raw(
            poison.body,
            routing_key=poison.routing_key,
            message_type=poison.message_type,
            exchange=poison.exchange,
        )
        for queue in poison.queues:
            expected[(queue, message_id)] = poison

    copies: dict[tuple[str, str], list[Received]] = defaultdict(list)  # every copy taken

    async def collect() -> bool:
        for service in SERVICES:
            for spec in queues_of(service):
                for message in await bus.drain_queue(spec.dead_letter_queue, wait=0, expect=0):
                    copies[(spec.name, message.message_id or "")].append(message)
        return set(expected) <= set(copies)

    for _ in range(100):
        if await collect():
            break
        await asyncio.sleep(0.2)
    alive = await bus.request(builders.place_order(builders.customer()))  # still consuming
    await collect()  # a second copy arriving late counts too
    dead = {key: found[0] for key, found in copies.items()}

    wrong_code = [
        (key, poison.code, dead[key].headers.get("x-azl-dead-letter-code"))
        for key, poison in expected.items()
        if key in dead and dead[key].headers.get("x-azl-dead-letter-code") != poison.code
    ]
    attempts = {dead[key].headers.get("x-azl-attempts") for key in expected if key in dead}
    copies_per_message = {key: len(copies.get(key, [])) for key in expected}
    tally = Tally(
        sent=len(expected),
        outcomes=len(set(expected) & set(dead)),
        lost=len(set(expected) - set(dead)),
        duplicated=sum(len(found) - 1 for found in copies.values())
        + len(set(dead) - set(expected)),
        dlq=sum(len(found) for found in copies.values()),
    )
    report(
        "poison",
        tally,
        f"kinds={len({p.what for p in expected.values()})} attempts={sorted(map(str, attempts))}",
    )
    assert tally.lost == tally.duplicated == 0
    assert set(copies_per_message.values()) == {1}, copies_per_message
    assert not wrong_code
    assert attempts == {1}
    assert all(dead[key].headers.get("x-azl-dead-letter-reason") for key in expected)
    assert all(
        str(dead[key].headers["x-azl-original-queue"]) == bus.infra.name(key[0]) for key in expected
    )
    assert alive["status"] == "accepted"

    # each poison command still has its one outcome: a rejection naming it
    owed = {message_id for (queue, message_id) in expected if queue.endswith(".commands")}
    await wait_until(lambda: owed <= _rejected(bus), 10)
    assert owed <= _rejected(bus)


def _rejected(bus: Bus) -> set[str]:
    return {
        e.json["command_id"]
        for e in bus.seen(where=lambda e: (e.type or "").endswith(".command.rejected.v1"))
    }
