"""Publishing right after the commit: a connection being restored, or a publish the broker
refused during a failover, is tried again briefly; any other failure leaves the rows to the
sweeper at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import cast

import aiormq
import pytest
from aio_pika.exceptions import ChannelInvalidStateError, DeliveryError
from sqlalchemy.ext.asyncio import AsyncEngine

from azl_kit import outbox
from azl_kit.metrics import Metrics
from azl_kit.outbox import OutboxRelay, Stored
from azl_kit.outgoing import OutgoingMessage

from .fakes import NS, RecordingPublisher


@dataclass
class FlakyPublisher(RecordingPublisher):
    """Fails its first ``failures`` publishes with ``error``."""

    failures: int = 0
    error: Exception = field(default_factory=lambda: ChannelInvalidStateError("closed"))
    attempts: int = 0

    async def publish(self, message: OutgoingMessage) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise self.error
        await super().publish(message)


def relay(publisher: RecordingPublisher) -> OutboxRelay:
    engine = cast(AsyncEngine, object())  # publish_committed never touches the database
    return OutboxRelay(engine, publisher, Metrics(), batch_size=10, poll_interval=1, grace=1)


def stored(row_id: int = 1) -> list[Stored]:
    message = OutgoingMessage(f"{NS}.events", "orders.order.placed", "t.v1", b"{}", "c-1")
    return [Stored(row_id, message)]


def published_rows(relay: OutboxRelay) -> list[int]:
    rows: list[int] = relay._published
    return rows


async def test_a_publish_on_a_channel_being_restored_is_tried_again_until_it_goes_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbox, "REPUBLISH_EVERY_SECONDS", 0.001)
    publisher = FlakyPublisher(failures=3)
    committed = relay(publisher)

    await committed.publish_committed(stored(7))

    assert publisher.attempts == 4
    assert len(publisher.sent) == 1
    assert published_rows(committed) == [7]  # deleted from the outbox, not swept again


async def test_a_broker_still_away_after_the_window_leaves_the_rows_to_the_sweeper(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbox, "REPUBLISH_EVERY_SECONDS", 0.001)
    monkeypatch.setattr(outbox, "REPUBLISH_FOR_SECONDS", 0.05)
    publisher = FlakyPublisher(failures=10**9, error=ConnectionResetError("broker gone"))
    committed = relay(publisher)

    await committed.publish_committed(stored())

    assert publisher.attempts > 1
    assert publisher.sent == []
    assert published_rows(committed) == []


async def test_the_window_ends_before_the_sweeper_would_take_the_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tried again past half the sweeper's grace, a row could go out twice: here, with no
    grace at all, once."""
    monkeypatch.setattr(outbox, "REPUBLISH_EVERY_SECONDS", 0.001)
    publisher = FlakyPublisher(failures=10**9, error=ConnectionResetError("broker gone"))
    no_grace = OutboxRelay(
        cast(AsyncEngine, object()), publisher, Metrics(), batch_size=10, poll_interval=1, grace=0
    )

    await no_grace.publish_committed(stored())

    assert publisher.attempts == 1
    assert published_rows(no_grace) == []


async def test_a_publish_the_broker_nacked_is_tried_again_on_the_renewed_channel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RabbitMQ nacks publishes to a quorum queue electing a new leader (see
    ``azl_kit.broker``): leaving them to the sweeper would hold those events for its grace
    period."""
    monkeypatch.setattr(outbox, "REPUBLISH_EVERY_SECONDS", 0.001)
    nack = DeliveryError(None, aiormq.spec.Basic.Nack(delivery_tag=1))
    publisher = FlakyPublisher(failures=2, error=nack)
    committed = relay(publisher)

    await committed.publish_committed(stored(3))

    assert publisher.attempts == 3
    assert published_rows(committed) == [3]


@pytest.mark.parametrize("error", [KeyError("no such exchange"), ValueError("bad header")])
async def test_any_other_failure_is_not_tried_again(error: Exception) -> None:
    publisher = FlakyPublisher(failures=1, error=error)
    committed = relay(publisher)

    await committed.publish_committed(stored())

    assert publisher.attempts == 1
    assert published_rows(committed) == []


@dataclass
class StalledPublisher(RecordingPublisher):
    """Holds its first publish until ``release`` is set (a confirm still awaited)."""

    publishing: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    attempts: int = 0

    async def publish(self, message: OutgoingMessage) -> None:
        self.attempts += 1
        if self.attempts == 1:
            self.publishing.set()
            await self.release.wait()
        await super().publish(message)


async def test_committed_rows_of_a_handling_cancelled_mid_publish_are_published_all_the_same() -> (
    None
):
    """aiormq cancels a consumer's tasks when its channel closes (its node was lost): the
    rows are committed, and leaving them to the sweeper would delay them by its grace."""
    publisher = StalledPublisher()
    committed = relay(publisher)
    handling = asyncio.create_task(committed.publish_committed(stored(5)))
    await publisher.publishing.wait()

    handling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handling
    publisher.release.set()
    await asyncio.wait(committed._finishing, timeout=5)

    assert len(publisher.sent) == 1
    assert published_rows(committed) == [5]


async def test_a_handling_cancelled_as_the_service_stops_leaves_its_rows_to_the_next_start() -> (
    None
):
    publisher = StalledPublisher()
    committed = relay(publisher)
    handling = asyncio.create_task(committed.publish_committed(stored(6)))
    await publisher.publishing.wait()

    await committed.stop(timeout=0.1)
    handling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handling

    assert committed._finishing == set()
    assert published_rows(committed) == []
