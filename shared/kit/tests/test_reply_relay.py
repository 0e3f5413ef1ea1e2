"""The reply relay forwards only direct reply-to addresses of the broker's own shape: any
other key could reach a queue through the default exchange, and a malformed one makes
RabbitMQ 3.10 close the relay's connection."""

from __future__ import annotations

import pytest

from azl_kit.reply_relay import forwardable

# as RabbitMQ 3.10 rewrote a reply_to of amq.rabbitmq.reply-to on this machine
REAL = "amq.rabbitmq.reply-to.g1h2AA1yZXBseUAyNzgwMjg5NzIAAAAtAAAAAGPsgq0=.Gh4ZlHc5Kq7pB6iL8Qmw0A=="


def test_a_broker_made_address_is_forwarded() -> None:
    assert forwardable(REAL)


@pytest.mark.parametrize(
    "key",
    [
        "azl.orders.payment-events",  # a queue's name
        "amq.rabbitmq.reply-to",  # the pseudo-queue itself
        "amq.rabbitmq.reply-to.abc.def",  # not base64 (closes the broker connection)
        "amq.rabbitmq.reply-to.YWJj.ZGVm",  # base64, but no Erlang pid
        REAL + ".extra",
        REAL.replace(".Gh4Z", ".").replace("==", ""),  # a short key
    ],
)
def test_anything_else_is_not(key: str) -> None:
    assert not forwardable(key)
