"""The complaint aggregate: its lifecycle, its thread and every rule of spec §5.

Pure: no I/O. What the complaints service knows of an order (from ``orders.*`` events and
``fees.ledger.updated``) comes in as ``OrderFacts``; each method checks its rules, changes
the complaint and records the events it causes in ``complaint.events``; a broken rule raises
a ``DomainError`` with a business name and changes nothing.

Lifecycle::

    open → in_review → awaiting_customer ⇄ in_review → resolved | rejected
    open | in_review | awaiting_customer → withdrawn (the customer)

Staff may also resolve a complaint that awaits the customer (who may never answer).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from azl_contracts import Actor, ActorRole, ReasonCode
from azl_contracts import complaints as contract
from azl_contracts.common import OrderStatus
from azl_contracts.complaints import (
    MAX_ATTACHMENTS,
    MAX_DESCRIPTION,
    ComplaintStatus,
    ComplaintType,
    Resolution,
)
from azl_contracts.money import refund_shipping_deduction
from azl_kit.aggregates import Aggregate
from azl_kit.errors import (
    DomainError,
    Duplicate,
    Forbidden,
    InvalidState,
    LimitExceeded,
    ValidationFailed,
)

S = OrderStatus
K = ComplaintStatus
ZERO = Decimal(0)

COMPLAINABLE = (
    S.PURCHASED,
    S.CANCELLATION_REQUESTED,
    S.SELLER_SHIPPED,
    S.IN_CHINA_WAREHOUSE,
    S.IN_TRANSIT,
    S.IN_VIETNAM_WAREHOUSE,
    S.DELIVERING,
    S.DELIVERED,
)
"""Order statuses in which a complaint can be opened: ``purchased`` … ``delivered``."""

ACTIVE = (K.OPEN, K.IN_REVIEW, K.AWAITING_CUSTOMER)
RESOLVABLE = (K.IN_REVIEW, K.AWAITING_CUSTOMER)

SYSTEM = Actor(id="complaints", role=ActorRole.SYSTEM)


class ComplaintWindowClosed(DomainError):
    """The order is completed: from then on no complaint can be opened."""

    reason_code = ReasonCode.COMPLAINT_WINDOW_CLOSED


class AttachmentsRefused(ValidationFailed):
    pass


@dataclass(frozen=True)
class Policy:
    """What changes the rules: ``attachments_enabled``, this service's setting
    (AZL_COMPLAINT_ATTACHMENTS_ENABLED), and ``deduct_shipping``, which is not a setting of
    complaints: the fees ledger owns it and states it (``OrderFacts.deducts_shipping``), and
    ``for_order`` applies what the order's ledger said."""

    attachments_enabled: bool = True
    deduct_shipping: bool = False

    def for_order(self, order: OrderFacts) -> Policy:
        return replace(self, deduct_shipping=order.deducts_shipping)


@dataclass(frozen=True)
class ApprovedRefund:
    """A refund this service approved on an order, and the shipping it expected fees to
    deduct from it."""

    complaint_id: UUID
    resolved_vnd: Decimal
    expected_deduction_vnd: Decimal

    @property
    def expected_payout_vnd(self) -> Decimal:
        return self.resolved_vnd - self.expected_deduction_vnd


