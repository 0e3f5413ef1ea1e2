"""Read models the orders service keeps of other services' facts, for the order's tabs.

Pure: no I/O. The complaints tab is a projection of ``complaints.complaint.*`` events. Events
of one complaint may arrive in any order (one queue, several consumers, retries), so each
step is kept once and the complaint's current status is the one of its latest step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from azl_contracts import complaints as c

# Events of the same instant are ordered by where they stand in the lifecycle.
_STEP_RANK: dict[str, int] = {
    "opened": 0,
    "review-started": 1,
    "info-requested": 2,
    "info-provided": 3,
    "comment-added": 4,
    "resolved": 5,
    "withdrawn": 5,
}


def step_name(event: c.ComplaintEvent) -> str:
    """``complaints.complaint.review-started`` → ``review-started``."""
    return event.NAME.rsplit(".", 1)[1]


def _step(event: c.ComplaintEvent) -> dict[str, Any]:
    step: dict[str, Any] = {
        "step": step_name(event),
        "status": event.status.value,
        "actor": event.actor.model_dump(mode="json"),
        "at": event.occurred_at.isoformat(),
    }
    if isinstance(event, c.ComplaintInfoRequested | c.ComplaintInfoProvided):
        step["message"] = event.message
    if isinstance(event, c.ComplaintInfoProvided):
        step["attachments"] = list(event.attachments)
    if isinstance(event, c.ComplaintCommentAdded):
        step["comment_id"] = str(event.comment_id)
        step["message"] = event.body
    if isinstance(event, c.ComplaintResolved):
        step["resolution"] = event.resolution.value
        step["message"] = event.note
    if isinstance(event, c.ComplaintWithdrawn):
        step["message"] = event.reason
    return step


def _key(step: dict[str, Any]) -> tuple[str, str, str]:
    return (step["step"], step["at"], step.get("comment_id", ""))


def _order(step: dict[str, Any]) -> tuple[datetime, int]:
    return (datetime.fromisoformat(step["at"]), _STEP_RANK.get(step["step"], 4))


def new_complaint_view(event: c.ComplaintEvent) -> dict[str, Any]:
    return {
        "complaint_id": str(event.complaint_id),
        "order_id": str(event.order_id),
        "type": None,
        "status": event.status.value,
        "description": None,
        "item_ids": [],
        "attachments": [],
        "requested_amount_vnd": None,
        "resolution": None,
        "resolved_amount_vnd": None,
        "payout_vnd": None,
        "rejection_reason_code": None,
        "opened_at": None,
        "updated_at": event.occurred_at.isoformat(),
        "steps": [],
    }


def apply_complaint_event(view: dict[str, Any] | None, event: c.ComplaintEvent) -> dict[str, Any]:
    """The complaint's view after ``event``, whatever order the events come in."""
    result = dict(view) if view is not None else new_complaint_view(event)
    if isinstance(event, c.ComplaintOpened):
        result.update(
            type=event.type.value,
            description=event.description,
            item_ids=[str(i) for i in event.item_ids],
            attachments=list(event.attachments),
            requested_amount_vnd=None
            if event.requested_amount_vnd is None
            else int(event.requested_amount_vnd),
            opened_at=event.occurred_at.isoformat(),
        )
    if isinstance(event, c.ComplaintResolved):
        result.update(
            resolution=event.resolution.value,
            resolved_amount_vnd=None if event.amount_vnd is None else int(event.amount_vnd),
            payout_vnd=None if event.payout_vnd is None else int(event.payout_vnd),
            rejection_reason_code=None if event.reason_code is None else event.reason_code.value,
        )
    steps = {_key(s): s for s in result.get("steps", [])}
    new = _step(event)
    steps.setdefault(_key(new), new)
    ordered = sorted(steps.values(), key=_order)
    result["steps"] = ordered
    result["status"] = ordered[-1]["status"]
    result["updated_at"] = ordered[-1]["at"]
    return result
