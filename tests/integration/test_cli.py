"""The operator CLI against the running platform, as an operator types it: ``azl send``
validates before sending and exits with the outcome; ``azl tail`` prints events live."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import aio_pika
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from azl_testing import builders, flows
from azl_testing.bus import Bus
from azl_testing.infra import BUS_ROLE, Infra
from yarl import URL

from azl_contracts import orders as o
from azl_contracts.topology import COMMANDS_EXCHANGE, EVENTS_EXCHANGE

from .conftest import Platform


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


def _env(infra: Infra) -> dict[str, str]:
    return {
        **os.environ,
        # an operator tagged impersonator: the CLI stamps each message as its publisher
        "AZL_AMQP_URL": infra.url_as(BUS_ROLE),
        "AZL_NAMESPACE": infra.namespace,
        "PYTHONUNBUFFERED": "1",  # tail's lines as they come, not at exit
    }


async def _azl(infra: Infra, *args: str, timeout: float = 60) -> Ran:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "azl_cli",
        *args,
        env=_env(infra),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return Ran(process.returncode, stdout.decode(), stderr.decode())


# --- azl send -------------------------------------------------------------------------


@dataclass
class CommandWatch:
    """Every message published to the commands exchange, as it is routed."""

    queue: AbstractQueue
    seen: list[AbstractIncomingMessage]

    async def up_to(self, marker: str, timeout: float = 20) -> list[AbstractIncomingMessage]:
        """What arrived before ``marker`` (a message id), once the marker has arrived."""
        deadline = time.monotonic() + timeout
        while not any(m.message_id == marker for m in self.seen):
            assert time.monotonic() < deadline, f"marker {marker} never arrived"
            await asyncio.sleep(0.02)
        return list(self.seen[: [m.message_id for m in self.seen].index(marker)])


@pytest_asyncio.fixture
async def commands(infra: Infra, platform: Platform) -> AsyncIterator[CommandWatch]:
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(infra.name(COMMANDS_EXCHANGE), ensure=False)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="#")
        watch = CommandWatch(queue, [])

        async def record(message: AbstractIncomingMessage) -> None:
            watch.seen.append(message)

        await queue.consume(record, no_ack=True)
        yield watch


async def test_send_refuses_a_body_its_schema_rejects_and_sends_nothing(
    infra: Infra, bus: Bus, commands: CommandWatch
) -> None:
    body = {
        "actor": builders.customer().model_dump(),
        "order_id": str(uuid4()),
        "colour": "red",
    }
    ran = await _azl(infra, "send", "orders.cancel-order", json.dumps(body))

    assert ran.code == 2, ran
    assert "not sent: orders.cancel-order.v1: colour: Extra inputs are not permitted" in (
        ran.stderr
    )
    assert ran.stdout == ""
    # anything the CLI published was routed before it exited: so before this marker
    marker = await bus.publish_raw(b"{}", routing_key="cli-test.marker")
    assert await commands.up_to(marker) == []


async def test_send_prints_a_rejection_with_its_reason_and_exits_1(
    infra: Infra, platform: Platform
) -> None:
    body = o.CancelOrder(actor=builders.customer(), order_id=uuid4()).model_dump_json()
    ran = await _azl(infra, "send", "orders.cancel-order", body)

    assert ran.code == 1, ran
    outcome = json.loads(ran.stdout)
    assert outcome["status"] == "rejected"
    assert outcome["reason_code"] == "not_found"
    assert '"reason_code": "not_found"' in ran.stdout
    assert [e["type"] for e in outcome["events"]] == ["orders.command.rejected.v1"]


async def test_send_prints_an_accepted_outcome_with_its_events_and_exits_0(
    infra: Infra, bus: Bus
) -> None:
    command = builders.place_order(builders.customer())
    ran = await _azl(infra, "send", "orders.place-order", command.model_dump_json())

    assert ran.code == 0, ran
    outcome = json.loads(ran.stdout)
    assert outcome["status"] == "accepted"
    assert outcome["command_type"] == "orders.place-order.v1"
    assert [e["type"] for e in outcome["events"]] == [
        "orders.order.placed.v2",
        "orders.order.status-changed.v1",
    ]
    [placed] = await bus.wait_for_order("orders.order.placed", command.order_id)
    assert placed.causation_id == outcome["command_id"]
    assert placed.message_id in {e["message_id"] for e in outcome["events"]}


async def test_pay_deposit_without_a_reaction_in_time_is_timed_out(
    infra: Infra, platform: Platform
) -> None:
    """A deposit for an order nobody placed: orders takes none for it, no reaction comes."""
    ran = await _azl(infra, "pay-deposit", str(uuid4()), "100000", "--wait", "1")

    assert ran.code == 4, ran
    assert ran.stdout.startswith("sent payments.deposit.received.v1 pay-")
    [line] = ran.stderr.splitlines()
    assert line.startswith("azl: no reaction from the order within 1 s: ")


async def test_credentials_the_broker_refuses_are_one_line_and_unreachable(
    infra: Infra,
) -> None:
    url = URL(infra.amqp_url).with_user(f"{infra.namespace}-nobody").with_password("wrong")

    ran = await _azl(infra, "dlq", "list", "--amqp-url", str(url))

    assert ran.code == 3, ran
    [line] = ran.stderr.splitlines()
    assert line == (
        f"azl: RabbitMQ at {infra.namespace}-nobody@{url.host}:{url.port}/ refused the user "
        "or its password: check the credentials in --amqp-url / AZL_AMQP_URL"
    )


# --- azl tail -------------------------------------------------------------------------


def _bound(infra: Infra, pattern: str) -> bool:
    """Whether some queue is bound to this namespace's events exchange with ``pattern``."""
    listed = infra.rabbitmqctl(
        "list_bindings",
        "-p",
        infra.vhost,
        "source_name",
        "routing_key",
        "--quiet",
        "--formatter",
        "json",
    )
    bindings: list[dict[str, Any]] = json.loads(listed)
    source = infra.name(EVENTS_EXCHANGE)
    return any(b["source_name"] == source and b["routing_key"] == pattern for b in bindings)


