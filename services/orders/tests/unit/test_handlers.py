"""The orders service handles every orders command and every event its queues bind."""

from decimal import Decimal

from orders.handlers import build_handlers


def test_every_command_and_bound_event_has_a_handler() -> None:
    assert build_handlers(deposit_ratio=Decimal("0.7")).uncovered("orders") == []
