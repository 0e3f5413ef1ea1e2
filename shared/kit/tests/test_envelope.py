"""What the pipeline believes of a delivery's headers."""

from __future__ import annotations

from azl_kit.envelope import delivery_count


def test_a_first_delivery_is_not_a_crash_loop_whatever_the_publisher_wrote() -> None:
    assert delivery_count({"x-delivery-count": 1_000}, redelivered=False) == 0
    assert delivery_count({"x-delivery-count": "99"}, redelivered=None) == 0


def test_a_redelivery_is_counted_by_the_broker() -> None:
    assert delivery_count({"x-delivery-count": 7}, redelivered=True) == 7
    assert delivery_count({}, redelivered=True) == 1
