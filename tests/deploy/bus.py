"""Talking to a compose stack's broker from the host, through its published AMQP port."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from azl_cli.messaging import connect
from azl_client import Client
from azl_contracts import Command, Event

NAMESPACE = "azl"
ADMIN = ("azl-admin", "admin-dev-password")
"""The definitions' operator (tagged impersonator): the demo and these tests play the
storefront, the payments system and staff through it, as ``azl demo`` does."""


def url(address: str, user: str, password: str) -> str:
    return f"amqp://{user}:{password}@{address}/"


class StackBus:
    """A client stamping each publisher's user, and a queue of its own watching every event."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._client: Client | None = None
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None

    async def __aenter__(self) -> StackBus:
        admin_url = url(self.address, *ADMIN)
        self._connection = await aio_pika.connect_robust(admin_url)
        channel = await self._connection.channel()
        watch = await channel.declare_queue(exclusive=True, auto_delete=True)
        await watch.bind(f"{NAMESPACE}.events", routing_key="#")
        await watch.consume(self._on_event, no_ack=True)
        self._client = await connect(admin_url, NAMESPACE, "azl-deploy-tests")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.close()
        if self._connection is not None:
            await self._connection.close()

    async def _on_event(self, message: AbstractIncomingMessage) -> None:
        with contextlib.suppress(ValueError):
            self.events.append((message.type or "", json.loads(message.body)))

    async def request(self, command: Command, timeout: float = 60) -> dict[str, Any]:
        assert self._client is not None
        reply: dict[str, Any] = (await self._client.request(command, timeout=timeout)).json
        return reply

    async def emit(self, event: Event) -> None:
        assert self._client is not None
        await self._client.emit(event)

    async def wait_for(
        self, event_type: str, order_id: str, count: int = 1, timeout: float = 60
    ) -> list[dict[str, Any]]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [
                body
                for kind, body in self.events
                if kind.startswith(event_type) and body.get("order_id") == order_id
            ]
            if len(found) >= count:
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{len(found)} of {count} {event_type} for {order_id}")
            await asyncio.sleep(0.05)
