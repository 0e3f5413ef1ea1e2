"""Deliveries survive what real receivers do: fail for a while, refuse, go away — and the
service itself dying mid-delivery. Every attempt is logged; a delivery that gives up says
so on the bus (``notifications.delivery.failed``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from azl_testing import builders, flows
from azl_testing.bus import Bus
from azl_testing.flows import accepted
from azl_testing.mail import MailServer
from azl_testing.notifications import (
    MAX_ATTEMPTS,
    NotificationsApi,
    eventually,
    fence_order_events,
    set_preferences,
    subscribe,
    unsubscribe,
)
from azl_testing.tokens import bearer
from azl_testing.webhooks import Hook, WebhookReceiver

from azl_contracts import notifications as n
from azl_contracts import orders as o
from azl_contracts.common import OrderStatus
from azl_contracts.topology import EVENTS_EXCHANGE

from .conftest import Platform

S = OrderStatus


@pytest.fixture
def api(platform: Platform) -> NotificationsApi:
    return NotificationsApi(platform.url("notifications"))


@pytest.fixture
def smtp(mail_server: MailServer) -> Iterator[MailServer]:
    """The session's SMTP server, back up and well-behaved after the test, whatever it did."""
    try:
        yield mail_server
    finally:
        mail_server.start()
        mail_server.behave()


async def subscribed(bus: Bus, hook: Hook, *patterns: str) -> UUID:
    return await subscribe(bus, hook.url, hook.secret, *patterns)


async def deposited_order(bus: Bus, customer: Any = None) -> flows.PlacedOrder:
    return await flows.drive_to(bus, S.DEPOSITED, customer)


def failed_events(bus: Bus, delivery_id: str) -> list[dict[str, Any]]:
    return [
        e.json
        for e in bus.seen(
            "notifications.delivery.failed", lambda e: e.json["delivery_id"] == delivery_id
        )
    ]


async def test_a_receiver_that_fails_twice_then_succeeds_gets_the_event_exactly_once(
    bus: Bus, api: NotificationsApi, webhook_receiver: WebhookReceiver
) -> None:
    hook = webhook_receiver.hook(fail_first=[500, 503])
    subscription = await subscribed(bus, hook, "orders.order.deposited")
    try:
        order = await deposited_order(bus)
        [delivery] = await api.settled_deliveries(
            1, subscription_id=str(subscription), order_id=str(order.order_id)
        )
        await asyncio.sleep(1.0)  # time for a wrong extra attempt to show up
        requests = hook.seen()
        assert [r.answered for r in requests] == [500, 503, 200]
        assert all(r.verified for r in requests)
        assert len({r.delivery_id for r in requests}) == 1
        assert len({r.body for r in requests}) == 1  # the same event each time
        assert [r.headers["x-azl-attempt"] for r in requests] == ["1", "2", "3"]
        [received] = hook.delivered()
        assert received.json["routing_key"] == "orders.order.deposited"
        assert received.json["data"]["order_id"] == str(order.order_id)
        deposited = await bus.wait_for_order("orders.order.deposited", order.order_id)
        assert received.json["event_id"] == deposited[0].message_id

        assert delivery["status"] == "sent"
        assert delivery["attempts"] == 3
        assert delivery["last_error"] == "HTTP 503"
        assert [
            (a["attempt"], a["outcome"], a["status_code"]) for a in delivery["attempt_log"]
        ] == [
            (1, "retry", 500),
            (2, "retry", 503),
            (3, "sent", 200),
        ]
        assert [a["error"] for a in delivery["attempt_log"]] == ["HTTP 500", "HTTP 503", None]
        assert not failed_events(bus, delivery["delivery_id"])
    finally:
        await unsubscribe(bus, subscription)


async def test_a_4xx_answer_is_not_retried_and_the_failure_is_published(
    bus: Bus, api: NotificationsApi, webhook_receiver: WebhookReceiver
) -> None:
    hook = webhook_receiver.hook(always=410)
    subscription = await subscribed(bus, hook, "orders.order.deposited")
    try:
        order = await deposited_order(bus)
        [delivery] = await api.settled_deliveries(
            1, subscription_id=str(subscription), order_id=str(order.order_id)
        )
        assert delivery["status"] == "failed"
        assert delivery["attempts"] == 1
        assert delivery["last_error"] == "HTTP 410"
        [failure] = (
            await bus.wait_for(
                "notifications.delivery.failed",
                lambda e: e.json["delivery_id"] == delivery["delivery_id"],
            )
        )[0:1]
        assert failure.json["channel"] == "webhook"
        assert failure.json["target"] == hook.url
        assert failure.json["attempts"] == 1
        assert failure.json["last_error"] == "HTTP 410"
        assert failure.json["subscription_id"] == str(subscription)
        assert failure.json["order_id"] == str(order.order_id)
        # reported in the flow of the event that caused the delivery
        [deposited] = await bus.wait_for_order("orders.order.deposited", order.order_id)
        assert failure.correlation_id == deposited.correlation_id
        assert failure.causation_id == deposited.message_id
        await asyncio.sleep(1.0)
        assert len(hook.seen()) == 1
        assert len(failed_events(bus, delivery["delivery_id"])) == 1
    finally:
        await unsubscribe(bus, subscription)


