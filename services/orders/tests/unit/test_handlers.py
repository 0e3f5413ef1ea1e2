"""The orders service handles every orders command and every event its queues bind."""

import re
from decimal import Decimal

from orders.handlers import build_handlers, new_order_code


def test_every_command_and_bound_event_has_a_handler() -> None:
    assert build_handlers(deposit_ratio=Decimal("0.7")).uncovered("orders") == []


def test_an_order_code_is_az_and_eight_digits() -> None:
    codes = [new_order_code() for _ in range(1000)]
    assert all(re.fullmatch(r"AZ[0-9]{8}", code) for code in codes), codes
    assert any(code.startswith("AZ0") for code in codes)  # leading zeros are kept
