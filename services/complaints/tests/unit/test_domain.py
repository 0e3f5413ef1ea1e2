"""The complaint aggregate's rules (spec §5), without a broker or a database."""

# mypy narrows complaint.status after one assert and cannot see methods change it:
# mypy: disable-error-code="comparison-overlap"

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import partial
from uuid import uuid4

import pytest

from azl_contracts import ActorRole, ReasonCode
from azl_contracts import complaints as k
from azl_contracts.common import OrderStatus
from azl_contracts.complaints import ComplaintStatus, ComplaintType, Resolution
from azl_kit.errors import (
    DomainError,
    Duplicate,
    Forbidden,
    InvalidState,
    LimitExceeded,
    ValidationFailed,
)
from complaints.domain import (
    COMPLAINABLE,
    ApprovedRefund,
    ComplaintWindowClosed,
    Policy,
    ThreadKind,
)

from .conftest import (
    CUSTOMER,
    ITEMS,
    LATER,
    NOW,
    OTHER_CUSTOMER,
    OTHER_STAFF,
    STAFF,
    event_types,
    facts,
    in_review,
    opened,
    settled,
)

S = OrderStatus
K = ComplaintStatus


def rejected(error: pytest.ExceptionInfo[DomainError]) -> tuple[ReasonCode, dict[str, object]]:
    return error.value.reason_code, error.value.details