@dataclass(frozen=True)
class OrderFacts:
    """What the complaints service knows of an order, from orders and fees events."""

    order_id: UUID
    customer_id: str
    code: str
    status: OrderStatus
    item_ids: frozenset[UUID]
    paid_vnd: Decimal = ZERO
    ledger_refunds: Mapping[str, Decimal] = field(default_factory=dict)
    shipping_charged_vnd: Decimal = ZERO
    shipping_deducted_vnd: Decimal = ZERO
    approved_refunds: Sequence[ApprovedRefund] = ()
    completed_at: datetime | None = None
    deducts_shipping: bool = False
    """Whether the order's ledger deducts shipping from refunds, as fees last stated it."""

    def _pending(self) -> list[ApprovedRefund]:
        """Refunds approved here that the fees ledger has not recorded yet."""
        return [r for r in self.approved_refunds if str(r.complaint_id) not in self.ledger_refunds]

    @property
    def refunded_vnd(self) -> Decimal:
        """Refunds made: what the ledger paid back, plus refunds approved but not recorded yet
        (so no refund is approved twice meanwhile). A pending refund counts at the payout
        expected of fees (resolved minus the shipping deduction expected), the amount the
        ledger will record: the limit is the same before and after fees records it."""
        recorded = sum(self.ledger_refunds.values(), ZERO)
        return recorded + sum((r.expected_payout_vnd for r in self._pending()), ZERO)

    @property
    def refundable_vnd(self) -> Decimal:
        """What the customer paid minus refunds already made, never below 0."""
        return max(ZERO, self.paid_vnd - self.refunded_vnd)

    def shipping_deduction(self, amount_vnd: Decimal, policy: Policy) -> Decimal:
        """What the fees ledger will deduct from this refund, by the one rule
        (``azl_contracts.money.refund_shipping_deduction``): the shipping the ledger has not
        deducted yet, less what refunds approved here but not recorded yet will deduct."""
        if not policy.deduct_shipping:
            return ZERO
        deducted = self.shipping_deducted_vnd + sum(
            (r.expected_deduction_vnd for r in self._pending()), ZERO
        )
        return refund_shipping_deduction(amount_vnd, self.shipping_charged_vnd - deducted)


class ThreadKind(StrEnum):
    COMMENT = "comment"
    INFO_REQUEST = "info_request"
    INFO_RESPONSE = "info_response"


@dataclass(frozen=True)
class ThreadEntry:
    entry_id: UUID
    kind: ThreadKind
    actor: Actor
    body: str
    attachments: tuple[str, ...]
    at: datetime


@dataclass(frozen=True)
class Step:
    """One step of the lifecycle: who moved the complaint where, when, and why."""

    event: str
    from_status: ComplaintStatus | None
    to_status: ComplaintStatus
    actor: Actor
    at: datetime
    note: str | None = None