@dataclass
class Tailed:
    """One event ``azl tail --bodies`` printed: its line, then its body indented below."""

    type: str
    body: dict[str, Any]


def _tailed(printed: str) -> list[Tailed]:
    """The events in what tail printed so far (the last one may still lack its body)."""
    lines = printed.splitlines()
    return [
        Tailed(line.split()[-2], json.loads(body))
        for line, body in itertools.pairwise(lines)
        if line.strip() and not line.startswith("    ") and body.startswith("    ")
    ]


async def _read_until(
    stream: asyncio.StreamReader, printed: list[str], done: Callable[[str], bool]
) -> None:
    deadline = time.monotonic() + 30
    while not done("".join(printed)):
        remaining = deadline - time.monotonic()
        assert remaining > 0, "tail printed too little:\n" + "".join(printed)
        line = await asyncio.wait_for(stream.readline(), remaining)
        assert line, "tail ended:\n" + "".join(printed)
        printed.append(line.decode())


async def test_tail_prints_the_events_of_commands_sent_meanwhile(infra: Infra, bus: Bus) -> None:
    pattern = "orders.order.#"
    tail = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "azl_cli",
        "tail",
        pattern,
        "--bodies",
        env=_env(infra),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert tail.stdout is not None
    assert tail.stderr is not None
    printed: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while not await asyncio.to_thread(_bound, infra, pattern):
            assert tail.returncode is None, (await tail.stderr.read()).decode()
            assert time.monotonic() < deadline, "tail never bound its queue"
            await asyncio.sleep(0.2)

        order = await flows.place(bus)
        await flows.pay_deposit(bus, order)
        await bus.wait_for_order("fees.fee.charged", order.order_id)  # not for orders.order.#
        reply = await flows.accepted(
            bus, o.CancelOrder(actor=order.customer, order_id=order.order_id)
        )
        last = {ref["message_id"] for ref in reply["events"]}
        await bus.wait_for(where=lambda e: e.message_id in last, count=len(last))
        expected = [
            e.type
            for e in bus.seen("orders.order.", lambda e: e.json["order_id"] == str(order.order_id))
        ]

        def of_order(printed: str) -> list[str]:
            return [
                t.type for t in _tailed(printed) if t.body.get("order_id") == str(order.order_id)
            ]

        await _read_until(tail.stdout, printed, lambda text: len(of_order(text)) >= len(expected))
    finally:
        if tail.returncode is None:
            tail.send_signal(signal.SIGINT)  # Ctrl-C
        # both pipes read while it stops: one left full would block its last writes
        rest, errors = await asyncio.wait_for(tail.communicate(), 30)
        printed.append(rest.decode())

    assert tail.returncode == 0, errors.decode()
    whole = "".join(printed)
    assert of_order(whole) == expected
    assert {
        "orders.order.placed.v2",
        "orders.order.deposited.v1",
        "orders.order.cancelled.v1",
    } <= set(expected)
    assert all(t.type.startswith("orders.order.") for t in _tailed(whole))