class TestOpening:
    def test_a_complaint_opens_with_its_first_step_and_event(self) -> None:
        complaint = opened(requested_amount_vnd="200000")
        assert complaint.status is K.OPEN
        assert complaint.customer_id == CUSTOMER.id
        assert complaint.order_code == "AZ12345678"
        assert complaint.item_ids == [ITEMS[0]]
        assert complaint.requested_amount_vnd == Decimal(200_000)
        assert complaint.version == 1
        assert event_types(complaint) == ["complaints.complaint.opened.v1"]
        event = complaint.events[0]
        assert isinstance(event, k.ComplaintOpened)
        assert event.actor == CUSTOMER
        assert event.occurred_at == NOW
        assert event.status is K.OPEN
        assert event.order_code == "AZ12345678"
        assert event.attachments == ["https://img.example.com/1.jpg"]
        step = complaint.history[0]
        assert (step.from_status, step.to_status, step.actor, step.at) == (
            None,
            K.OPEN,
            CUSTOMER,
            NOW,
        )

    @pytest.mark.parametrize("status", COMPLAINABLE, ids=lambda s: s.value)
    def test_an_order_from_purchased_to_delivered_takes_complaints(self, status: S) -> None:
        assert opened(facts(status)).status is K.OPEN

    def test_a_completed_order_closes_the_window(self) -> None:
        with pytest.raises(ComplaintWindowClosed) as error:
            opened(facts(S.COMPLETED))
        assert error.value.reason_code is ReasonCode.COMPLAINT_WINDOW_CLOSED
        assert error.value.details["status"] == "completed"

    @pytest.mark.parametrize(
        "status",
        [S.AWAITING_DEPOSIT, S.DEPOSITED, S.PURCHASING, S.AWAITING_CONFIRMATION, S.CANCELLED],
        ids=lambda s: s.value,
    )
    def test_before_purchase_or_cancelled_is_an_invalid_state(self, status: S) -> None:
        with pytest.raises(InvalidState) as error:
            opened(facts(status))
        assert error.value.details["status"] == status.value

    @pytest.mark.parametrize("status", COMPLAINABLE[:-1], ids=lambda s: s.value)
    def test_a_refund_request_waits_for_delivery(self, status: S) -> None:
        with pytest.raises(InvalidState) as error:
            opened(facts(status), type="refund_request")
        assert error.value.details["allowed"] == ["delivered"]

    def test_a_refund_request_on_a_delivered_order(self) -> None:
        assert opened(type="refund_request", item_ids=[]).type is ComplaintType.REFUND_REQUEST

    def test_a_customer_complains_only_about_its_own_order(self) -> None:
        with pytest.raises(Forbidden):
            opened(actor=OTHER_CUSTOMER.model_dump())

    def test_an_item_of_another_order_is_a_validation_error(self) -> None:
        stranger = uuid4()
        with pytest.raises(ValidationFailed) as error:
            opened(item_ids=[str(ITEMS[0]), str(stranger)])
        assert error.value.details == {"field": "item_ids", "item_ids": [str(stranger)]}

    def test_the_same_item_twice_counts_once(self) -> None:
        assert opened(item_ids=[str(ITEMS[1]), str(ITEMS[1])]).item_ids == [ITEMS[1]]

    @pytest.mark.parametrize("description", ["", "   \n "])
    def test_an_empty_description_is_a_validation_error(self, description: str) -> None:
        with pytest.raises(ValidationFailed) as error:
            opened(description=description)
        assert error.value.details == {"field": "description"}

    def test_a_description_of_4000_characters_is_the_longest(self) -> None:
        assert len(opened(description="x" * 4000).description) == 4000
        with pytest.raises(ValidationFailed) as error:
            opened(description="x" * 4001)
        assert error.value.details["max_length"] == 4000
        assert error.value.details["length"] == 4001

    def test_ten_attachments_at_most(self) -> None:
        ten = [f"https://img.example.com/{i}.jpg" for i in range(10)]
        assert opened(attachments=ten).attachments == ten
        with pytest.raises(ValidationFailed) as error:
            opened(attachments=[*ten, "https://img.example.com/x.jpg"])
        assert error.value.details["count"] == 11
        assert error.value.details["max_count"] == 10

    @pytest.mark.parametrize(
        "url", ["ftp://files.example.com/a.jpg", "javascript:alert(1)", "img.jpg", "https://"]
    )
    def test_attachments_are_http_urls(self, url: str) -> None:
        with pytest.raises(ValidationFailed) as error:
            opened(attachments=["http://img.example.com/ok.png", url])
        assert error.value.details == {"field": "attachments", "invalid": [url]}

    def test_no_attachments_while_they_are_disabled(self) -> None:
        off = Policy(attachments_enabled=False)
        with pytest.raises(ValidationFailed) as error:
            opened(policy=off)
        assert error.value.details == {"field": "attachments", "count": 1}
        assert opened(policy=off, attachments=[]).attachments == []

    def test_the_requested_amount_is_at_most_paid_minus_refunded(self) -> None:
        order = facts(paid=1_000_000, ledger_refunds={"c-1": Decimal(300_000)})
        assert opened(order, requested_amount_vnd="700000").requested_amount_vnd == 700_000
        with pytest.raises(LimitExceeded) as error:
            opened(order, requested_amount_vnd="700001")
        assert error.value.details["refundable_vnd"] == "700000"

    def test_a_refund_approved_but_not_recorded_yet_counts_as_made(self) -> None:
        pending = ApprovedRefund(uuid4(), Decimal(400_000), Decimal(0))
        order = facts(paid=1_000_000, approved=(pending,))
        assert order.refunded_vnd == 400_000
        with pytest.raises(LimitExceeded):
            opened(order, requested_amount_vnd="600001")

    def test_a_recorded_refund_counts_with_what_the_ledger_paid(self) -> None:
        recorded = ApprovedRefund(uuid4(), Decimal(400_000), Decimal(100_000))
        order = facts(
            paid=1_000_000,
            approved=(recorded,),
            ledger_refunds={str(recorded.complaint_id): Decimal(300_000)},
        )
        assert order.refunded_vnd == 300_000
        assert order.refundable_vnd == 700_000

    def test_a_second_complaint_on_the_same_items_is_a_duplicate(self) -> None:
        first = opened(item_ids=[str(ITEMS[0]), str(ITEMS[1])])
        with pytest.raises(Duplicate) as error:
            opened(active=[first], item_ids=[str(ITEMS[1]), str(ITEMS[2])], type="wrong_item")
        assert error.value.details == {
            "complaint_id": str(first.complaint_id),
            "item_ids": [str(ITEMS[1])],
        }
        assert opened(active=[first], item_ids=[str(ITEMS[2])]).item_ids == [ITEMS[2]]

    def test_a_second_whole_order_complaint_of_the_same_type_is_a_duplicate(self) -> None:
        first = opened(type="late_delivery", item_ids=[])
        with pytest.raises(Duplicate):
            opened(active=[first], type="late_delivery", item_ids=[])
        assert opened(active=[first], type="other", item_ids=[]).type is ComplaintType.OTHER

    def test_a_closed_complaint_does_not_block_a_new_one(self) -> None:
        first = settled(opened())
        first.withdraw(CUSTOMER, None, NOW)
        assert opened(active=[first]).status is K.OPEN


