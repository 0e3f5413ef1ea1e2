"""A publish the broker refuses (``basic.nack``, as RabbitMQ 3.x sends while a quorum queue
elects a new leader) renews its channel and is worth trying again; the other publishes
nacked in the same burst do not renew the new channel again."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import aio_pika
import aiormq
import pytest
from aio_pika.abc import AbstractChannel
from aio_pika.exceptions import DeliveryError

from azl_kit import broker


@dataclass
class Underlay:
    """The aiormq channel beneath a robust one: what closing it was told."""

    closed_with: list[BaseException | None] = field(default_factory=list)

    async def close(self, exc: BaseException | None = None) -> None:
        self.closed_with.append(exc)


@dataclass(eq=False)  # hashable: the kit remembers each channel's last renewal
class RobustChannel:
    underlay: Underlay = field(default_factory=Underlay)

    async def get_underlay_channel(self) -> Underlay:
        return self.underlay


class NackingExchange(aio_pika.Exchange):
    def __init__(self, channel: RobustChannel, frame: Any) -> None:
        super().__init__(cast(AbstractChannel, channel), "ns.events")
        self.frame = frame
        self.attempts = 0

    async def publish(self, message: Any, routing_key: str, **_: Any) -> None:
        self.attempts += 1
        raise DeliveryError(None, self.frame)


async def publish(exchange: aio_pika.Exchange) -> None:
    await broker.publish(
        exchange,
        b"{}",
        routing_key="orders.order.placed",
        headers={},
        app_id="orders",
        message_id="m-1",
        correlation_id=None,
        message_type="orders.order.placed.v2",
        timestamp=None,
    )


NACK = aiormq.spec.Basic.Nack(delivery_tag=1)


async def test_a_nacked_publish_renews_its_channel_and_is_worth_trying_again() -> None:
    channel = RobustChannel()
    exchange = NackingExchange(channel, NACK)

    with pytest.raises(DeliveryError) as refused:
        await publish(exchange)

    assert broker.reconnecting(refused.value)
    assert len(channel.underlay.closed_with) == 1
    # closed with an error, not cancelled: aio-pika's robust channel then reopens itself
    # (a cancellation would leave that to a reconnect of the whole connection)
    assert isinstance(channel.underlay.closed_with[0], aio_pika.exceptions.ChannelInvalidStateError)


async def test_the_nacks_of_one_burst_renew_the_channel_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(broker, "RENEW_AT_MOST_EVERY_SECONDS", 60.0)  # the burst: "at once"
    channel = RobustChannel()
    exchange = NackingExchange(channel, NACK)

    for _ in range(5):  # the publishes that were in flight on the old channel
        with pytest.raises(DeliveryError):
            await publish(exchange)
    assert len(channel.underlay.closed_with) == 1

    broker._RENEWED[cast(AbstractChannel, channel)] -= 60.0  # later: the new channel nacks too
    with pytest.raises(DeliveryError):
        await publish(exchange)
    assert len(channel.underlay.closed_with) == 2


async def test_a_message_returned_as_unroutable_is_not_a_nack() -> None:
    channel = RobustChannel()
    returned = aiormq.spec.Basic.Return(reply_code=312, reply_text="NO_ROUTE")
    exchange = NackingExchange(channel, returned)

    with pytest.raises(DeliveryError) as refused:
        await publish(exchange)

    assert not broker.reconnecting(refused.value)
    assert channel.underlay.closed_with == []