async def test_after_the_retry_limit_the_delivery_is_failed_and_the_failure_published(
    bus: Bus, api: NotificationsApi, webhook_receiver: WebhookReceiver
) -> None:
    hook = webhook_receiver.hook(always=503)
    subscription = await subscribed(bus, hook, "orders.order.deposited")
    try:
        order = await deposited_order(bus)
        [delivery] = await api.settled_deliveries(
            1, timeout=40, subscription_id=str(subscription), order_id=str(order.order_id)
        )
        assert delivery["status"] == "failed"
        assert delivery["attempts"] == MAX_ATTEMPTS
        assert delivery["last_error"] == f"gave up after {MAX_ATTEMPTS} attempts: HTTP 503"
        outcomes = [a["outcome"] for a in delivery["attempt_log"]]
        assert outcomes == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed"]
        gaps = [
            _seconds(b["started_at"]) - _seconds(a["started_at"])
            for a, b in zip(delivery["attempt_log"], delivery["attempt_log"][1:], strict=False)
        ]
        assert gaps[2] > gaps[0]  # it backs off
        failures = await bus.wait_for(
            "notifications.delivery.failed",
            lambda e: e.json["delivery_id"] == delivery["delivery_id"],
        )
        assert failures[0].json["attempts"] == MAX_ATTEMPTS
        assert len(hook.seen()) == MAX_ATTEMPTS
        assert all(r.verified for r in hook.seen())
    finally:
        await unsubscribe(bus, subscription)


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def test_an_smtp_outage_of_a_few_seconds_delays_email_but_loses_none(
    bus: Bus, api: NotificationsApi, smtp: MailServer
) -> None:
    customer = builders.customer()
    address = f"{customer.id}@example.vn"
    await set_preferences(bus, customer, email=address, language="vi", channels=["email"])
    order = await flows.place(bus, customer)
    await api.knows_order(order.order_id)

    smtp.stop()
    outage_started = asyncio.get_running_loop().time()
    await flows.pay_deposit(bus, order)
    await accepted(bus, o.StartPurchasing(actor=builders.STAFF, order_id=order.order_id))
    await accepted(
        bus, n.PostMessage(actor=builders.STAFF, order_id=order.order_id, body="Đang mua hàng")
    )

    async def retrying() -> list[dict[str, Any]] | None:
        items = await api.deliveries(order_id=str(order.order_id), channel="email")
        if len(items) == 3 and all(d["attempts"] >= 2 for d in items):
            return items
        return None

    waiting = await eventually(retrying, what="emails retried during the outage")
    assert all(d["status"] in ("pending", "sending") for d in waiting)
    assert all("SMTP unreachable" in (d["last_error"] or "") for d in waiting)
    assert not smtp.for_order(order.order_id)
    await asyncio.sleep(max(0.0, 3.0 - (asyncio.get_running_loop().time() - outage_started)))
    smtp.start()

    mails = await smtp.wait_for(lambda m: m.order_id == str(order.order_id), count=3)
    delivered = await api.settled_deliveries(3, order_id=str(order.order_id), channel="email")
    await asyncio.sleep(0.5)
    mails = smtp.for_order(order.order_id)
    assert sorted(m.template for m in mails) == [
        "message_from_staff",
        "order_deposited",
        "purchasing_started",
    ]
    assert all(m.to == [address] for m in mails)
    assert all(d["status"] == "sent" for d in delivered)
    for d in delivered:
        log = d["attempt_log"]
        assert [a["outcome"] for a in log] == ["retry"] * (len(log) - 1) + ["sent"]
        assert all("SMTP unreachable" in a["error"] for a in log[:-1])


