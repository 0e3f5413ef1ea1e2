"""Webhooks call public hosts only (outside development): refused when subscribing, and
checked again before each delivery. IP literals and ``localhost`` resolve without a network."""

from __future__ import annotations

import ipaddress
from typing import Any, cast
from uuid import uuid4

import httpx
import pytest

from azl_contracts import Actor, ActorRole
from azl_contracts import notifications as n
from azl_contracts.notifications import Channel
from notifications import targets
from notifications.domain import Claimed, StaffDirectory
from notifications.handlers import Context, subscribe_webhook
from notifications.senders import WebhookSender
from notifications.templates import Renderer

PRIVATE = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "0.0.0.0",
    "100.64.0.1",
    "::1",
    "fe80::1",
    "fd00::1",
    "::ffff:127.0.0.1",
    "224.0.0.1",
]
PUBLIC = ["8.8.8.8", "203.0.114.1", "2001:4860:4860::8888"]


@pytest.mark.parametrize("address", PRIVATE)
def test_loopback_private_and_link_local_addresses_are_not_public(address: str) -> None:
    assert not targets.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are(address: str) -> None:
    assert targets.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/hook", "https://[::1]/", "http://localhost/x", "http://169.254.169.254/"],
)
async def test_a_url_resolving_to_a_private_address_is_refused(url: str) -> None:
    reason = await targets.refusal(url)
    assert reason is not None
    assert "only public hosts" in reason


def _context(allow: bool) -> Context:
    return Context(
        staff=StaffDirectory(),
        renderer=Renderer(),
        allow_private_webhook_targets=allow,
    )


async def test_subscribing_a_private_url_is_a_validation_error_outside_development() -> None:
    command = n.SubscribeWebhook(
        actor=Actor(id="erp", role=ActorRole.SYSTEM),
        url="http://127.0.0.1:8080/hook",
        secret="s" * 32,
        event_types=["orders.order.#"],
    )
    with pytest.raises(targets.PrivateWebhookTarget) as refused:
        await subscribe_webhook(command, cast(Any, None), _context(allow=False))
    assert refused.value.reason_code.value == "validation_error"
    assert "127.0.0.1" in refused.value.message


async def test_a_delivery_to_a_host_now_private_is_not_sent() -> None:
    called: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        called.append(request)
        return httpx.Response(200)

    event_id = uuid4()
    delivery = Claimed(
        delivery_id=uuid4(),
        notification_id=None,
        channel=Channel.WEBHOOK,
        recipient="erp",
        target="http://127.0.0.1:9/in",
        subscription_id=uuid4(),
        order_id=uuid4(),
        source_event_id=event_id,
        source_event_type="orders.order.deposited.v1",
        correlation_id=str(event_id),
        causation_id=event_id,
        payload={"body": "{}"},
        attempt=1,
        secret="whsec-test",
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        refused = await WebhookSender(client, timeout=1).send(delivery)
        allowed = await WebhookSender(client, timeout=1, allow_private_targets=True).send(delivery)
    assert (refused.ok, refused.retryable) == (False, False)
    assert "only public hosts" in (refused.error or "")
    assert allowed.ok
    assert len(called) == 1
