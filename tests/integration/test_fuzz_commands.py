"""Fuzzing every command routing key: NUL characters, huge strings, deep nesting, wrong
types, bodies that are not JSON, and second copies of a message id with another body sent
right behind the first. Every distinct command id gets exactly one outcome (its events or
one ``command.rejected``), and a duplicate is never dead-lettered.

Seeded: the seed is printed; ``AZL_FUZZ_SEED=<seed>`` replays a run, ``AZL_FUZZ_COUNT``
changes the number of messages (1,000 by default).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from azl_testing import builders
from azl_testing.bus import Bus, Received

from azl_contracts import MessageKind
from azl_contracts.base import registry
from azl_contracts.topology import SERVICES

COMMANDS = registry.of_kind(MessageKind.COMMAND)  # fees has a query only
ROLES = ("customer", "staff", "system", "root", "\x00")


@dataclass
class Sent:
    message_id: str
    routing_key: str
    message_type: str
    kind: str


def _valid_order() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(builders.place_order(builders.customer()).model_dump_json())
    return body


def _junk(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(8 if depth < 3 else 5)
    if choice == 0:
        return rng.randint(-(10**20), 10**20)
    if choice == 1:
        return rng.choice(["", "x", "\x00", "a\x00b", "ồ", "\ud7ff", "9" * 40, str(uuid4())])
    if choice == 2:
        return rng.choice([None, True, False, 1.5e308, -0.0])
    if choice == 3:
        return "x" * rng.randrange(1, 5_000)
    if choice == 4:
        return rng.random()
    if choice == 5:
        return [_junk(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {_key(rng): _junk(rng, depth + 1) for _ in range(rng.randrange(4))}


def _key(rng: random.Random) -> str:
    return rng.choice(["actor", "order_id", "items", "id", "role", "k\x00", "", "ồ", "x" * 300])


def _put_nul(rng: random.Random, value: Any) -> Any:
    """A NUL put into one string (or one key) somewhere in ``value``."""
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        if rng.random() < 0.3:
            return {**{k: v for k, v in value.items() if k != key}, key + "\x00": value[key]}
        return {**value, key: _put_nul(rng, value[key])}
    if isinstance(value, list) and value:
        i = rng.randrange(len(value))
        return [*value[:i], _put_nul(rng, value[i]), *value[i + 1 :]]
    if isinstance(value, str):
        i = rng.randrange(len(value) + 1)
        return value[:i] + "\x00" + value[i:]
    return "\x00"


def _body(rng: random.Random, kind: str) -> bytes:
    actor = {"id": f"fuzz-{rng.randrange(10**6)}", "role": rng.choice(ROLES)}
    base: dict[str, Any] = _valid_order() if rng.random() < 0.5 else {"actor": actor}
    if kind == "valid":
        return json.dumps(_valid_order()).encode()
    if kind == "nul":
        return json.dumps(_put_nul(rng, base)).encode()
    if kind == "huge":
        size = rng.choice([50_000, 300_000, 1_100_000])  # the last is over the 1 MiB limit
        return json.dumps({**base, rng.choice(["note", "actor", "items"]): "x" * size}).encode()
    if kind == "deep":
        depth = rng.choice([50, 300, 3000])  # pydantic's parser stops at 200 levels
        nested = "[" * depth + "1" + "]" * depth
        return json.dumps({**base, "items": None}).encode().replace(b"null", nested.encode(), 1)
    if kind == "wrong-types":
        return json.dumps({k: _junk(rng) for k in base} | {_key(rng): _junk(rng)}).encode()
    if kind == "not-json":
        return rng.choice([b"", b"{", b"\x00", b"[1,2", b"\xff\xfe", b"null", b"[]", b"1e999999"])
    return json.dumps(_junk(rng)).encode()


KINDS = ("valid", "nul", "huge", "deep", "wrong-types", "not-json", "junk")


def _outcomes(bus: Bus, ids: set[str]) -> Counter[str]:
    """Per command id: one for its rejection, one for its events (however many)."""
    counted: Counter[str] = Counter()
    caused: set[str] = set()
    for event in list(bus.events):
        if (event.type or "").split(".")[1:3] == ["command", "rejected"]:
            command_id = event.json.get("command_id")
            if command_id in ids:
                counted[command_id] += 1
        elif event.causation_id in ids:
            caused.add(event.causation_id or "")
    for command_id in caused:
        counted[command_id] += 1
    return counted


async def test_every_fuzzed_command_gets_exactly_one_outcome(bus: Bus) -> None:
    seed = int(os.environ.get("AZL_FUZZ_SEED") or random.randrange(2**32))
    count = int(os.environ.get("AZL_FUZZ_COUNT", "1000"))
    print(f"\nfuzz seed {seed} (replay: AZL_FUZZ_SEED={seed}), {count} messages")
    rng = random.Random(seed)
    for service in SERVICES:  # only this test's letters are looked at afterwards
        await bus.drain_queue(f"{service}.commands.dlq", wait=0.0, expect=0)

    sent: list[Sent] = []
    duplicated: set[str] = set()
    started = time.monotonic()
    while len(sent) < count:
        command = rng.choice(COMMANDS)
        kind = rng.choice(KINDS)
        if kind == "valid":
            command = next(c for c in COMMANDS if c.message_type() == "orders.place-order.v1")
        message_id = str(uuid4())
        copies = 2 if rng.random() < 0.1 else 1  # a second copy, another body, right behind
        for copy in range(copies):
            body = _body(rng, kind if copy == 0 else rng.choice(KINDS))
            await bus.publish_raw(
                body,
                routing_key=command.routing_key(),
                message_type=command.message_type(),
                message_id=message_id,
            )
            sent.append(Sent(message_id, command.routing_key(), command.message_type(), kind))
        if copies == 2:
            duplicated.add(message_id)
    ids = {s.message_id for s in sent}

    deadline = time.monotonic() + 60
    counted = _outcomes(bus, ids)
    while len(counted) < len(ids) and time.monotonic() < deadline:
        await bus.settle(quiet=0.5, timeout=2.0)
        counted = _outcomes(bus, ids)
    # a poison command to each service after them all: once each has its rejection (and
    # its letter), a second outcome or letter of any of them would have come before
    markers = {
        service: await bus.publish_raw(
            b"not json",
            routing_key=f"{service}.fuzz-marker",
            message_type=f"{service}.fuzz-marker.v1",
        )
        for service in SERVICES
    }
    for marker in markers.values():

        def rejects_marker(event: Received, marker: str = marker) -> bool:
            return bool(event.json.get("command_id") == marker)

        await bus.wait_for("", rejects_marker, timeout=30)
    letters: list[Received] = []
    for service, marker in markers.items():
        taken: list[Received] = []
        for _ in range(100):
            taken += await bus.drain_queue(f"{service}.commands.dlq", wait=0.1, expect=0)
            if any(m.message_id == marker for m in taken):
                break
        letters += taken
    counted = _outcomes(bus, ids)
    dead = Counter(m.message_id for m in letters if m.message_id in ids)
    elapsed = time.monotonic() - started

    missing = sorted(ids - set(counted))
    twice = sorted(i for i, n in counted.items() if n > 1)
    dead_twice = sorted(i for i, n in dead.items() if n > 1)
    rejected = {
        e.json["command_id"]
        for e in bus.events
        if (e.type or "").endswith("command.rejected.v1") and e.json.get("command_id") in ids
    }
    dead_not_rejected = sorted(i for i in dead if i not in rejected)
    print(
        f"fuzz: {len(sent)} messages, {len(ids)} command ids ({len(duplicated)} sent twice), "
        f"{sum(1 for n in counted.values() if n == 1)} with one outcome "
        f"({len(rejected)} rejected), {len(missing)} without, {len(twice)} with more, "
        f"{sum(dead.values())} dead letters, {elapsed:.1f} s"
    )
    kinds = {s.message_id: s.kind for s in sent}
    covered = {s.message_type for s in sent}
    assert covered == {c.message_type() for c in COMMANDS}, "some command type was never sent"
    assert missing == [], [(i, kinds[i]) for i in missing[:10]]
    assert twice == [], [(i, kinds[i]) for i in twice[:10]]
    assert dead_twice == [], dead_twice[:10]
    # a letter only for a message that was itself refused, never for a duplicate's copy
    assert dead_not_rejected == [], dead_not_rejected[:10]