async def test_smtp_replies_say_whether_to_try_again(
    bus: Bus, api: NotificationsApi, smtp: MailServer
) -> None:
    """A 4yz reply (busy, try later) is retried; a 5yz reply (no such mailbox) is final."""
    busy, unknown = builders.customer(), builders.customer()
    busy_address, unknown_address = f"{busy.id}@example.vn", f"{unknown.id}@example.vn"
    smtp.refused_recipients.add(unknown_address)
    for customer, address in ((busy, busy_address), (unknown, unknown_address)):
        await set_preferences(bus, customer, email=address, language="en", channels=["email"])
    busy_order = await flows.place(bus, busy)
    unknown_order = await flows.place(bus, unknown)

    smtp.fail_next(busy_address, 2)
    await flows.pay_deposit(bus, busy_order)
    [retried] = await api.settled_deliveries(1, order_id=str(busy_order.order_id))
    assert retried["status"] == "sent"
    assert [a["status_code"] for a in retried["attempt_log"]] == [451, 451, None]
    assert len(smtp.for_order(busy_order.order_id)) == 1

    await flows.pay_deposit(bus, unknown_order)
    [refused] = await api.settled_deliveries(1, order_id=str(unknown_order.order_id))
    assert refused["status"] == "failed"
    assert refused["attempts"] == 1
    assert refused["last_error"].startswith("SMTP 550")
    failure = await bus.wait_for(
        "notifications.delivery.failed", lambda e: e.json["delivery_id"] == refused["delivery_id"]
    )
    assert failure[0].json["channel"] == "email"
    assert failure[0].json["target"] == unknown_address
    assert failure[0].json["recipient"] == unknown.id
    assert failure[0].json["notification_id"] == refused["notification_id"]
    # the in-app notification is there all the same
    inbox = await api.inbox(unknown.id)
    assert [i["template"] for i in inbox["items"]] == ["order_deposited"]


async def test_a_restart_mid_delivery_and_a_redelivered_event_give_one_of_each(
    bus: Bus,
    api: NotificationsApi,
    smtp: MailServer,
    webhook_receiver: WebhookReceiver,
    platform: Platform,
) -> None:
    """The instance is killed (SIGKILL) while its email waits to be retried (the SMTP
    server is down) and its webhook is in flight (the receiver holds the request), and the
    event that caused them arrives a second time. Afterwards: one inbox entry, one email,
    one webhook taken in. Nobody can know whether the webhook cut off by the crash got
    through, so once its lease has run out it is sent again with the same
    X-AZL-Delivery-Id (by which a receiver drops a repeat), and the lost attempt is logged
    as interrupted."""
    customer = builders.customer()
    address = f"{customer.id}@example.vn"
    await set_preferences(bus, customer, email=address, language="en", channels=["email"])
    hook = webhook_receiver.hook(hold=30)
    subscription = await subscribed(bus, hook, "orders.order.deposited")
    service = platform.services["notifications"]
    try:
        order = await flows.place(bus, customer)
        await api.knows_order(order.order_id)
        smtp.stop()
        await flows.pay_deposit(bus, order)

        [in_flight] = await hook.wait_for(count=1)

        async def email_failed_once() -> bool:
            emails = await api.deliveries(order_id=str(order.order_id), channel="email")
            return len(emails) == 1 and emails[0]["last_error"] is not None

        await eventually(email_failed_once, what="the email waiting for a retry")
        service.kill()  # SIGKILL: no graceful anything
        # the event arrives again, as after a publisher's crash between confirm and delete
        [deposited] = await bus.wait_for_order("orders.order.deposited", order.order_id)
        await bus.publish_raw(
            deposited.body,
            exchange=EVENTS_EXCHANGE,
            routing_key=deposited.routing_key,
            message_id=deposited.message_id,
            message_type=deposited.type,
            correlation_id=deposited.correlation_id,
        )
        hook.hold = 0
        service.start().wait_ready()
        smtp.start()

        delivered = await api.settled_deliveries(2, timeout=30, order_id=str(order.order_id))
        await fence_order_events(bus, api)  # the deposited event again was handled before it
        assert sorted((d["channel"], d["status"]) for d in delivered) == [
            ("email", "sent"),
            ("webhook", "sent"),
        ]
        assert len(await api.deliveries(order_id=str(order.order_id))) == 2
        inbox = await api.inbox(customer.id)
        assert [i["template"] for i in inbox["items"]] == ["order_deposited"]
        assert [m.template for m in smtp.for_order(order.order_id)] == ["order_deposited"]

        webhook = next(d for d in delivered if d["channel"] == "webhook")
        assert [(a["attempt"], a["outcome"]) for a in webhook["attempt_log"]] == [
            (1, "interrupted"),
            (2, "sent"),
        ]
        requests = hook.seen()
        assert len(requests) == 2  # the attempt cut off by the crash, and its repeat
        assert all(r.verified for r in requests)
        assert {r.delivery_id for r in requests} == {in_flight.delivery_id}
        assert requests[0].body == requests[1].body
        assert [r.headers["x-azl-attempt"] for r in requests] == ["1", "2"]
        assert [r.json["event_id"] for r in requests] == [deposited.message_id] * 2
        # the receiver took it in once: the repeat carried the same delivery id and was dropped
        [taken] = hook.delivered()
        assert taken.headers["x-azl-attempt"] == "1"
        [repeat] = hook.repeats()
        assert repeat.delivery_id == taken.delivery_id
        assert repeat.accepted  # answered 2xx, so the service stops sending it

        created = bus.seen(
            "notifications.notification.created",
            lambda e: e.json["order_id"] == str(order.order_id),
        )
        assert len({e.message_id for e in created}) == 1
    finally:
        if service.process is None or service.process.poll() is not None:
            service.start().wait_ready()
        await unsubscribe(bus, subscription)


