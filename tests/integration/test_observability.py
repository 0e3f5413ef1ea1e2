"""Observability: one flow's correlation id is on every log line it causes, in every
service; the metrics count what the pipeline did; health and readiness answer."""

from __future__ import annotations

import json
from uuid import uuid4

from azl_testing import builders
from azl_testing.bus import Bus
from azl_testing.metrics import metric, metric_reaches
from azl_testing.notifications import NotificationsApi, set_preferences, subscribe, unsubscribe
from azl_testing.tokens import bearer
from azl_testing.webhooks import WebhookReceiver

from azl_contracts import orders as o

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
    orders, queue = platform.url("orders"), bus.infra.name("orders.commands")
    timed = await metric(orders, "azl_handler_seconds_count", queue=queue)
    took = await metric(orders, "azl_handler_seconds_sum", queue=queue)
    await bus.request(builders.place_order(builders.customer()))
    async with platform.http("orders") as http:
        metrics = (await http.get("/metrics")).text
    assert 'azl_messages_handled_total{message_type="orders.place-order.v1"' in metrics
    assert "azl_outbox_published_messages_total" in metrics
    assert "process_resident_memory_bytes" in metrics
    # the handler's time is observed once the message is acked, just after the reply left
    await metric_reaches(orders, "azl_handler_seconds_count", timed + 1, {"queue": queue})
    assert await metric(orders, "azl_handler_seconds_count", queue=queue) >= timed + 1
    assert await metric(orders, "azl_handler_seconds_sum", queue=queue) > took


async def test_metrics_count_rejections_and_dead_letters(bus: Bus, platform: Platform) -> None:
    orders, queue = platform.url("orders"), bus.infra.name("orders.commands")
    rejected = {"message_type": "orders.cancel-order.v1", "reason_code": "not_found"}
    not_json = {"queue": queue, "code": "not_json"}
    rejections = await metric(orders, "azl_commands_rejected_total", **rejected)
    dead_letters = await metric(orders, "azl_dead_lettered_messages_total", **not_json)

    reply = await bus.request(o.CancelOrder(actor=builders.customer(), order_id=uuid4()))
    assert reply["reason_code"] == "not_found"
    poison = await bus.publish_raw(
        b"{ not json", routing_key="orders.cancel-order", message_type="orders.cancel-order.v1"
    )

    letter = await bus.dead_letter("orders.commands.dlq", poison)
    assert letter.headers["x-azl-dead-letter-code"] == "not_json"
    await metric_reaches(orders, "azl_commands_rejected_total", rejections + 1, rejected)
    assert await metric(orders, "azl_commands_rejected_total", **rejected) == rejections + 1
    await metric_reaches(orders, "azl_dead_lettered_messages_total", dead_letters + 1, not_json)
    assert await metric(orders, "azl_dead_lettered_messages_total", **not_json) == dead_letters + 1


async def test_a_payment_before_its_order_is_retried_and_counted(
    bus: Bus, platform: Platform
) -> None:
    """Fees waits for an order's ledger (the placement is on another queue): each attempt
    that finds none is a retry of kind ``waiting``, until the order is placed."""
    fees, queue = platform.url("fees"), bus.infra.name("fees.payment-events")
    waiting = {"queue": queue, "kind": "waiting"}
    retries = await metric(fees, "azl_message_retries_total", **waiting)
    customer, order_id = builders.customer(), uuid4()

    message_id = await bus.emit(builders.payment(order_id, 123_000, payment_id=f"early-{order_id}"))
    await metric_reaches(fees, "azl_message_retries_total", retries + 1, waiting)
    assert await metric(fees, "azl_message_retries_total", **waiting) >= retries + 1
    await bus.send(builders.place_order(customer, order_id=order_id))

    [ledger] = await bus.wait_for(
        "fees.ledger.updated",
        lambda e: e.json["order_id"] == str(order_id) and e.json["payments_total_vnd"] != "0",
    )
    assert ledger.json["payments_total_vnd"] == "123000"
    # orders takes no payment for an order it does not know: an operator sees it
    letter = await bus.dead_letter("orders.payment-events.dlq", message_id)
    assert letter.headers["x-azl-dead-letter-code"] == "not_applicable"


async def test_the_read_apis_are_counted_by_route_and_status_and_logged_with_the_callers_ids(
    platform: Platform,
) -> None:
    orders, route = platform.url("orders"), "/orders/{order_id}"
    found = {"method": "GET", "route": route, "status": "404"}
    denied = {"method": "GET", "route": route, "status": "401"}
    before_found = await metric(orders, "azl_http_requests_total", **found)
    before_denied = await metric(orders, "azl_http_requests_total", **denied)
    timed = await metric(orders, "azl_http_request_duration_seconds_count", **found)
    correlation, order_id = f"corr-{uuid4()}", uuid4()

    async with platform.http("orders") as http:
        missing = await http.get(
            f"/orders/{order_id}",
            headers={**bearer("staff-1", "staff"), "X-Correlation-ID": correlation},
        )
        anonymous = await http.get(f"/orders/{uuid4()}")

    assert (missing.status_code, anonymous.status_code) == (404, 401)
    assert await metric(orders, "azl_http_requests_total", **found) == before_found + 1
    assert await metric(orders, "azl_http_requests_total", **denied) == before_denied + 1
    assert await metric(orders, "azl_http_request_duration_seconds_count", **found) == timed + 1
    [line] = [
        json.loads(line)
        for line in platform.services["orders"].log_lines()
        if correlation in line and '"http request"' in line
    ]
    assert line["route"] == route
    assert line["path"] == f"/orders/{order_id}"
    assert line["status"] == 404
    assert line["request_id"] == missing.headers["X-Request-ID"]
    assert line["service"] == "orders"


async def test_metrics_are_prometheus_text_and_documented_so(platform: Platform) -> None:
    for name in platform.services:
        async with platform.http(name) as http:
            metrics = await http.get("/metrics")
            document = (await http.get("/openapi.json")).json()
        assert metrics.headers["content-type"].startswith("text/plain; version=")
        assert "# TYPE azl_http_requests_total counter" in metrics.text
        documented = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
        assert list(documented) == ["text/plain"], name


async def test_every_service_is_alive_and_ready(platform: Platform) -> None:
    for name in platform.services:
        async with platform.http(name) as http:
            alive, ready = await http.get("/healthz"), await http.get("/readyz")
        assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
        assert ready.status_code == 200
        assert ready.json() == {
            "ready": True,
            "checks": {"started": "ok", "broker": "ok", "database": "ok"},
        }


async def test_every_service_serves_its_asyncapi_document_and_page(platform: Platform) -> None:
    for name in platform.services:
        async with platform.http(name) as http:
            document = (await http.get("/asyncapi.json")).json()
            page = await http.get("/asyncapi")
        assert document["asyncapi"] == "3.0.0"
        addresses = {c["address"] for c in document["channels"].values()}
        assert "{ns}.commands/orders.place-order" in addresses
        assert page.headers["content-type"].startswith("text/html")
        assert "asyncapi.json" in page.text