class TestLifecycle:
    def test_review_request_information_answer_and_resolve(self) -> None:
        complaint = settled(opened())
        complaint.start_review(STAFF, NOW)
        complaint.request_info(STAFF, "Xin gửi ảnh hộp", uuid4(), NOW)
        assert complaint.status is K.AWAITING_CUSTOMER
        complaint.provide_info(
            CUSTOMER, "Đây ạ", ["https://img.example.com/box.jpg"], Policy(), uuid4(), LATER
        )
        assert complaint.status is K.IN_REVIEW
        complaint.resolve(
            OTHER_STAFF,
            Resolution.RESHIP,
            None,
            "gửi lại",
            order=facts(),
            policy=Policy(),
            now=LATER,
        )
        assert complaint.status is K.RESOLVED
        assert complaint.version == 2  # one change per unit of work
        assert event_types(complaint) == [
            "complaints.complaint.review-started.v1",
            "complaints.complaint.info-requested.v1",
            "complaints.complaint.info-provided.v1",
            "complaints.complaint.resolved.v1",
        ]
        assert [(s.from_status, s.to_status, s.actor.id) for s in complaint.history] == [
            (None, K.OPEN, CUSTOMER.id),
            (K.OPEN, K.IN_REVIEW, STAFF.id),
            (K.IN_REVIEW, K.AWAITING_CUSTOMER, STAFF.id),
            (K.AWAITING_CUSTOMER, K.IN_REVIEW, CUSTOMER.id),
            (K.IN_REVIEW, K.RESOLVED, OTHER_STAFF.id),
        ]
        assert complaint.history[-1].note == "gửi lại"
        assert [(e.kind, e.body, e.attachments) for e in complaint.thread] == [
            (ThreadKind.INFO_REQUEST, "Xin gửi ảnh hộp", ()),
            (ThreadKind.INFO_RESPONSE, "Đây ạ", ("https://img.example.com/box.jpg",)),
        ]
        steps = [e for e in complaint.events if isinstance(e, k.ComplaintEvent)]
        assert [(e.actor.id, e.occurred_at) for e in steps] == [
            (STAFF.id, NOW),
            (STAFF.id, NOW),
            (CUSTOMER.id, LATER),
            (OTHER_STAFF.id, LATER),
        ]

    def test_review_starts_only_once(self) -> None:
        complaint = in_review()
        with pytest.raises(InvalidState) as error:
            complaint.start_review(STAFF, NOW)
        assert error.value.details == {"status": "in_review", "allowed": ["open"]}

    def test_information_is_requested_during_review(self) -> None:
        with pytest.raises(InvalidState):
            settled(opened()).request_info(STAFF, "?", uuid4(), NOW)

    def test_only_the_complaints_customer_answers_and_only_when_asked(self) -> None:
        complaint = in_review()
        with pytest.raises(InvalidState):
            complaint.provide_info(CUSTOMER, "x", [], Policy(), uuid4(), NOW)
        complaint.request_info(STAFF, "?", uuid4(), NOW)
        with pytest.raises(Forbidden):
            complaint.provide_info(OTHER_CUSTOMER, "x", [], Policy(), uuid4(), NOW)

    def test_answers_follow_the_attachment_rules(self) -> None:
        complaint = in_review()
        complaint.request_info(STAFF, "?", uuid4(), NOW)
        with pytest.raises(ValidationFailed):
            complaint.provide_info(CUSTOMER, "x", ["file:///etc/passwd"], Policy(), uuid4(), NOW)
        with pytest.raises(ValidationFailed):
            complaint.provide_info(
                CUSTOMER,
                "x",
                ["https://img.example.com/a.jpg"],
                Policy(attachments_enabled=False),
                uuid4(),
                NOW,
            )
        with pytest.raises(ValidationFailed):
            complaint.provide_info(CUSTOMER, "  ", [], Policy(), uuid4(), NOW)

    def test_comments_from_both_sides_while_active(self) -> None:
        complaint = settled(opened())
        first, second = uuid4(), uuid4()
        complaint.add_comment(CUSTOMER, "Bao giờ xử lý?", first, NOW)
        complaint.add_comment(STAFF, "Trong hôm nay", second, LATER)
        assert complaint.status is K.OPEN
        assert [(e.entry_id, e.kind, e.actor.role) for e in complaint.thread] == [
            (first, ThreadKind.COMMENT, ActorRole.CUSTOMER),
            (second, ThreadKind.COMMENT, ActorRole.STAFF),
        ]
        event = complaint.events[-1]
        assert isinstance(event, k.ComplaintCommentAdded)
        assert (event.comment_id, event.body, event.actor) == (second, "Trong hôm nay", STAFF)
        with pytest.raises(Forbidden):
            complaint.add_comment(OTHER_CUSTOMER, "x", uuid4(), NOW)
        with pytest.raises(ValidationFailed):
            complaint.add_comment(STAFF, " ", uuid4(), NOW)
        complaint.withdraw(CUSTOMER, "đã nhận đủ", NOW)
        with pytest.raises(InvalidState):
            complaint.add_comment(CUSTOMER, "x", uuid4(), NOW)

    @pytest.mark.parametrize("steps", [0, 1, 2])
    def test_the_customer_withdraws_before_resolution(self, steps: int) -> None:
        complaint = settled(opened())
        if steps >= 1:
            complaint.start_review(STAFF, NOW)
        if steps >= 2:
            complaint.request_info(STAFF, "?", uuid4(), NOW)
        complaint.withdraw(CUSTOMER, " đã nhận đủ ", LATER)
        assert complaint.status is K.WITHDRAWN
        event = complaint.events[-1]
        assert isinstance(event, k.ComplaintWithdrawn)
        assert event.reason == "đã nhận đủ"
        assert event.status is K.WITHDRAWN

    def test_no_withdrawal_by_another_customer_or_after_resolution(self) -> None:
        complaint = in_review()
        with pytest.raises(Forbidden):
            complaint.withdraw(OTHER_CUSTOMER, None, NOW)
        complaint.resolve(
            STAFF, Resolution.REJECT, None, None, order=facts(), policy=Policy(), now=NOW
        )
        with pytest.raises(InvalidState):
            complaint.withdraw(CUSTOMER, None, NOW)


