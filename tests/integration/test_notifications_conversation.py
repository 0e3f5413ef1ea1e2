"""The order conversation, notes, the inbox and preferences, through RabbitMQ and HTTP:
private notes never reach a customer, and bad input changes nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest
import pytest_asyncio
from azl_testing import builders, flows
from azl_testing.bus import Bus
from azl_testing.flows import accepted
from azl_testing.mail import MailServer
from azl_testing.notifications import (
    NotificationsApi,
    eventually,
    set_preferences,
    subscribe,
    unsubscribe,
)
from azl_testing.tokens import bearer
from azl_testing.webhooks import WebhookReceiver

from azl_contracts import Actor
from azl_contracts import notifications as n
from azl_contracts.common import OrderStatus
from azl_contracts.notifications import MAX_BODY

from .conftest import Platform

STAFF = builders.STAFF
SYSTEM = Actor.model_validate({"id": "storefront", "role": "system"})


@pytest.fixture
def api(platform: Platform) -> NotificationsApi:
    return NotificationsApi(platform.url("notifications"))


@dataclass
class KnownOrder:
    order: flows.PlacedOrder
    api: NotificationsApi

    @property
    def order_id(self) -> Any:
        return self.order.order_id

    @property
    def customer(self) -> Actor:
        return self.order.customer


@pytest_asyncio.fixture(scope="module")
async def known(bus: Bus, platform: Platform) -> AsyncIterator[KnownOrder]:
    """A deposited order the notifications service has heard of."""
    api = NotificationsApi(platform.url("notifications"))
    order = await flows.drive_to(bus, OrderStatus.DEPOSITED)
    await api.knows_order(order.order_id)
    yield KnownOrder(order, api)


def entries(response: httpx.Response) -> list[tuple[str, str, str, str]]:
    assert response.status_code == 200, response.text
    return [
        (e["kind"], e["visibility"], e["author"]["role"], e["body"])
        for e in response.json()["entries"]
    ]


async def test_the_conversation_lists_messages_and_notes_in_order(
    bus: Bus, api: NotificationsApi
) -> None:
    order = await flows.place(bus)
    await api.knows_order(order.order_id)
    oid, customer = order.order_id, order.customer
    longest = "x" * MAX_BODY
    for command in [
        n.PostMessage(actor=customer, order_id=oid, body="Khi nào hàng về?"),
        n.PostMessage(actor=STAFF, order_id=oid, body="Tuần sau ạ"),
        n.AddNote(actor=STAFF, order_id=oid, body="Gọi shop lúc 9h", visibility="private"),
        n.AddNote(actor=STAFF, order_id=oid, body="Hàng dễ vỡ", visibility="customer"),
        n.PostMessage(actor=customer, order_id=oid, body=longest),
        # the limit counts what remains once surrounding whitespace is stripped
        n.PostMessage(actor=customer, order_id=oid, body=f"  {longest}\n"),
    ]:
        await accepted(bus, command)

    assert entries(await api.conversation(oid, customer.id)) == [
        ("message", "customer", "customer", "Khi nào hàng về?"),
        ("message", "customer", "staff", "Tuần sau ạ"),
        ("note", "customer", "staff", "Hàng dễ vỡ"),
        ("message", "customer", "customer", longest),
        ("message", "customer", "customer", longest),
    ]
    assert entries(await api.conversation(oid, "staff-2", "staff")) == [
        ("message", "customer", "customer", "Khi nào hàng về?"),
        ("message", "customer", "staff", "Tuần sau ạ"),
        ("note", "private", "staff", "Gọi shop lúc 9h"),
        ("note", "customer", "staff", "Hàng dễ vỡ"),
        ("message", "customer", "customer", longest),
        ("message", "customer", "customer", longest),
    ]
    assert (await api.conversation(oid, "someone-else")).status_code == 404
    assert (await api.conversation(uuid4(), "ops", "staff")).status_code == 404


async def test_a_private_note_reaches_no_customer_in_any_channel_or_endpoint(
    bus: Bus,
    platform: Platform,
    api: NotificationsApi,
    mail_server: MailServer,
    webhook_receiver: WebhookReceiver,
) -> None:
    customer = builders.customer()
    address = f"{customer.id}@example.vn"
    await set_preferences(bus, customer, email=address, language="vi", channels=["email"])
    storefront = webhook_receiver.hook()  # a customer-facing system that takes everything
    subscription = await subscribe(bus, storefront.url, storefront.secret, "#", system=SYSTEM.id)
    try:
        order = await flows.drive_to(bus, OrderStatus.DEPOSITED, customer)
        await api.knows_order(order.order_id)
        secret = f"PRIVATE-{uuid4().hex}"
        reply = await accepted(
            bus,
            n.AddNote(actor=STAFF, order_id=order.order_id, body=secret, visibility="private"),
        )
        assert reply["events"] == []
        # a customer-visible note after it: once that one has arrived everywhere, the private
        # one (handled first) would have too, if it were going anywhere
        fence = f"FENCE-{uuid4().hex}"
        await accepted(
            bus,
            n.AddNote(actor=STAFF, order_id=order.order_id, body=fence, visibility="customer"),
        )
        await mail_server.wait_for(lambda m: fence in m.text)
        await storefront.wait_for(lambda r: fence.encode() in r.body and r.accepted)
        await eventually(
            lambda: _inbox_contains(api, customer.id, fence), what="the fence in the inbox"
        )
        await bus.wait_for("notifications.note.added", lambda e: fence.encode() in e.body)

        # staff see it: it exists
        staff_view = await api.conversation(order.order_id, "ops", "staff")
        assert secret in staff_view.text

        # channels: inbox, email, webhooks, and the bus itself
        assert secret not in json.dumps(await api.inbox(customer.id))
        assert not mail_server.received(lambda m: secret in m.text or secret in m.html)
        assert not storefront.seen(lambda r: secret.encode() in r.body)
        assert not bus.seen(where=lambda e: secret.encode() in e.body)

        # every read endpoint a customer (or a customer-facing system) can call, narrowed to
        # this order so that everything it has is on the one page looked at
        about_the_order: dict[str, str | int] = {"page_size": 100, "order_id": str(order.order_id)}
        async with platform.http("notifications") as http:
            schema = (await http.get("/openapi.json")).json()
            paths = [p for p, ops in schema["paths"].items() if "get" in ops]
            assert "/orders/{order_id}/conversation" in paths
            assert "/notifications" in paths
            assert "/deliveries" in paths
            for path in paths:
                url = path.replace("{order_id}", str(order.order_id))
                for who in (bearer(customer.id), bearer(SYSTEM.id, "system")):
                    response = await http.get(url, headers=who, params=about_the_order)
                    assert secret not in response.text, path
            customer_view = await http.get(
                f"/orders/{order.order_id}/conversation", headers=bearer(customer.id)
            )
            system_log = (
                await http.get(
                    "/deliveries", headers=bearer(SYSTEM.id, "system"), params=about_the_order
                )
            ).json()
            customer_inbox = (
                await http.get(
                    "/notifications", headers=bearer(customer.id), params=about_the_order
                )
            ).json()
        assert fence in customer_view.text
        assert secret not in customer_view.text
        # the pages looked at hold all of the order's deliveries and notifications
        assert 0 < system_log["total"] == len(system_log["items"])
        assert all(d["order_id"] == str(order.order_id) for d in system_log["items"])
        assert 0 < customer_inbox["total"] == len(customer_inbox["items"])
        assert any(fence in i["body"] for i in customer_inbox["items"])
    finally:
        await unsubscribe(bus, subscription, system=SYSTEM.id)


async def _inbox_contains(api: NotificationsApi, customer_id: str, text: str) -> bool:
    return text in json.dumps(await api.inbox(customer_id))


BAD_INPUT: list[tuple[str, str, Any]] = [
    # (case, reason code, command builder taking the known order)
    (
        "message on an unknown order",
        "not_found",
        lambda k: n.PostMessage(actor=k.customer, order_id=uuid4(), body="hello"),
    ),
    (
        "note on an unknown order",
        "not_found",
        lambda k: n.AddNote(actor=STAFF, order_id=uuid4(), body="x", visibility="customer"),
    ),
    (
        "empty message",
        "validation_error",
        lambda k: n.PostMessage(actor=k.customer, order_id=k.order_id, body=""),
    ),
    (
        "blank message",
        "validation_error",
        lambda k: n.PostMessage(actor=STAFF, order_id=k.order_id, body="  \n\t "),
    ),
    (
        "empty note",
        "validation_error",
        lambda k: n.AddNote(actor=STAFF, order_id=k.order_id, body="", visibility="private"),
    ),
    (
        "message over 10,000 characters",
        "validation_error",
        lambda k: {
            "type": "notifications.post-message",
            "body": {
                "actor": k.customer.model_dump(),
                "order_id": str(k.order_id),
                "body": "x" * (MAX_BODY + 1),
            },
        },
    ),
    (
        "note over 10,000 characters",
        "validation_error",
        lambda k: {
            "type": "notifications.add-note",
            "body": {
                "actor": STAFF.model_dump(),
                "order_id": str(k.order_id),
                "body": "x" * (MAX_BODY + 1),
                "visibility": "customer",
            },
        },
    ),
    (
        "note from a customer",
        "forbidden",
        lambda k: {
            "type": "notifications.add-note",
            "body": {
                "actor": k.customer.model_dump(),
                "order_id": str(k.order_id),
                "body": "x",
                "visibility": "customer",
            },
        },
    ),
    (
        "message from another customer",
        "forbidden",
        lambda k: n.PostMessage(actor=builders.customer(), order_id=k.order_id, body="hi"),
    ),
    (
        "webhook URL that is not http(s)",
        "validation_error",
        lambda k: {
            "type": "notifications.subscribe-webhook",
            "body": {
                "actor": SYSTEM.model_dump(),
                "url": "ftp://hooks.example.com/in",
                "secret": "s" * 32,
                "event_types": ["orders.order.#"],
            },
        },
    ),
    (
        "webhook pattern that matches nothing",
        "validation_error",
        lambda k: n.SubscribeWebhook.model_validate(
            {
                "actor": SYSTEM.model_dump(),
                "url": "https://hooks.example.com/in",
                "secret": "s" * 32,
                "event_types": ["payments.#"],
            }
        ),
    ),
    (
        "webhook subscription by a customer",
        "forbidden",
        lambda k: {
            "type": "notifications.subscribe-webhook",
            "body": {
                "actor": k.customer.model_dump(),
                "url": "https://hooks.example.com/in",
                "secret": "s" * 32,
                "event_types": ["orders.order.#"],
            },
        },
    ),
    (
        "email channel without an address",
        "validation_error",
        lambda k: n.SetPreferences.model_validate(
            {"actor": k.customer.model_dump(), "channels": ["in_app", "email"]}
        ),
    ),
    (
        "marking another inbox's notification",
        "not_found",
        lambda k: n.MarkRead(actor=k.customer, notification_ids=[uuid4()]),
    ),
]


@pytest.mark.parametrize(("case", "reason", "build"), BAD_INPUT, ids=[c for c, _, _ in BAD_INPUT])
async def test_bad_input_is_rejected_with_a_reason_code_and_changes_nothing(
    bus: Bus, known: KnownOrder, case: str, reason: str, build: Any
) -> None:
    api = known.api
    before = await _state(api, known)
    command = build(known)
    if isinstance(command, dict):
        message_type = command["type"]
        raw = await bus.request_raw(
            json.dumps(command["body"]).encode(),
            routing_key=message_type,
            message_type=f"{message_type}.v1",
        )
        outcome = raw.json
    else:
        outcome = await bus.request(command)
    assert outcome["status"] == "rejected"
    assert outcome["reason_code"] == reason, outcome
    await bus.wait_for(
        "notifications.command.rejected", lambda e: e.causation_id == outcome["command_id"]
    )
    await fence(bus)  # processed after the rejected command: what it caused has arrived
    caused = bus.seen(where=lambda e: e.causation_id == outcome["command_id"])
    assert [e.type for e in caused] == ["notifications.command.rejected.v1"]
    assert caused[0].json["reason_code"] == reason
    assert await _state(api, known) == before


async def fence(bus: Bus) -> None:
    """A harmless command after the ones looked at, and its event: the notifications service
    takes its commands from one queue in order and publishes what each caused in commit
    order, so once the fence's event has arrived so has everything the earlier commands
    caused. Absence is then proven by evidence, not by a quiet period."""
    reply = await accepted(bus, n.SetPreferences(actor=builders.customer()))
    await bus.wait_for(
        "notifications.preferences.updated", lambda e: e.causation_id == reply["command_id"]
    )


async def test_a_message_sent_right_after_place_order_is_accepted_every_time(
    bus: Bus, api: NotificationsApi
) -> None:
    """Spec §2: queues are not ordered between each other. A post-message sent right after
    its place-order may reach notifications before the orders.order.placed event it needs;
    it waits for it (AZL_ORDER_WAIT_SECONDS) rather than being refused not_found."""
    customer = builders.customer()
    outcomes: list[dict[str, Any]] = []
    for i in range(100):
        order_id = uuid4()
        await bus.send(builders.place_order(customer, order_id=order_id))
        outcomes.append(
            await bus.request(
                n.PostMessage(actor=customer, order_id=order_id, body=f"Xin chào #{i}")
            )
        )
    accepted_count = sum(o["status"] == "accepted" for o in outcomes)
    refused = [o.get("reason_code") for o in outcomes if o["status"] != "accepted"]
    print(f"post-message right after place-order: {accepted_count}/100 accepted, refused {refused}")
    assert accepted_count == 100, refused


async def _state(api: NotificationsApi, known: KnownOrder) -> dict[str, Any]:
    """Everything a rejected command could have changed."""
    return {
        "conversation": (await api.conversation(known.order_id, "ops", "staff")).json(),
        "customer_inbox": await api.inbox(known.customer.id),
        "staff_inbox": await api.inbox("ops", "staff", order_id=str(known.order_id)),
        "preferences": await api.get("/preferences", known.customer.id),
        "webhooks": await api.get("/webhooks", "ops", "staff"),
        "deliveries": await api.deliveries(order_id=str(known.order_id)),
    }


async def test_the_inbox_counts_unread_and_marks_read(bus: Bus, api: NotificationsApi) -> None:
    customer = builders.customer()
    order = await flows.drive_to(bus, OrderStatus.PURCHASING, customer)

    async def two() -> dict[str, Any] | None:
        page = await api.inbox(customer.id)
        return page if len(page["items"]) == 2 else None

    page = await eventually(two, what="two notifications")
    assert [i["template"] for i in page["items"]] == ["purchasing_started", "order_deposited"]
    assert page["unread"] == 2
    assert (await api.get("/notifications/unread-count", customer.id))["unread"] == 2
    newest = page["items"][0]["notification_id"]

    # somebody else's inbox is not this one's
    stranger = builders.customer()
    assert (await api.inbox(stranger.id))["items"] == []
    refused = await bus.request(n.MarkRead(actor=stranger, notification_ids=[newest]))
    assert refused["reason_code"] == "not_found"

    one = await accepted(bus, n.MarkRead(actor=customer, notification_ids=[newest]))
    assert one["result"] == {"marked": 1}
    page = await api.inbox(customer.id)
    assert page["unread"] == 1
    assert page["items"][0]["read_at"] is not None
    assert page["items"][1]["read_at"] is None
    unread = (await api.inbox(customer.id, unread_only=True))["items"]
    assert [i["notification_id"] for i in unread] == [page["items"][1]["notification_id"]]
    everything = await accepted(bus, n.MarkRead(actor=customer, all=True))
    assert everything["result"] == {"marked": 1}
    assert (await api.get("/notifications/unread-count", customer.id))["unread"] == 0
    assert (await api.inbox(customer.id))["items"][0]["read_at"] == page["items"][0]["read_at"]
    assert order.order_id


async def test_the_staff_inbox_is_shared_by_staff_and_hidden_from_customers(
    bus: Bus, api: NotificationsApi, known: KnownOrder
) -> None:
    posted = await accepted(
        bus, n.PostMessage(actor=known.customer, order_id=known.order_id, body="Còn hàng không?")
    )
    message_id = posted["result"]["message_id"]

    async def staff_sees() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (
            await api.inbox("staff-a", "staff", order_id=str(known.order_id))
        )["items"]
        mine = [i for i in items if "Còn hàng không?" in i["body"]]
        return mine or None

    [seen_by_a] = await eventually(staff_sees, what="the staff inbox")
    assert seen_by_a["template"] == "message_from_customer"
    by_b = (await api.inbox("staff-b", "staff", order_id=str(known.order_id)))["items"]
    assert seen_by_a["notification_id"] in [i["notification_id"] for i in by_b]
    customer_inbox = await api.inbox(known.customer.id)
    assert seen_by_a["notification_id"] not in json.dumps(customer_inbox)
    await accepted(bus, n.MarkRead(actor=STAFF, notification_ids=[seen_by_a["notification_id"]]))
    by_b = (await api.inbox("staff-b", "staff", order_id=str(known.order_id)))["items"]
    marked = next(i for i in by_b if i["notification_id"] == seen_by_a["notification_id"])
    assert marked["read_at"] is not None
    assert message_id


async def test_preferences_are_set_published_and_read_back(bus: Bus, api: NotificationsApi) -> None:
    customer = builders.customer()
    assert await api.get("/preferences", customer.id) == {
        "customer_id": customer.id,
        "email": None,
        "language": "vi",
        "channels": ["in_app"],
    }
    reply = await accepted(
        bus,
        n.SetPreferences.model_validate(
            {
                "actor": customer.model_dump(),
                "email": "an@example.vn",
                "language": "en",
                "channels": ["email"],
            }
        ),
    )
    [event] = reply["events"]
    assert event["type"] == "notifications.preferences.updated.v1"
    assert await api.get("/preferences", customer.id) == {
        "customer_id": customer.id,
        "email": "an@example.vn",
        "language": "en",
        "channels": ["email", "in_app"],
    }
    async with api.client() as http:
        staff = await http.get("/preferences", headers=bearer("ops", "staff"))
        anonymous = await http.get("/preferences")
    assert staff.status_code == 403
    assert anonymous.status_code == 401