async def test_a_system_sees_only_its_own_subscriptions_and_their_deliveries(
    bus: Bus, api: NotificationsApi, webhook_receiver: WebhookReceiver
) -> None:
    """Staff see every delivery; a system sees the subscriptions it made and their webhooks,
    never another system's URL nor a customer's email address, and cannot end another's."""
    customer = builders.customer()
    address = f"{customer.id}@example.vn"
    await set_preferences(bus, customer, email=address, language="vi", channels=["email"])
    erp, crm = f"erp-{uuid4().hex[:8]}", f"crm-{uuid4().hex[:8]}"
    ours, theirs = webhook_receiver.hook(), webhook_receiver.hook()
    mine = await subscribe(bus, ours.url, ours.secret, "orders.order.deposited", system=erp)
    other = await subscribe(bus, theirs.url, theirs.secret, "orders.order.deposited", system=crm)
    try:
        order = await deposited_order(bus, customer)
        oid = str(order.order_id)
        everything = await api.settled_deliveries(3, order_id=oid)
        assert {(d["channel"], d["target"]) for d in everything} >= {
            ("email", address),
            ("webhook", ours.url),
            ("webhook", theirs.url),
        }

        for scope in ({"order_id": oid}, {}):
            page = await api.get("/deliveries", erp, "system", page_size=100, **scope)
            assert [(d["subscription_id"], d["target"]) for d in page["items"]] == [
                (str(mine), ours.url)
            ]
            assert page["total"] == 1
            assert address not in json.dumps(page)
            assert theirs.url not in json.dumps(page)
        asked_for_theirs = await api.get("/deliveries", erp, "system", subscription_id=str(other))
        assert (asked_for_theirs["items"], asked_for_theirs["total"]) == ([], 0)

        listed = await api.get("/webhooks", erp, "system")
        assert [(s["subscription_id"], s["url"]) for s in listed] == [(str(mine), ours.url)]
        staff_listed = await api.get("/webhooks", "ops", "staff")
        assert {str(mine), str(other)} <= {s["subscription_id"] for s in staff_listed}

        refused = await bus.request(
            n.UnsubscribeWebhook.model_validate(
                {"actor": {"id": erp, "role": "system"}, "subscription_id": str(other)}
            )
        )
        assert refused["reason_code"] == "not_found"
        theirs_now = await api.get("/webhooks", crm, "system")
        assert [(s["subscription_id"], s["active"]) for s in theirs_now] == [(str(other), True)]

        async with api.client() as http:
            for path in ("/deliveries", "/webhooks"):
                response = await http.get(path, headers=bearer(customer.id))
                assert response.status_code == 403, path
    finally:
        await unsubscribe(bus, mine, system=erp)
        await unsubscribe(bus, other, system=crm)


async def test_ending_a_subscription_stops_its_deliveries(
    bus: Bus, api: NotificationsApi, webhook_receiver: WebhookReceiver, platform: Platform
) -> None:
    hook = webhook_receiver.hook(always=503)
    subscription = await subscribed(bus, hook, "orders.order.deposited")
    order = await deposited_order(bus)
    await hook.wait_for(count=1)
    await unsubscribe(bus, subscription)
    [cancelled] = await api.settled_deliveries(1, subscription_id=str(subscription))
    assert cancelled["status"] == "cancelled"
    seen = len(hook.seen())
    hook.release()
    other = await deposited_order(bus)
    await api.knows_order(other.order_id)
    await bus.wait_for_order("notifications.notification.created", other.order_id)
    await asyncio.sleep(1.0)
    assert len(hook.seen()) == seen
    assert not hook.delivered()

    async with platform.http("notifications") as http:
        listed = (await http.get("/webhooks", headers=bearer("erp", "system"))).json()
        forbidden = await http.get("/webhooks", headers=bearer("cust-1"))
    mine = next(s for s in listed if s["subscription_id"] == str(subscription))
    assert mine["active"] is False
    assert mine["url"] == hook.url
    assert hook.secret not in json.dumps(listed)
    assert forbidden.status_code == 403
    again = await bus.request(
        n.UnsubscribeWebhook.model_validate(
            {"actor": {"id": "erp", "role": "system"}, "subscription_id": str(subscription)}
        )
    )
    assert again["reason_code"] == "not_found"
    assert order.order_id != other.order_id