@dataclass
class Complaint(Aggregate):
    complaint_id: UUID
    order_id: UUID
    customer_id: str
    order_code: str
    type: ComplaintType
    item_ids: list[UUID]
    description: str
    attachments: list[str]
    requested_amount_vnd: Decimal | None
    status: ComplaintStatus
    opened_at: datetime
    updated_at: datetime
    resolution: Resolution | None = None
    resolved_amount_vnd: Decimal | None = None
    shipping_deducted_vnd: Decimal | None = None
    resolution_note: str | None = None
    closed_reason: ReasonCode | None = None
    history: list[Step] = field(default_factory=list)
    thread: list[ThreadEntry] = field(default_factory=list)

    # --- opening ------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        command: contract.OpenComplaint,
        *,
        complaint_id: UUID,
        order: OrderFacts,
        active_on_order: Sequence[Complaint],
        policy: Policy,
        now: datetime,
    ) -> Complaint:
        actor = command.actor
        if actor.role is ActorRole.CUSTOMER and actor.id != order.customer_id:
            raise Forbidden("the order belongs to another customer", order_id=str(order.order_id))
        _check_order_status(order, command.type)
        description = _text("description", command.description)
        item_ids = list(dict.fromkeys(command.item_ids))
        foreign = [str(i) for i in item_ids if i not in order.item_ids]
        if foreign:
            raise ValidationFailed(
                f"{len(foreign)} item(s) do not belong to order {order.code}",
                field="item_ids",
                item_ids=foreign,
            )
        attachments = _attachments(command.attachments, policy)
        requested = command.requested_amount_vnd
        if requested is not None:
            _check_refundable("requested_amount_vnd", requested, order)
        _check_not_duplicate(command.type, item_ids, active_on_order)
        complaint = cls(
            complaint_id=complaint_id,
            order_id=order.order_id,
            customer_id=order.customer_id,
            order_code=order.code,
            type=command.type,
            item_ids=item_ids,
            description=description,
            attachments=attachments,
            requested_amount_vnd=requested,
            status=K.OPEN,
            opened_at=now,
            updated_at=now,
        )
        complaint._move(None, K.OPEN, "opened", actor, now)
        complaint._record(
            contract.ComplaintOpened,
            actor,
            now,
            type=complaint.type,
            item_ids=item_ids,
            description=description,
            attachments=attachments,
            requested_amount_vnd=requested,
        )
        return complaint

    # --- staff and customer steps ---------------------------------------------------------

    def start_review(self, actor: Actor, now: datetime) -> None:
        self._require(K.OPEN, command="start-review")
        self._move(self.status, K.IN_REVIEW, "review-started", actor, now)
        self._record(contract.ComplaintReviewStarted, actor, now)

    def request_info(self, actor: Actor, message: str, entry_id: UUID, now: datetime) -> None:
        self._require(K.IN_REVIEW, command="request-info")
        message = _text("message", message)
        self._move(self.status, K.AWAITING_CUSTOMER, "info-requested", actor, now)
        self.thread.append(ThreadEntry(entry_id, ThreadKind.INFO_REQUEST, actor, message, (), now))
        self._record(contract.ComplaintInfoRequested, actor, now, message=message)

    def provide_info(
        self,
        actor: Actor,
        message: str,
        attachments: Sequence[str],
        policy: Policy,
        entry_id: UUID,
        now: datetime,
    ) -> None:
        self._authorize(actor)
        self._require(K.AWAITING_CUSTOMER, command="provide-info")
        message = _text("message", message)
        checked = _attachments(attachments, policy)
        self._move(self.status, K.IN_REVIEW, "info-provided", actor, now)
        self.thread.append(
            ThreadEntry(entry_id, ThreadKind.INFO_RESPONSE, actor, message, tuple(checked), now)
        )
        self._record(
            contract.ComplaintInfoProvided, actor, now, message=message, attachments=checked
        )

    def add_comment(self, actor: Actor, body: str, comment_id: UUID, now: datetime) -> None:
        """Either side of the complaint may write while it is active."""
        self._authorize(actor)
        self._require(*ACTIVE, command="add-comment")
        body = _text("body", body)
        self._touch_at(now)
        self.thread.append(ThreadEntry(comment_id, ThreadKind.COMMENT, actor, body, (), now))
        self._record(contract.ComplaintCommentAdded, actor, now, comment_id=comment_id, body=body)

    def resolve(
        self,
        actor: Actor,
        resolution: Resolution,
        amount_vnd: Decimal | None,
        note: str | None,
        *,
        order: OrderFacts,
        policy: Policy,
        now: datetime,
    ) -> None:
        self._require(*RESOLVABLE, command="resolve")
        if resolution is Resolution.REFUND:
            if amount_vnd is None or amount_vnd <= 0:
                raise ValidationFailed(
                    "a refund needs an amount above 0", field="amount_vnd", resolution="refund"
                )
            _check_refundable("amount_vnd", amount_vnd, order)
        elif amount_vnd is not None:
            raise ValidationFailed(
                f"only a refund has an amount, not {resolution.value}",
                field="amount_vnd",
                resolution=resolution.value,
            )
        note = None if note is None or not note.strip() else note.strip()
        to_status = K.REJECTED if resolution is Resolution.REJECT else K.RESOLVED
        self.resolution = resolution
        self.resolution_note = note
        self._move(self.status, to_status, "resolved", actor, now, note)
        if resolution is not Resolution.REFUND:
            self._record(contract.ComplaintResolved, actor, now, resolution=resolution, note=note)
            return
        assert amount_vnd is not None
        deduction = order.shipping_deduction(amount_vnd, policy)
        self.resolved_amount_vnd = amount_vnd
        self.shipping_deducted_vnd = deduction
        self._record(
            contract.ComplaintResolved,
            actor,
            now,
            resolution=resolution,
            amount_vnd=amount_vnd,
            note=note,
            shipping_deducted_vnd=deduction if policy.deduct_shipping else None,
            payout_vnd=amount_vnd - deduction,
        )
        self._record(contract.RefundApproved, actor, now, amount_vnd=amount_vnd)

    def withdraw(self, actor: Actor, reason: str | None, now: datetime) -> None:
        self._authorize(actor)
        self._require(*ACTIVE, command="withdraw")
        reason = None if reason is None or not reason.strip() else reason.strip()
        self._move(self.status, K.WITHDRAWN, "withdrawn", actor, now, reason)
        self._record(contract.ComplaintWithdrawn, actor, now, reason=reason)

    # --- what complaints learns late ------------------------------------------------------

    def close_if_opened_after(self, completed_at: datetime, now: datetime) -> bool:
        """The order was completed before this complaint was opened, but complaints learned
        of the completion only afterwards (the events came in on another queue): the window
        was already closed, so the platform rejects the complaint itself."""
        if self.status not in ACTIVE or self.opened_at <= completed_at:
            return False
        note = (
            f"Order {self.order_code} was completed at {completed_at.isoformat()}, before this "
            "complaint was opened: complaints close when an order is completed."
        )
        self.resolution = Resolution.REJECT
        self.resolution_note = note
        self.closed_reason = ReasonCode.COMPLAINT_WINDOW_CLOSED
        self._move(self.status, K.REJECTED, "resolved", SYSTEM, now, note)
        self._record(
            contract.ComplaintResolved,
            SYSTEM,
            now,
            resolution=Resolution.REJECT,
            note=note,
            reason_code=ReasonCode.COMPLAINT_WINDOW_CLOSED,
        )
        return True

    # --- derived values -----------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def refund_view(self, order: OrderFacts | None) -> dict[str, Any] | None:
        """What the customer is paid back: the ledger's refund entry once fees recorded it,
        until then what this service expects fees to pay."""
        if self.resolution is not Resolution.REFUND or self.resolved_amount_vnd is None:
            return None
        expected = self.shipping_deducted_vnd or ZERO
        recorded = None if order is None else order.ledger_refunds.get(str(self.complaint_id))
        payout = self.resolved_amount_vnd - expected if recorded is None else recorded
        return {
            "resolved_amount_vnd": int(self.resolved_amount_vnd),
            "shipping_deducted_vnd": int(self.resolved_amount_vnd - payout),
            "payout_vnd": int(payout),
            "recorded_in_ledger": recorded is not None,
        }

    # --- guards and bookkeeping -----------------------------------------------------------

    def _authorize(self, actor: Actor) -> None:
        """A customer acts only on its own complaints."""
        if actor.role is ActorRole.CUSTOMER and actor.id != self.customer_id:
            raise Forbidden(
                "the complaint belongs to another customer", complaint_id=str(self.complaint_id)
            )

    def _require(self, *statuses: ComplaintStatus, command: str) -> None:
        if self.status not in statuses:
            raise InvalidState(
                f"{command} is not allowed while the complaint is {self.status.value}",
                status=self.status.value,
                allowed=[s.value for s in statuses],
            )

    def _touch_at(self, now: datetime) -> None:
        self._touch()
        self.updated_at = now

    def _move(
        self,
        from_status: ComplaintStatus | None,
        to_status: ComplaintStatus,
        step: str,
        actor: Actor,
        now: datetime,
        note: str | None = None,
    ) -> None:
        self._touch_at(now)
        self.status = to_status
        self.history.append(Step(step, from_status, to_status, actor, now, note))

    def _record(
        self,
        event_class: builtins.type[contract.ComplaintEvent],
        actor: Actor,
        now: datetime,
        **fields: object,
    ) -> None:
        self.events.append(
            event_class(
                complaint_id=self.complaint_id,
                order_id=self.order_id,
                customer_id=self.customer_id,
                order_code=self.order_code or None,
                status=self.status,
                actor=actor,
                occurred_at=now,
                **fields,
            )
        )


