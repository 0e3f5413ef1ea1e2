"""Complaints: claims, disputes and refund requests (spec §5)."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import AnyHttpUrl, AwareDatetime, Field

from .base import Actor, Command, Event
from .common import VND
from .orders import CUSTOMER, CUSTOMER_OR_STAFF, STAFF

MAX_DESCRIPTION = 4000


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
    description: str = Field(max_length=MAX_DESCRIPTION)
    attachments: list[AnyHttpUrl] = Field(default_factory=list)
    requested_amount_vnd: VND | None = None


class StartReview(Command):
    NAME: ClassVar[str] = "complaints.start-review"
    ALLOWED_ROLES = STAFF

    complaint_id: UUID


class RequestInfo(Command):
    NAME: ClassVar[str] = "complaints.request-info"
    ALLOWED_ROLES = STAFF

    complaint_id: UUID
    message: str = Field(min_length=1, max_length=MAX_DESCRIPTION)


class ProvideInfo(Command):
    NAME: ClassVar[str] = "complaints.provide-info"
    ALLOWED_ROLES = CUSTOMER

    complaint_id: UUID
    message: str = Field(min_length=1, max_length=MAX_DESCRIPTION)
    attachments: list[AnyHttpUrl] = Field(default_factory=list)


class AddComment(Command):
    NAME: ClassVar[str] = "complaints.add-comment"
    ALLOWED_ROLES = CUSTOMER_OR_STAFF

    complaint_id: UUID
    body: str = Field(min_length=1, max_length=MAX_DESCRIPTION)


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


class ComplaintWithdrawn(ComplaintEvent):
    NAME: ClassVar[str] = "complaints.complaint.withdrawn"

    reason: str | None = None


class RefundApproved(ComplaintEvent):
    """A refund resolution: the fees ledger records it (deducting shipping when configured)."""

    NAME: ClassVar[str] = "complaints.refund.approved"

    amount_vnd: VND
