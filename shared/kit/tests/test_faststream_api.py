"""The FastStream and aio-pika API that ``azl_kit.broker`` relies on, checked without a broker.

Part of it is semi-internal (``broker.config.declarer``, the declarer's ``channel=`` and the
robust aio-pika queue it returns, which the kit consumes itself); the pin
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
from aiormq.abc import DeliveredMessage
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
)
from faststream.rabbit.helpers.declarer import RabbitDeclarer
from pamqp import commands as spec
from pamqp.header import ContentHeader

from azl_kit import broker
from azl_kit.topology import ExchangeType as KitExchangeType


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
        ("RabbitBroker.ping()", RabbitBroker.ping, ("timeout",)),
        ("RabbitBroker.declare_exchange()", RabbitBroker.declare_exchange, ("exchange",)),
        ("Channel()", Channel.__init__, ("prefetch_count",)),
        (
            "RabbitQueue()",
            RabbitQueue.__init__,
            ("name", "queue_type", "durable", "declare", "arguments"),
        ),
        ("RabbitExchange()", RabbitExchange.__init__, ("name", "type", "durable", "declare")),
        ("AbstractQueue.consume()", AbstractQueue.consume, ("callback",)),
        ("AbstractQueue.cancel()", AbstractQueue.cancel, ("consumer_tag",)),
        ("IncomingMessage.reject()", aio_pika.IncomingMessage.reject, ("requeue",)),
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


def test_the_envelope_reads_an_incoming_message_as_aio_pika_makes_it() -> None:
    """The consumer gets aio-pika's own delivery, body undecoded even when it is not JSON."""
    properties = spec.Basic.Properties(message_id="m-1", message_type="probe.v1", headers={})
    delivered = DeliveredMessage(
        delivery=spec.Basic.Deliver(
            consumer_tag="c", delivery_tag=1, exchange="x", routing_key="probe"
        ),
        header=ContentHeader(body_size=9, properties=properties),
        body=b"{not json",
        channel=None,  # type: ignore[arg-type]
    )
    envelope = broker.envelope(aio_pika.IncomingMessage(delivered), "azlunit.probe")
    assert (envelope.body, envelope.raw_message_id, envelope.message_type) == (
        b"{not json",
        "m-1",
        "probe.v1",
    )
    assert (envelope.exchange, envelope.routing_key) == ("x", "probe")
