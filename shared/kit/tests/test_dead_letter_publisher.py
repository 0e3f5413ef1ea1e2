"""A service's dead letter keeps the original publisher only as RabbitMQ validated it."""

from __future__ import annotations

from typing import Any

from azl_kit.dead_letters import ORIGINAL_USER_ID_HEADER, DeadLetterCode, DeadLetters
from azl_kit.envelope import Envelope

from .fakes import RecordingPublisher


def envelope(user_id: str | None, headers: dict[str, Any]) -> Envelope:
    return Envelope(
        queue="ns.orders.commands",
        body=b"{}",
        raw_message_id="m1",
        message_id=None,
        correlation_id=None,
        message_type="orders.cancel-order.v1",
        reply_to=None,
        content_type="application/json",
        app_id="storefront",
        exchange="ns.commands",
        routing_key="orders.cancel-order",
        headers=headers,
        delivery_count=0,
        properties={"message_id": "m1", "user_id": user_id},
        user_id=user_id,
    )


async def _dead_letter(user_id: str | None, headers: dict[str, Any]) -> dict[str, Any]:
    publisher = RecordingPublisher()
    letters = DeadLetters(publisher, exchange="ns.dlx", service="orders")
    await letters.send(envelope(user_id, headers), code=DeadLetterCode.FORBIDDEN, reason="no")
    [sent] = publisher.sent
    return sent.headers


async def test_the_validated_user_id_replaces_whatever_the_publisher_claimed() -> None:
    sent = await _dead_letter("ns-storefront", {ORIGINAL_USER_ID_HEADER: "ns-payments"})
    assert sent[ORIGINAL_USER_ID_HEADER] == "ns-storefront"


async def test_a_message_without_user_id_leaves_no_claim_in_its_letter() -> None:
    sent = await _dead_letter(None, {ORIGINAL_USER_ID_HEADER: "ns-payments"})
    assert ORIGINAL_USER_ID_HEADER not in sent
