"""Spec §6 over a whole order: every recipient gets exactly its notifications, in its
language, on each of its channels — in-app inbox, email (a real SMTP server) and signed
webhooks (a real HTTP receiver).

The orders service runs for real; fee and complaint events are published on the bus
exactly as the fees and complaints services publish them.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from azl_testing import builders, flows
from azl_testing.bus import Bus
from azl_testing.flows import accepted
from azl_testing.mail import MailServer
from azl_testing.notifications import (
    STAFF_EMAILS,
    NotificationsApi,
    eventually,
    fence_order_events,
    set_preferences,
    subscribe,
    unsubscribe,
)
from azl_testing.tokens import bearer
from azl_testing.webhooks import Hook, WebhookReceiver

from azl_contracts import Actor
from azl_contracts import complaints as c
from azl_contracts import fees as f
from azl_contracts import notifications as n
from azl_contracts import orders as o
from azl_contracts.common import OrderStatus, ServiceCode

from .conftest import Platform

S = OrderStatus
STAFF = builders.STAFF
SHIPPING = [
    S.SELLER_SHIPPED,
    S.IN_CHINA_WAREHOUSE,
    S.IN_TRANSIT,
    S.IN_VIETNAM_WAREHOUSE,
    S.DELIVERING,
    S.DELIVERED,
]


@pytest.fixture
def api(platform: Platform) -> NotificationsApi:
    return NotificationsApi(platform.url("notifications"))


@pytest.fixture
def hook(webhook_receiver: WebhookReceiver) -> Hook:
    return webhook_receiver.hook()


def now() -> datetime:
    return datetime.now(UTC)


def complaint_step(
    kind: type[c.ComplaintEvent],
    complaint_id: UUID,
    order: flows.PlacedOrder,
    actor: Actor,
    status: c.ComplaintStatus,
    **fields: Any,
) -> c.ComplaintEvent:
    return kind(
        complaint_id=complaint_id,
        order_id=order.order_id,
        customer_id=order.customer.id,
        status=status,
        actor=actor,
        occurred_at=now(),
        **fields,
    )


def of_order(order_id: UUID) -> Any:
    return lambda mail: mail.order_id == str(order_id)


def templates(items: list[dict[str, Any]]) -> Counter[str]:
    return Counter(i["template"] for i in items)


async def _delivered_ledger(http: Any, order_id: Any, customer_id: str) -> Any:
    response = await http.get(f"/ledgers/{order_id}", headers=bearer(customer_id))
    body = response.json() if response.status_code == 200 else None
    return body if body is not None and body["delivered"] else None


async def test_a_whole_order_reaches_each_recipient_once_per_channel_in_its_language(
    bus: Bus, api: NotificationsApi, mail_server: MailServer, hook: Hook, platform: Platform
) -> None:
    customer = builders.customer()
    address = f"{customer.id}@example.vn"
    await set_preferences(bus, customer, email=address, language="en", channels=["email"])
    subscription = await subscribe(
        bus,
        hook.url,
        hook.secret,
        "orders.order.#",
        "fees.fee.charged",
        "complaints.complaint.*",
        "notifications.message.posted",
        "notifications.note.added",
    )
    try:
        # --- the order, through the real orders service ----------------------------------
        order = await flows.place(bus, customer, items=[builders.item("100.00", 2)])
        oid = order.order_id
        await flows.pay_deposit(bus, order)
        await accepted(bus, o.StartPurchasing(actor=STAFF, order_id=oid))
        change = o.ItemChange(item_id=order.item_ids[0], new_unit_price_cny=Decimal("110.00"))
        await accepted(bus, o.ReportItemChange(actor=STAFF, order_id=oid, changes=[change]))
        await accepted(bus, o.ConfirmItems(actor=customer, order_id=oid, item_ids=order.item_ids))
        await accepted(bus, o.MarkItemsOrdered(actor=STAFF, order_id=oid, item_ids=order.item_ids))
        for step in SHIPPING:
            await accepted(
                bus, o.AdvanceShipping(actor=builders.WAREHOUSE, order_id=oid, to_status=step)
            )
        # --- fees charged on completion, as the fees service publishes them ------------------
        await bus.emit(
            f.FeeCharged(
                order_id=oid,
                customer_id=customer.id,
                occurred_at=now(),
                entry_id=uuid4(),
                fee_code=ServiceCode.INTERNATIONAL_SHIPPING,
                amount_vnd=Decimal(56000),
                catalog_version="test",
                basis="2 kg × 28,000",
                on_completion=True,
            )
        )
        # --- a complaint, as the complaints service publishes it ------------------------------
        cid, status = uuid4(), c.ComplaintStatus
        for event in [
            complaint_step(
                c.ComplaintOpened,
                cid,
                order,
                customer,
                status.OPEN,
                type=c.ComplaintType.DAMAGED,
                item_ids=order.item_ids,
                description="The zip is broken",
                attachments=[],
            ),
            complaint_step(c.ComplaintReviewStarted, cid, order, STAFF, status.IN_REVIEW),
            complaint_step(
                c.ComplaintInfoRequested,
                cid,
                order,
                STAFF,
                status.AWAITING_CUSTOMER,
                message="A photo, please",
            ),
            complaint_step(
                c.ComplaintInfoProvided,
                cid,
                order,
                customer,
                status.IN_REVIEW,
                message="Here it is",
                attachments=[],
            ),
            complaint_step(
                c.ComplaintCommentAdded,
                cid,
                order,
                STAFF,
                status.IN_REVIEW,
                comment_id=uuid4(),
                body="Thanks, we see it",
            ),
            complaint_step(
                c.ComplaintResolved,
                cid,
                order,
                STAFF,
                status.RESOLVED,
                resolution=c.Resolution.REFUND,
                amount_vnd=Decimal(50000),
            ),
        ]:
            await bus.emit(event)
        # --- the conversation --------------------------------------------------------------
        private = f"PRIVATE-{uuid4().hex}"
        for command in [
            n.PostMessage(actor=customer, order_id=oid, body="When will it arrive?"),
            n.PostMessage(actor=STAFF, order_id=oid, body="Tomorrow <b>morning</b>"),
            n.AddNote(actor=STAFF, order_id=oid, body="Packed in a crate", visibility="customer"),
            n.AddNote(actor=STAFF, order_id=oid, body=private, visibility="private"),
        ]:
            await accepted(bus, command)

        # --- what each recipient must have -------------------------------------------------
        # the fees service charges at deposit (and, as it grows, may charge on completion
        # too): once its ledger has taken the delivery, every charge it made is committed,
        # and each is published as one fees.fee.charged: wait for exactly those
        async with platform.http("fees") as fees_http:
            ledger = await eventually(
                lambda: _delivered_ledger(fees_http, oid, customer.id),
                what="the fees ledger of the delivered order",
            )
        charges = [e for e in ledger["entries"] if e["kind"] == "charge"]
        fee_events = await bus.wait_for_order("fees.fee.charged", oid, count=len(charges))
        on_completion = [e for e in fee_events if e.json.get("on_completion")]
        customer_expected = Counter(
            {
                "order_deposited": 1,
                "purchasing_started": 1,
                "items_awaiting_confirmation": 1,
                "order_purchased": 1,
                "shipping_advanced": 5,  # delivery itself is order_delivered
                "order_delivered": 1,
                "fee_charged": len(on_completion),
                "complaint_opened": 1,
                "complaint_review_started": 1,
                "complaint_info_requested": 1,
                "complaint_comment_from_staff": 1,
                "complaint_resolved": 1,
                "message_from_staff": 1,
                "note_for_customer": 1,
            }
        )
        staff_expected = Counter(
            {
                "complaint_opened_for_staff": 1,
                "complaint_info_provided": 1,
                "message_from_customer": 1,
            }
        )
        n_customer, n_staff = sum(customer_expected.values()), sum(staff_expected.values())

        async def customer_inbox() -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = (await api.inbox(customer.id))["items"]
            return items if len(items) >= n_customer else None

        async def staff_inbox() -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = (await api.inbox("staff-9", "staff", order_id=str(oid)))[
                "items"
            ]
            return items if len(items) >= n_staff else None

        inbox = await eventually(customer_inbox, what="the customer's inbox")
        staff_items = await eventually(staff_inbox, what="the staff inbox")
        mails = await mail_server.wait_for(
            of_order(oid), count=n_customer + n_staff * len(STAFF_EMAILS)
        )
        await api.settled_deliveries(
            n_customer + n_staff * len(STAFF_EMAILS), channel="email", order_id=str(oid)
        )
        webhook_events = bus.seen(
            where=lambda e: (
                e.json.get("order_id") == str(oid)
                and any(
                    (e.type or "").startswith(prefix)
                    for prefix in (
                        "orders.order.placed",
                        "orders.order.deposited",
                        "orders.order.purchasing-started",
                        "orders.order.items-changed",
                        "orders.order.purchased",
                        "orders.order.shipping-advanced",
                        "orders.order.delivered",
                        "fees.fee.charged",
                        "complaints.complaint.",
                        "notifications.message.posted",
                        "notifications.note.added",
                    )
                )
            )
        )
        expected_hooks = Counter(
            {
                "orders.order.placed.v2": 1,
                "orders.order.deposited.v1": 1,
                "orders.order.purchasing-started.v1": 1,
                "orders.order.items-changed.v1": 1,
                "orders.order.purchased.v1": 1,
                "orders.order.shipping-advanced.v1": 6,
                "orders.order.delivered.v1": 1,
                "fees.fee.charged.v1": len(fee_events),
                "complaints.complaint.opened.v1": 1,
                "complaints.complaint.review-started.v1": 1,
                "complaints.complaint.info-requested.v1": 1,
                "complaints.complaint.info-provided.v1": 1,
                "complaints.complaint.comment-added.v1": 1,
                "complaints.complaint.resolved.v1": 1,
                "notifications.message.posted.v1": 2,
                "notifications.note.added.v1": 1,
            }
        )
        assert Counter(e.type for e in webhook_events) == expected_hooks
        await hook.wait_for(lambda r: r.accepted, count=sum(expected_hooks.values()))
        # the evidence that every event was handled: each has its webhook delivery, written
        # in the same transaction as its notifications, so all of them are in

        # --- in-app: exactly these, in the customer's language and in the staff's -----------
        inbox = (await api.inbox(customer.id))["items"]
        assert templates(inbox) == customer_expected
        assert {i["language"] for i in inbox} == {"en"}
        assert all(i["order_id"] == str(oid) for i in inbox)
        assert all(order.code in i["title"] for i in inbox)
        assert (await api.inbox(customer.id))["unread"] == n_customer
        staff_items = (await api.inbox("staff-9", "staff", order_id=str(oid)))["items"]
        assert templates(staff_items) == staff_expected
        assert {i["language"] for i in staff_items} == {"vi"}
        another_staff = (await api.inbox("staff-2", "staff", order_id=str(oid)))["items"]
        assert [i["notification_id"] for i in another_staff] == [
            i["notification_id"] for i in staff_items
        ]

        # --- email: one per customer notification, one per staff notification and address --
        mails = mail_server.for_order(oid)
        to_customer = [m for m in mails if m.to == [address]]
        assert sorted((m.template, m.subject) for m in to_customer) == sorted(
            (i["template"], i["title"]) for i in inbox
        )
        assert {m.language for m in to_customer} == {"en"}
        assert all("Hello," in m.text and "King Cargo" in m.html for m in to_customer)
        for staff_address in STAFF_EMAILS:
            to_staff = [m for m in mails if m.to == [staff_address]]
            assert sorted((m.template, m.subject) for m in to_staff) == sorted(
                (i["template"], i["title"]) for i in staff_items
            )
            assert {m.language for m in to_staff} == {"vi"}
        assert len(mails) == n_customer + n_staff * len(STAFF_EMAILS)
        assert len({m.delivery_id for m in mails}) == len(mails)
        staff_message = next(m for m in to_customer if m.template == "message_from_staff")
        assert "Tomorrow <b>morning</b>" in staff_message.text
        assert "Tomorrow &lt;b&gt;morning&lt;/b&gt;" in staff_message.html

        # --- webhooks: each event once, signed -------------------------------------------------
        requests = hook.seen()
        assert all(r.verified for r in requests)
        delivered = hook.delivered()
        assert not hook.repeats()  # each delivery sent once, none needing the receiver's dedup
        assert Counter(r.headers["x-azl-event-type"] for r in delivered) == expected_hooks
        others = [r for r in delivered if not r.json["routing_key"].startswith("notifications")]
        assert sorted(r.json["event_id"] for r in others) == sorted(
            str(e.message_id) for e in webhook_events if not e.routing_key.startswith("notif")
        )
        own = [r for r in delivered if r.json["routing_key"].startswith("notifications")]
        assert all(
            r.json["event_id"] in (r.json["data"].get("message_id"), r.json["data"].get("note_id"))
            for r in own
        )
        assert len({r.json["event_id"] for r in delivered}) == len(delivered)
        deposited = next(r for r in delivered if r.json["routing_key"] == "orders.order.deposited")
        assert deposited.json["data"]["order_code"] == order.code
        assert deposited.json["subscription_id"] == str(subscription)

        # --- the private note went nowhere ----------------------------------------------------
        assert all(private not in i["title"] + i["body"] for i in inbox + staff_items)
        assert not mail_server.received(
            lambda m: any(private in part for part in (m.subject, m.text, m.html))
        )
        assert all(private.encode() not in r.body for r in requests)
        assert not bus.seen(where=lambda e: private.encode() in e.body)

        # --- one notification.created per notification -------------------------------------------
        created = bus.seen(
            "notifications.notification.created", lambda e: e.json["order_id"] == str(oid)
        )
        assert len({e.message_id for e in created}) == n_customer + n_staff
    finally:
        await unsubscribe(bus, subscription)


async def test_cancellation_decisions_reach_the_customer_in_vietnamese(
    bus: Bus, api: NotificationsApi, mail_server: MailServer
) -> None:
    customer = builders.customer()
    address = f"{customer.id}@example.vn"
    await set_preferences(bus, customer, email=address, language="vi", channels=["in_app", "email"])
    order = await flows.drive_to(bus, S.PURCHASED, customer)
    oid = order.order_id
    await accepted(bus, o.CancelOrder(actor=customer, order_id=oid, reason="Đặt nhầm"))
    await accepted(bus, o.RejectCancellation(actor=STAFF, order_id=oid, reason="Shop đã gửi hàng"))
    await accepted(bus, o.CancelOrder(actor=customer, order_id=oid))
    await accepted(bus, o.ApproveCancellation(actor=STAFF, order_id=oid))
    other = await flows.drive_to(bus, S.DEPOSITED, customer)
    await accepted(bus, o.CancelOrder(actor=customer, order_id=other.order_id))

    expected = {
        oid: Counter(
            {
                "order_deposited": 1,
                "purchasing_started": 1,
                "order_purchased": 1,
                "cancellation_rejected": 1,
                "cancellation_approved": 1,
            }
        ),
        other.order_id: Counter({"order_deposited": 1, "order_cancelled": 1}),
    }

    async def inbox() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (await api.inbox(customer.id))["items"]
        return items if len(items) >= 7 else None

    items = await eventually(inbox, what="the customer's inbox")
    await mail_server.wait_for(lambda m: m.to == [address], count=7)
    await fence_order_events(bus, api)
    items = (await api.inbox(customer.id))["items"]
    for order_id, wanted in expected.items():
        assert templates([i for i in items if i["order_id"] == str(order_id)]) == wanted
    assert {i["language"] for i in items} == {"vi"}
    titles = {i["template"]: i for i in items if i["order_id"] == str(oid)}
    assert titles["cancellation_rejected"]["title"] == f"Yêu cầu hủy đơn {order.code} bị từ chối"
    assert "Lý do: Shop đã gửi hàng" in titles["cancellation_rejected"]["body"]
    assert titles["cancellation_approved"]["title"] == (
        f"Yêu cầu hủy đơn {order.code} đã được chấp nhận"
    )
    cancelled = next(i for i in items if i["template"] == "order_cancelled")
    assert cancelled["title"] == f"Đơn {other.code} đã hủy"
    assert "«Đã đặt cọc»" in cancelled["body"]

    mails = mail_server.received(lambda m: m.to == [address])
    assert sorted(m.subject for m in mails) == sorted(i["title"] for i in items)
    assert {m.language for m in mails} == {"vi"}
    assert all("Xin chào," in m.text for m in mails)

    staff = (await api.inbox("staff-1", "staff", order_id=str(oid)))["items"]
    assert templates(staff) == Counter({"cancellation_requested": 2})
    assert any("Đặt nhầm" in i["body"] for i in staff)
    for staff_address in STAFF_EMAILS:
        to_staff = mail_server.received(
            lambda m, a=staff_address: m.to == [a] and m.order_id == str(oid)  # type: ignore[misc]
        )
        assert [m.template for m in to_staff] == ["cancellation_requested"] * 2