class TestResolution:
    def test_a_refund_approves_the_resolved_amount(self) -> None:
        complaint = in_review()
        complaint.resolve(
            STAFF,
            Resolution.REFUND,
            Decimal(250_000),
            "hoàn tiền",
            order=facts(),
            policy=Policy(),
            now=LATER,
        )
        assert complaint.status is K.RESOLVED
        assert event_types(complaint) == [
            "complaints.complaint.resolved.v1",
            "complaints.refund.approved.v1",
        ]
        resolved, refund = complaint.events
        assert isinstance(resolved, k.ComplaintResolved)
        assert isinstance(refund, k.RefundApproved)
        assert (resolved.resolution, resolved.amount_vnd, resolved.note) == (
            Resolution.REFUND,
            250_000,
            "hoàn tiền",
        )
        assert resolved.payout_vnd == 250_000
        assert resolved.shipping_deducted_vnd is None
        assert refund.amount_vnd == 250_000
        assert refund.status is K.RESOLVED
        assert (refund.actor, refund.occurred_at, refund.customer_id) == (STAFF, LATER, CUSTOMER.id)

    def test_a_rejection_and_a_reship_carry_no_amount(self) -> None:
        rejected_complaint = in_review()
        rejected_complaint.resolve(
            STAFF,
            Resolution.REJECT,
            None,
            "không đủ bằng chứng",
            order=facts(),
            policy=Policy(),
            now=NOW,
        )
        assert rejected_complaint.status is K.REJECTED
        assert event_types(rejected_complaint) == ["complaints.complaint.resolved.v1"]
        with pytest.raises(ValidationFailed) as error:
            in_review().resolve(
                STAFF, Resolution.RESHIP, Decimal(1), None, order=facts(), policy=Policy(), now=NOW
            )
        assert error.value.details == {"field": "amount_vnd", "resolution": "reship"}

    @pytest.mark.parametrize("amount", [None, Decimal(0)])
    def test_a_refund_needs_an_amount(self, amount: Decimal | None) -> None:
        with pytest.raises(ValidationFailed):
            in_review().resolve(
                STAFF, Resolution.REFUND, amount, None, order=facts(), policy=Policy(), now=NOW
            )

    def test_a_refund_above_paid_minus_refunded_is_over_the_limit(self) -> None:
        order = facts(paid=500_000, ledger_refunds={"earlier": Decimal(100_000)})
        in_review().resolve(
            STAFF, Resolution.REFUND, Decimal(400_000), None, order=order, policy=Policy(), now=NOW
        )
        with pytest.raises(LimitExceeded) as error:
            in_review().resolve(
                STAFF,
                Resolution.REFUND,
                Decimal(400_001),
                None,
                order=order,
                policy=Policy(),
                now=NOW,
            )
        assert error.value.details["refundable_vnd"] == "400000"

    def test_an_open_complaint_is_reviewed_before_it_is_resolved(self) -> None:
        with pytest.raises(InvalidState):
            settled(opened()).resolve(
                STAFF, Resolution.RESHIP, None, None, order=facts(), policy=Policy(), now=NOW
            )

    def test_a_complaint_awaiting_the_customer_can_be_closed_by_staff(self) -> None:
        complaint = in_review()
        complaint.request_info(STAFF, "?", uuid4(), NOW)
        complaint.resolve(
            STAFF, Resolution.REJECT, None, "no answer", order=facts(), policy=Policy(), now=LATER
        )
        assert complaint.status is K.REJECTED

    def test_a_resolved_complaint_is_not_resolved_again(self) -> None:
        complaint = in_review()
        complaint.resolve(
            STAFF, Resolution.RESHIP, None, None, order=facts(), policy=Policy(), now=NOW
        )
        with pytest.raises(InvalidState) as error:
            complaint.resolve(
                OTHER_STAFF,
                Resolution.REFUND,
                Decimal(1),
                None,
                order=facts(),
                policy=Policy(),
                now=NOW,
            )
        assert error.value.details["status"] == "resolved"


