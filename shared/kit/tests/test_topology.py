"""What a service declares: checked without a broker."""

from __future__ import annotations

from azl_contracts.topology import all_queues
from azl_kit.topology import DEAD_LETTER_QUEUE_DELIVERY_LIMIT, ExchangeType, Topology

TOPOLOGY = Topology("azlunit", delivery_limit=20)


def test_every_dead_letter_queue_outlasts_any_browsing() -> None:
    """On RabbitMQ 4.x each `azl dlq list` returns every letter once, and each return counts
    toward the queue's delivery limit (20 by default); past it the letter would be dropped."""
    assert 1_000_000 <= DEAD_LETTER_QUEUE_DELIVERY_LIMIT < 2**31  # a signed 32-bit integer
    for spec in all_queues():
        dlq = TOPOLOGY.dead_letter_queue(spec)
        assert dlq.arguments is not None
        assert dlq.arguments["x-delivery-limit"] == DEAD_LETTER_QUEUE_DELIVERY_LIMIT


def test_dead_letters_route_by_exact_queue_name_on_a_topic_exchange() -> None:
    assert TOPOLOGY.dead_letters.type is ExchangeType.TOPIC
    for spec in all_queues():
        arguments = TOPOLOGY.queue(spec).arguments
        assert arguments is not None
        assert arguments["x-dead-letter-exchange"] == "azlunit.dlx"
        assert arguments["x-dead-letter-routing-key"] == f"azlunit.{spec.name}"
        # topic wildcards in a queue name would let a dead letter reach other DLQs
        assert not {"*", "#"} & set(spec.name)


def test_replies_have_a_direct_exchange_of_their_own() -> None:
    replies = TOPOLOGY.replies
    assert (replies.name, replies.type) == ("azlunit.replies", ExchangeType.DIRECT)
    assert replies.name in TOPOLOGY.exchanges()
