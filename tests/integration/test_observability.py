"""One flow is traceable: its correlation id is on every log line it causes, in every service."""

from __future__ import annotations

import json
from uuid import uuid4

from azl_testing import builders
from azl_testing.bus import Bus
from azl_testing.notifications import NotificationsApi, set_preferences, subscribe, unsubscribe
from azl_testing.webhooks import WebhookReceiver

from .conftest import Platform


async def test_a_commands_correlation_id_is_in_the_logs_of_every_service_it_reaches(
    bus: Bus, platform: Platform, webhook_receiver: WebhookReceiver
) -> None:
    """Including what the notifications delivery worker does later, outside any message:
    each email and webhook attempt is logged, and a failure published, in the flow."""
    customer = builders.customer()
    await set_preferences(
        bus, customer, email=f"{customer.id}@example.vn", language="en", channels=["email"]
    )
    taking, refusing = webhook_receiver.hook(), webhook_receiver.hook(always=410)
    subscriptions = [
        await subscribe(bus, hook.url, hook.secret, "orders.order.deposited")
        for hook in (taking, refusing)
    ]
    api = NotificationsApi(platform.url("notifications"))
    try:
        correlation = f"trace-{uuid4()}"
        command = builders.place_order(customer)
        message_id = await bus.send(command, correlation_id=correlation)
        placed = await bus.wait_for(
            "orders.order.placed", lambda e: e.correlation_id == correlation
        )
        assert placed[0].causation_id == message_id
        order_id = placed[0].json["order_id"]

        deposit_id = await bus.emit(
            builders.deposit(order_id, int(placed[0].json["required_deposit_vnd"])),
            correlation_id=correlation,
        )
        await bus.wait_for(
            "notifications.notification.created", lambda e: e.correlation_id == correlation
        )
        await bus.wait_for("fees.fee.charged", lambda e: e.correlation_id == correlation)
        [deposited] = await bus.wait_for_order("orders.order.deposited", order_id)
        [failed] = await bus.wait_for(
            "notifications.delivery.failed", lambda e: e.json["order_id"] == order_id
        )
        assert failed.correlation_id == correlation
        assert failed.causation_id == deposited.message_id
        deliveries = [
            *await api.settled_deliveries(1, order_id=order_id, channel="email"),
            *[
                d
                for s in subscriptions
                for d in await api.settled_deliveries(1, order_id=order_id, subscription_id=str(s))
            ],
        ]
        assert sorted(d["status"] for d in deliveries) == ["failed", "sent", "sent"]
        await bus.settle(quiet=0.5)

        for name, process in platform.services.items():
            lines = [json.loads(line) for line in process.log_lines() if correlation in line]
            assert lines, f"{name} logged nothing for the flow"
            assert all(line["correlation_id"] == correlation for line in lines)
            assert all(line["service"] == name for line in lines)
        orders_lines = [
            json.loads(line)
            for line in platform.services["orders"].log_lines()
            if correlation in line
        ]
        assert {line.get("message_id") for line in orders_lines} >= {message_id, deposit_id}

        # found by what they are about, not by the id they should carry
        delivery_ids = {d["delivery_id"] for d in deliveries}
        worker_lines = [
            json.loads(line)
            for line in platform.services["notifications"].log_lines()
            if any(delivery_id in line for delivery_id in delivery_ids)
        ]
        attempts = [line for line in worker_lines if line["event"] == "delivery attempt"]
        assert {line.get("delivery_id") for line in attempts} == delivery_ids
        assert all(line.get("correlation_id") == correlation for line in worker_lines)
        assert all(line.get("causation_id") == deposited.message_id for line in worker_lines)
    finally:
        for subscription in subscriptions:
            await unsubscribe(bus, subscription)


async def test_metrics_count_handled_messages(bus: Bus, platform: Platform) -> None:
    await bus.request(builders.place_order(builders.customer()))
    async with platform.http("orders") as http:
        metrics = (await http.get("/metrics")).text
    assert 'azl_messages_handled_total{message_type="orders.place-order.v1"' in metrics
    assert "azl_outbox_published_total" in metrics
    assert "process_resident_memory_bytes" in metrics


async def test_every_service_serves_its_asyncapi_document_and_page(platform: Platform) -> None:
    for name in platform.services:
        async with platform.http(name) as http:
            document = (await http.get("/asyncapi.json")).json()
            page = await http.get("/asyncapi")
        assert document["asyncapi"] == "3.0.0"
        assert "orders.place-order" in {c["address"] for c in document["channels"].values()}
        assert page.headers["content-type"].startswith("text/html")
        assert "asyncapi.json" in page.text
