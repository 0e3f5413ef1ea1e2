"""A complaint survives being written to its row and read back, field for field."""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace
from uuid import uuid4

from azl_contracts.complaints import Resolution
from complaints.domain import Complaint, Policy
from complaints.storage import _columns, from_row

from .conftest import CUSTOMER, LATER, NOW, STAFF, facts, opened, settled


def round_trip(complaint: Complaint) -> Complaint:
    columns = _columns(complaint)
    columns["document"] = json.loads(json.dumps(columns["document"]))  # as JSONB gives it back
    return from_row(SimpleNamespace(complaint_id=complaint.complaint_id, **columns))


def test_every_field_history_and_thread_round_trip() -> None:
    complaint = settled(opened(requested_amount_vnd="120000"))
    complaint.add_comment(CUSTOMER, "Còn đó không?", uuid4(), NOW)
    complaint.start_review(STAFF, NOW)
    complaint.request_info(STAFF, "Gửi ảnh", uuid4(), NOW)
    complaint.provide_info(
        CUSTOMER, "Đây", ["https://img.example.com/a.jpg"], Policy(), uuid4(), LATER
    )
    complaint.resolve(
        STAFF,
        Resolution.REFUND,
        Decimal(100_000),
        "hoàn một phần",
        order=facts(shipping_charged=30_000),
        policy=Policy(deduct_shipping=True),
        now=LATER,
    )
    loaded = round_trip(complaint)
    assert loaded == complaint
    assert loaded.shipping_deducted_vnd == 30_000
    assert len(loaded.thread) == 3
    assert len(loaded.history) == 5


def test_a_complaint_closed_by_the_platform_keeps_its_reason() -> None:
    complaint = settled(opened(now=LATER))
    complaint.close_if_opened_after(NOW, LATER)
    loaded = round_trip(complaint)
    assert loaded == complaint
    assert loaded.closed_reason is not None