class TestShippingDeduction:
    DEDUCT = Policy(deduct_shipping=True)

    def test_the_payout_is_the_refund_minus_the_charged_shipping(self) -> None:
        complaint = in_review()
        order = facts(shipping_charged=84_000)
        complaint.resolve(
            STAFF,
            Resolution.REFUND,
            Decimal(300_000),
            None,
            order=order,
            policy=self.DEDUCT,
            now=NOW,
        )
        resolved = complaint.events[0]
        assert isinstance(resolved, k.ComplaintResolved)
        assert (resolved.amount_vnd, resolved.shipping_deducted_vnd, resolved.payout_vnd) == (
            300_000,
            84_000,
            216_000,
        )
        refund = complaint.events[1]
        assert isinstance(refund, k.RefundApproved)
        assert refund.amount_vnd == 300_000  # fees deducts the shipping itself
        assert complaint.refund_view(order) == {
            "resolved_amount_vnd": 300_000,
            "shipping_deducted_vnd": 84_000,
            "payout_vnd": 216_000,
            "recorded_in_ledger": False,
        }

    def test_never_below_zero(self) -> None:
        order = facts(shipping_charged=84_000)
        assert order.shipping_deduction(Decimal(50_000), self.DEDUCT) == 50_000

    def test_once_per_order_counting_what_was_deducted_and_what_is_pending(self) -> None:
        order = facts(
            shipping_charged=84_000,
            shipping_deducted=30_000,
            approved=(ApprovedRefund(uuid4(), Decimal(40_000), Decimal(40_000)),),
        )
        assert order.shipping_deduction(Decimal(100_000), self.DEDUCT) == 14_000
        assert order.shipping_deduction(Decimal(100_000), Policy()) == 0

    def test_the_ledgers_refund_entry_is_the_authority_once_recorded(self) -> None:
        complaint = in_review()
        complaint.resolve(
            STAFF,
            Resolution.REFUND,
            Decimal(300_000),
            None,
            order=facts(),
            policy=self.DEDUCT,
            now=NOW,
        )
        # the ledger saw the shipping charge first and deducted it
        recorded = facts(ledger_refunds={str(complaint.complaint_id): Decimal(216_000)})
        assert complaint.refund_view(recorded) == {
            "resolved_amount_vnd": 300_000,
            "shipping_deducted_vnd": 84_000,
            "payout_vnd": 216_000,
            "recorded_in_ledger": True,
        }

    def test_the_refund_limit_is_the_same_before_and_after_fees_records_a_refund(self) -> None:
        """A pending refund counts at its expected payout (resolved − expected deduction), the
        amount the ledger then records: the same second refund is accepted, or refused,
        whichever moment it comes."""
        first = in_review()
        paid_and_charged = partial(facts, paid=1_000_000, shipping_charged=84_000)
        first.resolve(
            STAFF,
            Resolution.REFUND,
            Decimal(300_000),
            None,
            order=paid_and_charged(),
            policy=self.DEDUCT,
            now=NOW,
        )
        assert first.shipping_deducted_vnd == 84_000
        approved = ApprovedRefund(first.complaint_id, Decimal(300_000), Decimal(84_000))
        before_fees = paid_and_charged(approved=(approved,))
        after_fees = paid_and_charged(
            shipping_deducted=84_000,
            approved=(approved,),
            ledger_refunds={str(first.complaint_id): Decimal(216_000)},
        )
        for order in (before_fees, after_fees):
            assert order.refunded_vnd == 216_000  # 300,000 − 84,000 of shipping
            assert order.refundable_vnd == 784_000
            assert order.shipping_deduction(Decimal(784_000), self.DEDUCT) == 0  # once only
            with pytest.raises(LimitExceeded) as error:
                in_review().resolve(
                    STAFF,
                    Resolution.REFUND,
                    Decimal(784_001),
                    None,
                    order=order,
                    policy=self.DEDUCT,
                    now=NOW,
                )
            assert error.value.details["refundable_vnd"] == "784000"
            second = in_review()
            second.resolve(
                STAFF,
                Resolution.REFUND,
                Decimal(784_000),
                None,
                order=order,
                policy=self.DEDUCT,
                now=NOW,
            )
            assert second.status is K.RESOLVED
            assert second.shipping_deducted_vnd == 0


