"""The complaints service handles every complaints command and every event its queues bind."""

import pytest

from azl_contracts import complaints as k
from azl_contracts.topology import QUEUES
from complaints.handlers import build_handlers
from complaints.settings import ComplaintsSettings


def test_every_command_and_bound_event_has_a_handler() -> None:
    assert build_handlers().uncovered("complaints") == []


def test_the_order_queue_binds_what_the_projection_needs_and_nothing_more() -> None:
    order_queue = next(q for q in QUEUES["complaints"] if q.name == "complaints.order-events")
    assert set(order_queue.bindings) == {
        "orders.order.placed",
        "orders.order.status-changed",
        "orders.order.quantities-increased",
        "orders.order.items-confirmed",
        "orders.order.items-declined",
    }


def test_the_open_complaint_reply_names_the_complaint() -> None:
    assert k.OpenComplaintResult.message_type() == "complaints.open-complaint.result.v1"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZL_COMPLAINT_ATTACHMENTS_ENABLED", raising=False)
    monkeypatch.delenv("AZL_DEDUCT_SHIPPING_FROM_REFUNDS", raising=False)
    assert ComplaintsSettings().policy.attachments_enabled is True
    assert ComplaintsSettings().policy.deduct_shipping is False
    monkeypatch.setenv("AZL_COMPLAINT_ATTACHMENTS_ENABLED", "false")
    monkeypatch.setenv("AZL_DEDUCT_SHIPPING_FROM_REFUNDS", "true")
    policy = ComplaintsSettings().policy
    assert policy.attachments_enabled is False
    assert policy.deduct_shipping is True
