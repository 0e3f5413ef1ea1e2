"""The orders read API as its callers use it: bearer tokens, JSON, waiting for projections."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import httpx

from .bus import Bus, Received
from .tokens import bearer

STAFF_SUBJECT = "ops-1"


class OrdersApi:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def get(
        self, path: str, subject: str = STAFF_SUBJECT, role: str = "staff", **params: Any
    ) -> httpx.Response:
        query = {k: v for k, v in params.items() if v is not None}
        return await self.http.get(path, headers=bearer(subject, role), params=query)

    async def detail(
        self, order_id: UUID | str, subject: str = STAFF_SUBJECT, role: str = "staff"
    ) -> dict[str, Any]:
        response = await self.get(f"/orders/{order_id}", subject, role)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def page(
        self, subject: str = STAFF_SUBJECT, role: str = "staff", **params: Any
    ) -> dict[str, Any]:
        response = await self.get("/orders", subject, role, **params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def everything(
        self, subject: str = STAFF_SUBJECT, role: str = "staff", **params: Any
    ) -> list[dict[str, Any]]:
        """Every matching order, page after page (100 each)."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            body = await self.page(subject, role, page=page, page_size=100, **params)
            found += body["items"]
            if len(body["items"]) < 100:
                return found
            page += 1

    async def eventually(
        self,
        order_id: UUID | str,
        condition: Callable[[dict[str, Any]], bool],
        *,
        subject: str = STAFF_SUBJECT,
        role: str = "staff",
        timeout: float = 15.0,
    ) -> dict[str, Any]:
        """The order's detail once ``condition`` holds (for projections of others' events)."""
        deadline = time.monotonic() + timeout
        while True:
            view = await self.detail(order_id, subject, role)
            if condition(view):
                return view
            if time.monotonic() > deadline:
                raise AssertionError(f"order {order_id} never matched; last view: {view}")
            await asyncio.sleep(0.05)

    async def ledger_settled(self, bus: Bus, *order_ids: UUID) -> None:
        """Wait until the fees service's ledger snapshots seen so far are projected into the
        orders read model (they move an order's balance, payment status and update time)."""
        await bus.settle(quiet=0.5)
        for order_id in order_ids:
            versions = [
                e.json["ledger_version"]
                for e in bus.seen("fees.ledger.updated", _of_order(order_id))
            ]
            if versions:
                await self.eventually(order_id, _projected(max(versions)))

    async def handled(self, message_type: str) -> float:
        """How many messages of a type the orders service settled (its /metrics), any outcome."""
        return await metric(self.http, "azl_messages_handled_total", message_type=message_type)

    async def wait_handled(self, message_type: str, at_least: float, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while await self.handled(message_type) < at_least:
            if time.monotonic() > deadline:
                raise AssertionError(f"orders never handled {at_least:g} {message_type}")
            await asyncio.sleep(0.05)


async def metric(http: httpx.AsyncClient, name: str, **labels: str) -> float:
    """The sum of a Prometheus counter's samples (from ``/metrics``) that carry ``labels``."""
    total = 0.0
    for line in (await http.get("/metrics")).text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _projected(ledger_version: int) -> Callable[[dict[str, Any]], bool]:
    return lambda view: (view["transactions"]["ledger_version"] or 0) >= ledger_version


def _of_order(order_id: UUID) -> Callable[[Received], bool]:
    return lambda e: e.json.get("order_id") == str(order_id)


def caused_by(bus: Bus, command_id: str) -> list[str]:
    """The types of the events a command caused (so far)."""
    return [e.type or "" for e in bus.seen(where=lambda e: e.causation_id == command_id)]
