"""Complaints: claims, disputes and refund requests (spec §5)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from .base import Actor, Command, Event, Reply
from .common import VND, ReasonCode
from .orders import CUSTOMER, CUSTOMER_OR_STAFF, STAFF

MAX_DESCRIPTION = 4000
"""The longest description, message or comment the complaints service accepts."""

MAX_ATTACHMENTS = 10
"""The most attachment URLs one complaint step may carry."""

# The schema bounds below are only what keeps a message sane; the business limits
# (MAX_DESCRIPTION, MAX_ATTACHMENTS, http(s) URLs, nothing empty) are checked by the complaints
# service, so an ordinary user mistake gets a ``validation_error`` rejection with details
# instead of being dead-lettered as a malformed message.
_TEXT_BOUND = 20_000
_ATTACHMENTS_BOUND = 100
_URL_BOUND = 2048

Attachments = list[Annotated[str, Field(max_length=_URL_BOUND)]]


class ComplaintType(StrEnum):
    WRONG_ITEM = "wrong_item"
    MISSING_QUANTITY = "missing_quantity"
    DAMAGED = "damaged"
    NOT_AS_DESCRIBED = "not_as_described"
    LATE_DELIVERY = "late_delivery"
    REFUND_REQUEST = "refund_request"
    OTHER = "other"


class ComplaintStatus(StrEnum):
    OPEN = "open"
    IN_REVIEW = "in_review"
    AWAITING_CUSTOMER = "awaiting_customer"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Resolution(StrEnum):
    REFUND = "refund"
    RESHIP = "reship"
    REJECT = "reject"


class OpenComplaint(Command):
    NAME: ClassVar[str] = "complaints.open-complaint"
    ALLOWED_ROLES = CUSTOMER

    complaint_id: UUID | None = None
    order_id: UUID
    type: ComplaintType
    item_ids: list[UUID] = Field(default_factory=list, max_length=200)
    description: str = Field(
        max_length=_TEXT_BOUND, description=f"Not empty, at most {MAX_DESCRIPTION} characters."
    )
    attachments: Attachments = Field(
        default_factory=list,
        max_length=_ATTACHMENTS_BOUND,
        description=f"http(s) URLs, at most {MAX_ATTACHMENTS}, when attachments are enabled.",
    )
    requested_amount_vnd: VND | None = Field(
        default=None, description="At most what the customer paid minus refunds already made."
    )


class OpenComplaintResult(Reply):
    """The ``result`` of an accepted open-complaint reply."""

    NAME: ClassVar[str] = "complaints.open-complaint.result"

    complaint_id: UUID


class StartReview(Command):
    NAME: ClassVar[str] = "complaints.start-review"
    ALLOWED_ROLES = STAFF

    complaint_id: UUID


class RequestInfo(Command):
    NAME: ClassVar[str] = "complaints.request-info"
    ALLOWED_ROLES = STAFF

    complaint_id: UUID
    message: str = Field(
        max_length=_TEXT_BOUND, description=f"Not empty, at most {MAX_DESCRIPTION} characters."
    )


class ProvideInfo(Command):
    NAME: ClassVar[str] = "complaints.provide-info"
    ALLOWED_ROLES = CUSTOMER

    complaint_id: UUID
    message: str = Field(
        max_length=_TEXT_BOUND, description=f"Not empty, at most {MAX_DESCRIPTION} characters."
    )
    attachments: Attachments = Field(
        default_factory=list,
        max_length=_ATTACHMENTS_BOUND,
        description=f"http(s) URLs, at most {MAX_ATTACHMENTS}, when attachments are enabled.",
    )


class AddComment(Command):
    NAME: ClassVar[str] = "complaints.add-comment"
    ALLOWED_ROLES = CUSTOMER_OR_STAFF

    complaint_id: UUID
    body: str = Field(
        max_length=_TEXT_BOUND, description=f"Not empty, at most {MAX_DESCRIPTION} characters."
    )


class ResolveComplaint(Command):
    NAME: ClassVar[str] = "complaints.resolve"
    ALLOWED_ROLES = STAFF

    complaint_id: UUID
    resolution: Resolution
    amount_vnd: VND | None = Field(default=None, description="Required for a refund.")
    note: str | None = Field(default=None, max_length=MAX_DESCRIPTION)


class WithdrawComplaint(Command):
    NAME: ClassVar[str] = "complaints.withdraw"
    ALLOWED_ROLES = CUSTOMER

    complaint_id: UUID
    reason: str | None = Field(default=None, max_length=1000)


class ComplaintEvent(Event):
    complaint_id: UUID
    order_id: UUID
    customer_id: str
    status: ComplaintStatus
    actor: Actor
    occurred_at: AwareDatetime
    order_code: str | None = Field(default=None, description="The order's human code (AZ…).")


class ComplaintOpened(ComplaintEvent):
    NAME: ClassVar[str] = "complaints.complaint.opened"

    type: ComplaintType
    item_ids: list[UUID]
    description: str
    attachments: list[str]
    requested_amount_vnd: VND | None = None


class ComplaintReviewStarted(ComplaintEvent):
    NAME: ClassVar[str] = "complaints.complaint.review-started"


class ComplaintInfoRequested(ComplaintEvent):
    NAME: ClassVar[str] = "complaints.complaint.info-requested"

    message: str


class ComplaintInfoProvided(ComplaintEvent):
    NAME: ClassVar[str] = "complaints.complaint.info-provided"

    message: str
    attachments: list[str]


class ComplaintCommentAdded(ComplaintEvent):
    NAME: ClassVar[str] = "complaints.complaint.comment-added"

    comment_id: UUID
    body: str


class ComplaintResolved(ComplaintEvent):
    NAME: ClassVar[str] = "complaints.complaint.resolved"

    resolution: Resolution
    amount_vnd: VND | None = None
    note: str | None = None
    shipping_deducted_vnd: VND | None = Field(
        default=None,
        description="A refund with deduct-shipping on: the international shipping the fees "
        "ledger is expected to deduct from amount_vnd (once per order, never below 0).",
    )
    payout_vnd: VND | None = Field(
        default=None,
        description="A refund: what the customer is expected to be paid, amount_vnd minus "
        "shipping_deducted_vnd. The fees ledger's refund entry is the authority.",
    )
    reason_code: ReasonCode | None = Field(
        default=None,
        description="Set when the platform closed the complaint itself: complaint_window_closed "
        "when the order turned out to be completed before the complaint was opened.",
    )


class ComplaintWithdrawn(ComplaintEvent):
    NAME: ClassVar[str] = "complaints.complaint.withdrawn"

    reason: str | None = None


class RefundApproved(ComplaintEvent):
    """A refund resolution: the fees ledger records it (deducting shipping when configured)."""

    NAME: ClassVar[str] = "complaints.refund.approved"

    amount_vnd: VND