class TestWindowLearnedLate:
    def test_a_complaint_opened_after_the_completion_is_rejected_by_the_platform(self) -> None:
        complaint = settled(opened(now=LATER))
        assert complaint.close_if_opened_after(NOW, LATER + timedelta(seconds=1))
        assert complaint.status is K.REJECTED
        assert complaint.closed_reason is ReasonCode.COMPLAINT_WINDOW_CLOSED
        event = complaint.events[0]
        assert isinstance(event, k.ComplaintResolved)
        assert event.resolution is Resolution.REJECT
        assert event.reason_code is ReasonCode.COMPLAINT_WINDOW_CLOSED
        assert event.actor.role is ActorRole.SYSTEM
        assert complaint.history[-1].actor.role is ActorRole.SYSTEM

    def test_a_complaint_opened_before_the_completion_stands(self) -> None:
        complaint = settled(opened(now=NOW))
        assert not complaint.close_if_opened_after(LATER, LATER)
        assert complaint.status is K.OPEN
        assert complaint.events == []

    def test_a_closed_complaint_is_left_alone(self) -> None:
        complaint = settled(opened(now=LATER))
        complaint.withdraw(CUSTOMER, None, LATER)
        settled(complaint)
        assert not complaint.close_if_opened_after(NOW, LATER)
        assert complaint.status is K.WITHDRAWN