# --- rules ---------------------------------------------------------------------------


def _check_order_status(order: OrderFacts, complaint_type: ComplaintType) -> None:
    details = {"order_id": str(order.order_id), "status": order.status.value}
    if order.status is S.COMPLETED:
        raise ComplaintWindowClosed(
            f"order {order.code} is completed; complaints are closed", **details
        )
    if order.status not in COMPLAINABLE:
        raise InvalidState(
            f"a complaint cannot be opened while the order is {order.status.value}",
            allowed=[s.value for s in COMPLAINABLE],
            **details,
        )
    if complaint_type is ComplaintType.REFUND_REQUEST and order.status is not S.DELIVERED:
        raise InvalidState(
            "a refund request can be opened only once the order is delivered",
            allowed=[S.DELIVERED.value],
            **details,
        )


def _text(name: str, value: str) -> str:
    text = value.strip()
    if not text:
        raise ValidationFailed(f"{name} must not be empty", field=name)
    if len(text) > MAX_DESCRIPTION:
        raise ValidationFailed(
            f"{name} is longer than {MAX_DESCRIPTION:,} characters",
            field=name,
            length=len(text),
            max_length=MAX_DESCRIPTION,
        )
    return text


def _attachments(urls: Sequence[str], policy: Policy) -> list[str]:
    if not urls:
        return []
    if not policy.attachments_enabled:
        raise AttachmentsRefused(
            "attachments are not enabled", field="attachments", count=len(urls)
        )
    if len(urls) > MAX_ATTACHMENTS:
        raise AttachmentsRefused(
            f"at most {MAX_ATTACHMENTS} attachments, not {len(urls)}",
            field="attachments",
            count=len(urls),
            max_count=MAX_ATTACHMENTS,
        )
    invalid = [url for url in urls if not _is_http_url(url)]
    if invalid:
        raise AttachmentsRefused(
            "attachments must be http(s) URLs", field="attachments", invalid=invalid
        )
    return [url.strip() for url in urls]


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _check_refundable(name: str, amount_vnd: Decimal, order: OrderFacts) -> None:
    refundable = order.refundable_vnd
    if amount_vnd > refundable:
        raise LimitExceeded(
            f"{name} {amount_vnd:,} is above what the customer paid minus refunds already "
            f"made ({refundable:,})",
            field=name,
            amount_vnd=str(amount_vnd),
            paid_vnd=str(order.paid_vnd),
            refunded_vnd=str(order.refunded_vnd),
            refundable_vnd=str(refundable),
        )


def _check_not_duplicate(
    complaint_type: ComplaintType, item_ids: Sequence[UUID], active: Sequence[Complaint]
) -> None:
    """One open complaint per item: a complaint on items that an active complaint already
    covers is a duplicate; one about the whole order (no items) is a duplicate of an active
    whole-order complaint of the same type."""
    wanted = set(item_ids)
    for other in active:
        if not other.active:
            continue
        if wanted:
            overlap = wanted & set(other.item_ids)
            if overlap:
                raise Duplicate(
                    f"complaint {other.complaint_id} is already open on these items",
                    complaint_id=str(other.complaint_id),
                    item_ids=sorted(str(i) for i in overlap),
                )
        elif not other.item_ids and other.type is complaint_type:
            raise Duplicate(
                f"complaint {other.complaint_id} about the whole order is already open",
                complaint_id=str(other.complaint_id),
                type=complaint_type.value,
            )
