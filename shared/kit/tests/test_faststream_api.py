"""The FastStream and aio-pika API that ``azl_kit.broker`` relies on, checked without a broker.

Part of it is semi-internal (``broker.config.declarer``, the declarer's ``channel=``, the
subscriber taking whatever its decoder returns when dependency injection is off); the pin
``faststream<0.8`` guards it, and this test says what changed when the pin is raised.
See docs/decisions/0001-faststream-at-arms-length.md.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractExchange, AbstractQueue
from aio_pika.exceptions import AMQPConnectionError, ChannelNotFoundEntity
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
    TestRabbitBroker,
)
from faststream.rabbit.helpers.declarer import RabbitDeclarer
from faststream.rabbit.message import RabbitMessage

from azl_kit import broker
from azl_kit.topology import ExchangeType as KitExchangeType
from azl_kit.topology import QueueDeclaration


def missing(function: Callable[..., Any], *names: str) -> list[str]:
    parameters = inspect.signature(function).parameters
    return [name for name in names if name not in parameters]


@pytest.mark.parametrize(
    ("what", "function", "names"),
    [
        (
            "RabbitBroker()",
            RabbitBroker.__init__,
            (
                "url",
                "app_id",
                "graceful_timeout",
                "logger",
                "log_level",
                "reconnect_interval",
                "apply_types",
            ),
        ),
        (
            "RabbitBroker.subscriber()",
            RabbitBroker.subscriber,
            ("queue", "channel", "ack_policy", "decoder", "no_reply", "title"),
        ),
        ("RabbitBroker.ping()", RabbitBroker.ping, ("timeout",)),
        ("RabbitBroker.declare_exchange()", RabbitBroker.declare_exchange, ("exchange",)),
        ("Channel()", Channel.__init__, ("prefetch_count",)),
        (
            "RabbitQueue()",
            RabbitQueue.__init__,
            ("name", "queue_type", "durable", "declare", "arguments"),
        ),
        ("RabbitExchange()", RabbitExchange.__init__, ("name", "type", "durable", "declare")),
        ("RabbitMessage.reject()", RabbitMessage.reject, ("requeue",)),
        (
            "aio_pika.Message()",
            aio_pika.Message.__init__,
            (
                "body",
                "headers",
                "content_type",
                "delivery_mode",
                "message_id",
                "correlation_id",
                "type",
                "reply_to",
                "timestamp",
                "app_id",
                "user_id",
            ),
        ),
        (
            "AbstractExchange.publish()",
            AbstractExchange.publish,
            ("message", "routing_key", "mandatory", "timeout"),
        ),
        ("AbstractQueue.bind()", AbstractQueue.bind, ("exchange", "routing_key")),
    ],
)
def test_the_parameters_the_kit_passes_are_still_accepted(
    what: str, function: Callable[..., Any], names: tuple[str, ...]
) -> None:
    gone = missing(function, *names)
    assert not gone, f"{what} no longer takes {', '.join(gone)} (azl_kit/broker.py passes them)"


def test_the_declarer_is_reachable_and_declares_a_queue_on_a_given_channel() -> None:
    """A consumer's queue is declared on the consumer's own channel through it."""
    config = RabbitBroker().config
    assert hasattr(config, "declarer"), "RabbitBroker().config has no declarer any more"
    declarer = config.declarer
    for protocol in (RabbitDeclarer, type(declarer)):
        parameter = inspect.signature(protocol.declare_queue).parameters.get("channel")
        assert parameter is not None, f"{protocol.__name__}.declare_queue() takes no channel="
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, (
            f"{protocol.__name__}.declare_queue()'s channel is no longer keyword-only"
        )
    assert RabbitQueue.__hash__ is not None, "RabbitQueue is no longer hashable (declarer cache)"
    assert RabbitQueue("q", queue_type=QueueType.QUORUM, arguments={"x-delivery-limit": 1}) == (
        RabbitQueue(
            "q", queue_type=QueueType.QUORUM, durable=True, arguments={"x-delivery-limit": 1}
        )
    ), "equal queue declarations no longer compare equal (the subscriber would redeclare)"


def test_the_enumerations_the_kit_names_still_exist() -> None:
    assert AckPolicy.MANUAL, "AckPolicy.MANUAL is gone"
    assert QueueType.QUORUM.value == "quorum"
    for kind in KitExchangeType:
        assert ExchangeType(kind.value), f"FastStream has no exchange type {kind.value}"
    assert aio_pika.DeliveryMode.PERSISTENT.value == 2
    assert issubclass(AMQPConnectionError, Exception)
    assert issubclass(ChannelNotFoundEntity, Exception)


def test_an_incoming_message_still_has_the_properties_the_envelope_reads() -> None:
    properties = (
        "body",
        "headers",
        "message_id",
        "correlation_id",
        "type",
        "reply_to",
        "content_type",
        "app_id",
        "user_id",
        "exchange",
        "routing_key",
        "redelivered",
        "timestamp",
    )
    gone = [name for name in properties if not hasattr(aio_pika.IncomingMessage, name)]
    assert not gone, f"aio_pika.IncomingMessage lost {', '.join(gone)} (broker.envelope)"
    assert "raw_message" in inspect.signature(StreamMessage.__init__).parameters, (
        "FastStream's message no longer carries raw_message"
    )


async def test_a_consumer_gets_the_delivery_undecoded_and_settles_it_itself() -> None:
    """With dependency injection off, the subscriber is handed what the decoder returned:
    the message itself, whose body is not parsed even when it is not JSON."""
    received: list[broker.Delivery] = []
    settled: list[str] = []

    async def consumer(delivery: broker.Delivery) -> None:
        received.append(delivery)
        await broker.ack(delivery)
        settled.append("acked")

    amqp = broker.Broker("amqp://guest:guest@127.0.0.1:5672/", app_id="t", graceful_timeout=1)
    amqp.consume(QueueDeclaration("azlunit.probe"), consumer, prefetch=1, title="probe")
    async with TestRabbitBroker(amqp._broker) as test_broker:  # in memory, no server
        await test_broker.publish(
            b"{not json", queue="azlunit.probe", message_id="m-1", message_type="probe.v1"
        )

    [delivery] = received
    assert isinstance(delivery, RabbitMessage), "the consumer no longer gets a RabbitMessage"
    assert isinstance(delivery.raw_message, aio_pika.IncomingMessage)
    envelope = broker.envelope(delivery, "azlunit.probe")
    assert (envelope.body, envelope.raw_message_id, envelope.message_type) == (
        b"{not json",
        "m-1",
        "probe.v1",
    )
    assert settled == ["acked"]
