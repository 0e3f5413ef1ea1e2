"""The notifications service as its callers see it: its read API, and the settings the test
platform starts it with (a local SMTP server, staff addresses, short retry backoffs)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

import httpx

from azl_contracts import Actor
from azl_contracts import notifications as n

from .bus import Bus
from .flows import accepted, place
from .tokens import bearer

T = TypeVar("T")

STAFF_EMAILS = ("ops@azlogistic.vn", "sales@azlogistic.vn")
STAFF_LANGUAGE = "vi"
MAX_ATTEMPTS = 10
SEND_TIMEOUT = 3
DELIVERY_LEASE = 10


def service_env(smtp_port: int) -> dict[str, str]:
    """Settings of the test platform's notifications service: its email goes to the local
    SMTP server, retries back off from 0.2 s to 1.5 s (ten attempts take 5 to 10 s, more
    than the few seconds of an outage a test makes).

    The lease leaves a send 7 s beyond its 3 s limit to be recorded before the delivery
    may be claimed again (a machine under CI load can be that slow, and a re-claim would
    send a delivered email or webhook twice). Only the restart test waits for a lease to
    run out, and most of that wait overlaps the service's own restart."""
    return {
        "AZL_SMTP_HOST": "127.0.0.1",
        "AZL_SMTP_PORT": str(smtp_port),
        "AZL_SMTP_TIMEOUT": str(SEND_TIMEOUT),
        "AZL_WEBHOOK_TIMEOUT": str(SEND_TIMEOUT),
        "AZL_DELIVERY_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "AZL_DELIVERY_BASE_DELAY": "0.2",
        "AZL_DELIVERY_MAX_DELAY": "1.5",
        "AZL_DELIVERY_POLL_INTERVAL": "0.1",
        "AZL_DELIVERY_LEASE": str(DELIVERY_LEASE),
        "AZL_STAFF_EMAILS": ",".join(STAFF_EMAILS),
        "AZL_STAFF_LANGUAGE": STAFF_LANGUAGE,
    }


async def eventually(
    check: Callable[[], Awaitable[T | None]], *, timeout: float = 20.0, what: str = "condition"
) -> T:
    """Poll ``check`` until it returns something other than None (or False). A read API
    that answers 5xx or cannot be reached for a moment (a restart, a database that other
    test runs have filled with connections) is asked again."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = await check()
            if value is not None and value is not False:
                return value
        except httpx.TransportError as error:
            last_error = error
        except httpx.HTTPStatusError as error:
            if error.response.status_code < 500:
                raise
            last_error = error
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout}s (last error: {last_error!r})")
        await asyncio.sleep(0.1)


class NotificationsApi:
    """The read API with the right token for each call."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=10.0)

    async def get(self, path: str, subject: str, role: str = "customer", **params: Any) -> Any:
        async with self.client() as http:
            response = await http.get(path, headers=bearer(subject, role), params=params)
        response.raise_for_status()
        return response.json()

    async def inbox(self, subject: str, role: str = "customer", **params: Any) -> dict[str, Any]:
        page: dict[str, Any] = await self.get(
            "/notifications", subject, role, page_size=100, **params
        )
        return page

    async def conversation(
        self, order_id: UUID, subject: str, role: str = "customer"
    ) -> httpx.Response:
        async with self.client() as http:
            return await http.get(f"/orders/{order_id}/conversation", headers=bearer(subject, role))

    async def deliveries(self, **params: Any) -> list[dict[str, Any]]:
        page: dict[str, Any] = await self.get(
            "/deliveries", "ops", "staff", page_size=100, **params
        )
        items: list[dict[str, Any]] = page["items"]
        return items

    async def knows_order(self, order_id: UUID, timeout: float = 20.0) -> None:
        """Wait until notifications has heard of the order (orders.order.placed)."""

        async def known() -> bool:
            return (await self.conversation(order_id, "ops", "staff")).status_code == 200

        await eventually(known, timeout=timeout, what=f"notifications knows order {order_id}")

    async def settled_deliveries(
        self, count: int, timeout: float = 30.0, **params: Any
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` deliveries match and none of them is still pending."""

        async def done() -> list[dict[str, Any]] | None:
            items = await self.deliveries(**params)
            if len(items) >= count and all(
                d["status"] not in ("pending", "sending") for d in items
            ):
                return items
            return None

        return await eventually(done, timeout=timeout, what=f"{count} settled deliveries")


async def set_preferences(
    bus: Bus, customer: Actor, *, email: str | None, language: str, channels: list[str]
) -> None:
    await accepted(
        bus,
        n.SetPreferences.model_validate(
            {
                "actor": customer.model_dump(),
                "email": email,
                "language": language,
                "channels": channels,
            }
        ),
    )


async def subscribe(bus: Bus, url: str, secret: str, *patterns: str, system: str = "erp") -> UUID:
    """A subscription made by the system ``system``."""
    reply = await accepted(
        bus,
        n.SubscribeWebhook.model_validate(
            {
                "actor": {"id": system, "role": "system"},
                "url": url,
                "secret": secret,
                "event_types": list(patterns),
            }
        ),
    )
    return UUID(reply["result"]["subscription_id"])


async def unsubscribe(bus: Bus, subscription_id: UUID, *, system: str = "erp") -> None:
    """Ended by the system that made it (a system may end only its own)."""
    await accepted(
        bus,
        n.UnsubscribeWebhook.model_validate(
            {"actor": {"id": system, "role": "system"}, "subscription_id": str(subscription_id)}
        ),
    )


async def fence_order_events(bus: Bus, api: NotificationsApi) -> None:
    """Evidence, not a quiet period, that notifications handled every orders event published
    before: an order placed now, whose placement reaches notifications on the same queue
    after them, and notifications knowing it. What those events caused was written in their
    own transactions, so it is all there to read by then."""
    fence = await place(bus)
    await api.knows_order(fence.order_id)
