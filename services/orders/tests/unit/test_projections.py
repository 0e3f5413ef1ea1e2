"""The complaints tab's projection: every step kept once, whatever order events come in."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from azl_contracts import ReasonCode
from azl_contracts import complaints as c
from orders.projections import apply_complaint_event

from .conftest import CUSTOMER, NOW, STAFF, SYSTEM

COMPLAINT_ID = uuid4()
ORDER_ID = uuid4()
ITEM_ID = uuid4()


def _common(status: c.ComplaintStatus, minutes: int, actor: Any = CUSTOMER) -> dict[str, Any]:
    return {
        "complaint_id": COMPLAINT_ID,
        "order_id": ORDER_ID,
        "customer_id": CUSTOMER.id,
        "status": status,
        "actor": actor,
        "occurred_at": NOW + timedelta(minutes=minutes),
    }


OPENED = c.ComplaintOpened(
    **_common(c.ComplaintStatus.OPEN, 0),
    type=c.ComplaintType.DAMAGED,
    item_ids=[ITEM_ID],
    description="Hộp bị móp",
    attachments=["https://img.example/1.jpg"],
    requested_amount_vnd=150_000,
)
REVIEW = c.ComplaintReviewStarted(**_common(c.ComplaintStatus.IN_REVIEW, 1, STAFF))
COMMENT = c.ComplaintCommentAdded(
    **_common(c.ComplaintStatus.IN_REVIEW, 2, STAFF), comment_id=uuid4(), body="Đang kiểm tra"
)
RESOLVED = c.ComplaintResolved(
    **_common(c.ComplaintStatus.RESOLVED, 3, STAFF),
    resolution=c.Resolution.REFUND,
    amount_vnd=100_000,
    note="hoàn một phần",
    payout_vnd=72_000,
)
EVENTS: list[c.ComplaintEvent] = [OPENED, REVIEW, COMMENT, RESOLVED]


def _project(events: list[c.ComplaintEvent]) -> dict[str, Any]:
    view: dict[str, Any] | None = None
    for event in events:
        view = apply_complaint_event(view, event)
    assert view is not None
    return view


def test_a_complaint_in_order() -> None:
    view = _project(EVENTS)
    assert view["type"] == "damaged"
    assert view["status"] == "resolved"
    assert view["description"] == "Hộp bị móp"
    assert view["item_ids"] == [str(ITEM_ID)]
    assert view["requested_amount_vnd"] == 150_000
    assert view["resolution"] == "refund"
    assert view["resolved_amount_vnd"] == 100_000
    assert view["payout_vnd"] == 72_000
    assert view["rejection_reason_code"] is None
    assert view["opened_at"] == OPENED.occurred_at.isoformat()
    assert [s["step"] for s in view["steps"]] == [
        "opened",
        "review-started",
        "comment-added",
        "resolved",
    ]
    assert view["steps"][2]["message"] == "Đang kiểm tra"
    assert view["steps"][1]["actor"] == {"id": STAFF.id, "role": "staff"}


@pytest.mark.parametrize("events", list(itertools.permutations(EVENTS)))
def test_any_arrival_order_gives_the_same_view(events: tuple[c.ComplaintEvent, ...]) -> None:
    assert _project(list(events)) == _project(EVENTS)


def test_a_step_seen_twice_is_kept_once() -> None:
    view = _project([OPENED, REVIEW, REVIEW, OPENED])
    assert [s["step"] for s in view["steps"]] == ["opened", "review-started"]
    assert view["status"] == "in_review"


def test_a_withdrawn_complaint() -> None:
    withdrawn = c.ComplaintWithdrawn(
        **_common(c.ComplaintStatus.WITHDRAWN, 5), reason="đã nhận đủ hàng"
    )
    view = _project([OPENED, withdrawn])
    assert view["status"] == "withdrawn"
    assert view["steps"][-1]["message"] == "đã nhận đủ hàng"


def test_a_complaint_the_platform_closed_says_why() -> None:
    closed = c.ComplaintResolved(
        **_common(c.ComplaintStatus.REJECTED, 1, SYSTEM),
        resolution=c.Resolution.REJECT,
        reason_code=ReasonCode.COMPLAINT_WINDOW_CLOSED,
    )
    view = _project([OPENED, closed])
    assert view["status"] == "rejected"
    assert view["rejection_reason_code"] == "complaint_window_closed"
