"""The order aggregate's rules (spec §3), without a broker or a database."""

# mypy narrows order.status after one assert and cannot see methods change it:
# mypy: disable-error-code="comparison-overlap"

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import partial
from uuid import uuid4

import pytest

from azl_contracts import orders as o
from azl_contracts.common import (
    ItemStatus,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
    ServiceCode,
    Website,
)
from azl_kit.errors import Duplicate, Forbidden, InvalidState, NotFound, ValidationFailed
from orders.domain import (
    Order,
    PaymentNotAccepted,
    QuantityDecreaseNotAllowed,
    ServiceLocked,
    check_vietnamese_phone,
    payment_status,
    website_of,
)
from orders.views import order_detail

from .conftest import (
    CUSTOMER,
    NOW,
    OTHER_CUSTOMER,
    STAFF,
    SYSTEM,
    event_types,
    ids,
    item,
    new_order,
    order_in,
    place_command,
    settled,
)

S = OrderStatus
C = ServiceCode


class TestPlacement:
    def test_a_new_order_awaits_its_deposit(self) -> None:
        order = Order.place(place_command(), order_id=uuid4(), code="AZ12345678", now=NOW)
        assert order.status is S.AWAITING_DEPOSIT
        assert order.website is Website.TAOBAO
        assert order.goods_total_vnd == Decimal("700000")  # 2 × 100 CNY × 3,500
        assert order.required_deposit_vnd == Decimal("490000")
        assert order.version == 1
        assert event_types(order) == ["orders.order.placed.v2", "orders.order.status-changed.v1"]
        assert order.history[0].to_status is S.AWAITING_DEPOSIT

    @pytest.mark.parametrize(
        ("goods_vnd", "deposit_vnd"),
        [
            (5, 4),  # 3.5 → 4 (half-even too)
            (15, 11),  # 10.5 → 11 (half-even would give 10)
            (25, 18),  # 17.5 → 18 (half-even too)
            (35, 25),  # 24.5 → 25 (half-even would give 24)
            (14, 10),  # 9.8 → 10
            (16, 11),  # 11.2 → 11
        ],
    )
    def test_required_deposit_is_rounded_half_up(self, goods_vnd: int, deposit_vnd: int) -> None:
        order = new_order(items=[item("1.00", goods_vnd)], exchange_rate="1")
        assert order.goods_total_vnd == goods_vnd
        assert order.required_deposit_vnd == Decimal(deposit_vnd)

    @pytest.mark.parametrize(
        ("host", "website"),
        [
            ("taobao.com", Website.TAOBAO),
            ("item.taobao.com", Website.TAOBAO),
            ("world.taobao.com", Website.TAOBAO),
            ("detail.tmall.com", Website.TMALL),
            ("tmall.com", Website.TMALL),
            ("detail.1688.com", Website.ALIBABA_1688),
            ("1688.com", Website.ALIBABA_1688),
        ],
    )
    def test_the_website_comes_from_the_product_host(self, host: str, website: Website) -> None:
        assert website_of(f"https://{host}/x") is website

    @pytest.mark.parametrize(
        "host", ["amazon.com", "nottaobao.com", "taobao.com.evil.io", "tmall.hk"]
    )
    def test_other_hosts_are_refused(self, host: str) -> None:
        with pytest.raises(ValidationFailed):
            website_of(f"https://{host}/x")

    def test_all_items_come_from_one_website(self) -> None:
        with pytest.raises(ValidationFailed, match="one website"):
            new_order(items=[item(host="item.taobao.com"), item(host="detail.1688.com")])

    @pytest.mark.parametrize(
        "phone", ["0912345678", "+84912345678", "84 91 234 5678", "0283 822 4567"]
    )
    def test_vietnamese_phone_numbers_are_accepted(self, phone: str) -> None:
        assert check_vietnamese_phone(phone).startswith("+84")

    @pytest.mark.parametrize("phone", ["12345", "+8613800138000", "0900", "not a phone"])
    def test_invalid_phone_numbers_are_refused(self, phone: str) -> None:
        with pytest.raises(ValidationFailed):
            check_vietnamese_phone(phone)

    def test_mandatory_fees_cannot_be_selected(self) -> None:
        with pytest.raises(ValidationFailed, match="mandatory"):
            new_order(services=["purchase_fee"])

    def test_the_storefront_places_for_a_named_customer(self) -> None:
        command = place_command(actor=SYSTEM.model_dump(), customer_id="cust-9")
        order = Order.place(command, order_id=uuid4(), code="AZ1", now=NOW)
        assert order.customer_id == "cust-9"
        with pytest.raises(ValidationFailed):
            Order.place(
                place_command(actor=SYSTEM.model_dump()),
                order_id=order.order_id,
                code="AZ2",
                now=NOW,
            )

    def test_a_customer_places_only_for_itself(self) -> None:
        with pytest.raises(Forbidden):
            new_order(customer_id="somebody-else")


class TestDeposit:
    def test_deposited_once_the_required_deposit_is_paid(self, order: Order) -> None:
        order.record_deposit("p1", Decimal(400_000), NOW)
        assert order.status is S.AWAITING_DEPOSIT
        order.record_deposit("p2", Decimal(90_000), NOW)
        assert order.status is S.DEPOSITED
        assert event_types(order) == [
            "orders.order.deposit-payment-recorded.v1",
            "orders.order.deposit-payment-recorded.v1",
            "orders.order.status-changed.v1",
            "orders.order.deposited.v1",
        ]

    def test_listed_to_the_customer_from_the_deposit_on(self, order: Order) -> None:
        assert (order.deposited_at, order.listed_to_customer) == (None, False)
        order.record_deposit("p1", Decimal(400_000), NOW)
        assert (order.deposited_at, order.listed_to_customer) == (None, False)
        later = NOW + timedelta(hours=2)
        order.record_deposit("p2", Decimal(90_000), later)
        assert (order.deposited_at, order.listed_to_customer) == (later, True)
        order.record_deposit("p3", Decimal(5_000), later + timedelta(hours=1))
        order.cancel(CUSTOMER, None, later + timedelta(hours=2))
        assert (order.deposited_at, order.listed_to_customer) == (later, True)

    def test_an_order_cancelled_before_its_deposit_is_never_listed(self, order: Order) -> None:
        order.record_deposit("p1", Decimal(100_000), NOW)
        order.cancel(CUSTOMER, None, NOW)
        assert order.status is S.CANCELLED
        assert (order.deposited_at, order.listed_to_customer) == (None, False)

    def test_the_same_payment_counts_once(self, order: Order) -> None:
        order.record_deposit("p1", Decimal(100_000), NOW)
        order.record_deposit("p1", Decimal(100_000), NOW)
        assert order.deposit_paid_vnd == Decimal(100_000)

    def test_a_deposit_for_a_cancelled_order_is_refused(self) -> None:
        order = order_in(S.CANCELLED)
        with pytest.raises(PaymentNotAccepted):
            order.record_deposit("late", Decimal(100_000), NOW)
        assert order.events == []
        assert order.paid_vnd == order.required_deposit_vnd

    def test_a_deposit_after_deposited_counts_as_paid(self) -> None:
        order = order_in(S.PURCHASING)
        order.record_deposit("p-extra", Decimal(1_000), NOW)
        assert order.status is S.PURCHASING
        assert order.deposit_paid_vnd == order.required_deposit_vnd + 1_000


PAYMENT_REFUSED = (S.AWAITING_DEPOSIT, S.CANCELLED)


class TestPayments:
    @pytest.mark.parametrize("status", list(S), ids=lambda s: s.value)
    def test_payments_after_the_deposit_except_when_cancelled(self, status: OrderStatus) -> None:
        order = order_in(status)
        paid_before = order.paid_vnd
        if status in PAYMENT_REFUSED:
            with pytest.raises(PaymentNotAccepted):
                order.record_payment("pay-9", Decimal(50_000), PaymentMethod.COD, NOW)
            assert order.events == []
            assert order.paid_vnd == paid_before
            return
        version = order.version
        order.record_payment("pay-9", Decimal(50_000), PaymentMethod.COD, NOW)
        assert order.paid_vnd == paid_before + 50_000
        assert order.version == version + 1
        assert order.status is status
        [event] = order.events
        assert isinstance(event, o.PaymentRecorded)
        assert event.method is PaymentMethod.COD
        assert event.paid_vnd == paid_before + 50_000

    def test_the_same_payment_counts_once(self) -> None:
        order = order_in(S.DELIVERED)
        order.record_payment("pay-1", Decimal(10), PaymentMethod.WALLET, NOW)
        order.record_payment("pay-1", Decimal(10), PaymentMethod.WALLET, NOW)
        assert [p.payment_id for p in order.payments] == ["pay-1"]

    @pytest.mark.parametrize(
        ("balance", "status"),
        [
            (None, PaymentStatus.UNPAID),
            (1, PaymentStatus.UNPAID),
            (0, PaymentStatus.PAID),
            (-5, PaymentStatus.PAID),
        ],
    )
    def test_payment_status_follows_the_ledger_balance(
        self, balance: int | None, status: PaymentStatus
    ) -> None:
        assert payment_status(None if balance is None else Decimal(balance)) is status


CANCEL = {
    S.AWAITING_DEPOSIT: S.CANCELLED,
    S.DEPOSITED: S.CANCELLED,
    S.PURCHASING: S.CANCELLED,
    S.AWAITING_CONFIRMATION: S.CANCELLED,
    S.PURCHASED: S.CANCELLATION_REQUESTED,
}


class TestCancellation:
    @pytest.mark.parametrize("status", list(S), ids=lambda s: s.value)
    def test_cancel_in_every_status(self, status: OrderStatus) -> None:
        order = order_in(status)
        if status in CANCEL:
            order.cancel(CUSTOMER, "no longer needed", NOW)
            assert order.status is CANCEL[status]
            assert order.history[-1].from_status is status
            assert order.history[-1].reason == "no longer needed"
        else:
            with pytest.raises(InvalidState):
                order.cancel(CUSTOMER, None, NOW)
            assert order.status is status
            assert order.events == []

    def test_staff_may_cancel(self) -> None:
        order = order_in(S.DEPOSITED)
        order.cancel(STAFF, None, NOW)
        assert order.status is S.CANCELLED

    def test_another_customer_may_not(self) -> None:
        order = order_in(S.DEPOSITED)
        with pytest.raises(Forbidden):
            order.cancel(OTHER_CUSTOMER, None, NOW)
        assert order.status is S.DEPOSITED

    def test_approved_cancellation_cancels_from_the_request(self) -> None:
        order = order_in(S.CANCELLATION_REQUESTED)
        order.approve_cancellation(STAFF, "ok", NOW)
        assert order.status is S.CANCELLED
        cancelled = [e for e in order.events if isinstance(e, o.OrderCancelled)]
        assert cancelled[0].cancelled_from is S.CANCELLATION_REQUESTED

    def test_rejected_cancellation_goes_back_to_purchased(self) -> None:
        order = order_in(S.CANCELLATION_REQUESTED)
        order.reject_cancellation(STAFF, "already shipped by the seller", NOW)
        assert order.status is S.PURCHASED
        assert order.history[-1].reason == "already shipped by the seller"

    @pytest.mark.parametrize("status", [S.PURCHASED, S.DEPOSITED, S.CANCELLED])
    def test_decisions_need_a_request(self, status: OrderStatus) -> None:
        order = order_in(status)
        with pytest.raises(InvalidState):
            order.approve_cancellation(STAFF, None, NOW)
        with pytest.raises(InvalidState):
            order.reject_cancellation(STAFF, "no", NOW)


class TestQuantities:
    def test_order_more_raises_quantities(self) -> None:
        order = order_in(S.DEPOSITED)
        first = order.items[0].item_id
        order.increase_quantities(CUSTOMER, [o.ItemQuantity(item_id=first, quantity=5)], NOW)
        assert order.items[0].quantity == 5
        assert event_types(order) == ["orders.order.quantities-increased.v1"]

    def test_add_is_relative(self) -> None:
        order = order_in(S.PURCHASING)
        first = order.items[0].item_id
        order.increase_quantities(CUSTOMER, [o.ItemQuantity(item_id=first, add=3)], NOW)
        assert order.items[0].quantity == 5

    def test_a_decrease_is_refused_and_nothing_changes(self) -> None:
        order = order_in(S.DEPOSITED, items=[item(quantity=4), item(quantity=1)])
        first, second = ids(order)
        with pytest.raises(QuantityDecreaseNotAllowed):
            order.increase_quantities(
                CUSTOMER,
                [
                    o.ItemQuantity(item_id=second, quantity=3),
                    o.ItemQuantity(item_id=first, quantity=2),
                ],
                NOW,
            )
        assert [i.quantity for i in order.items] == [4, 1]
        assert order.events == []

    @pytest.mark.parametrize("status", [S.AWAITING_DEPOSIT, S.AWAITING_CONFIRMATION, S.PURCHASED])
    def test_only_while_deposited_or_purchasing(self, status: OrderStatus) -> None:
        order = order_in(status)
        with pytest.raises(InvalidState):
            order.increase_quantities(
                CUSTOMER, [o.ItemQuantity(item_id=order.items[0].item_id, add=1)], NOW
            )

    def test_unknown_item(self) -> None:
        order = order_in(S.DEPOSITED)
        with pytest.raises(NotFound):
            order.increase_quantities(CUSTOMER, [o.ItemQuantity(item_id=uuid4(), add=1)], NOW)

    @pytest.mark.parametrize(
        "lines",
        [
            [{"add": 1}, {"add": 1}],  # applied one after the other would give 3, or 4?
            [{"quantity": 5}, {"quantity": 3}],  # 3 is a decrease from 5
            [{"quantity": 5}, {"add": 1}],
        ],
        ids=["add-add", "quantity-quantity", "quantity-add"],
    )
    def test_an_item_named_twice_is_refused_and_nothing_changes(
        self, lines: list[dict[str, int]]
    ) -> None:
        order = order_in(S.DEPOSITED, items=[item(quantity=2), item(quantity=1)])
        first, second = ids(order)
        version = order.version
        requested = [o.ItemQuantity(item_id=second, add=1)] + [
            o.ItemQuantity(item_id=first, **line) for line in lines
        ]
        with pytest.raises(ValidationFailed) as refused:
            order.increase_quantities(CUSTOMER, requested, NOW)
        assert refused.value.details == {"item_id": str(first)}
        assert [i.quantity for i in order.items] == [2, 1]
        assert order.events == []
        assert order.version == version


class TestItemChanges:
    def test_confirming_changed_items_resumes_purchasing(self) -> None:
        order = order_in(S.AWAITING_CONFIRMATION)
        first = order.items[0]
        assert first.status is ItemStatus.AWAITING_CONFIRMATION
        order.confirm_items(CUSTOMER, [first.item_id], NOW)
        assert first.quantity == 5
        assert first.status is ItemStatus.ORDERED
        assert order.status is S.PURCHASING

    def test_declining_the_last_item_cancels_the_order(self) -> None:
        order = order_in(S.AWAITING_CONFIRMATION)
        order.decline_items(CUSTOMER, [order.items[0].item_id], NOW)
        assert order.items[0].status is ItemStatus.CANCELLED
        assert order.status is S.CANCELLED

    def test_declining_one_of_two_keeps_the_order(self) -> None:
        order = order_in(S.AWAITING_CONFIRMATION, items=[item(), item()])
        order.decline_items(CUSTOMER, [order.items[0].item_id], NOW)
        assert order.status is S.PURCHASING
        assert order.goods_total_vnd == Decimal(700_000)

    def test_items_not_awaiting_confirmation_are_refused(self) -> None:
        order = order_in(S.AWAITING_CONFIRMATION, items=[item(), item()])
        with pytest.raises(InvalidState):
            order.confirm_items(CUSTOMER, [order.items[1].item_id], NOW)

    def test_purchased_when_every_active_item_is_ordered(self) -> None:
        order = order_in(S.PURCHASING, items=[item(), item()])
        first, second = ids(order)
        order.mark_items_ordered(STAFF, [first], NOW)
        assert order.status is S.PURCHASING
        order.mark_items_ordered(STAFF, [second], NOW)
        assert order.status is S.PURCHASED

    def test_reporting_unchanged_values_is_refused(self) -> None:
        order = order_in(S.PURCHASING)
        current = order.items[0]
        with pytest.raises(ValidationFailed):
            order.report_item_change(
                STAFF, [o.ItemChange(item_id=current.item_id, new_quantity=current.quantity)], NOW
            )

    def test_a_second_report_keeps_what_the_first_left_pending(self) -> None:
        order = order_in(S.AWAITING_CONFIRMATION)  # the first item: 2 → 5 pending
        changed = order.items[0]
        order.report_item_change(
            STAFF, [o.ItemChange(item_id=changed.item_id, new_unit_price_cny=Decimal(120))], NOW
        )
        assert (changed.pending_quantity, changed.pending_unit_price_cny) == (5, Decimal(120))
        assert (changed.quantity, changed.unit_price_cny) == (2, Decimal(100))
        [changes] = [e for e in order.events if isinstance(e, o.ItemsChanged)]
        [record] = changes.changes
        assert (record.old_quantity, record.new_quantity) == (2, 5)
        assert (record.old_unit_price_cny, record.new_unit_price_cny) == (100, 120)
        # then only a quantity: the pending price stays
        order.report_item_change(
            STAFF, [o.ItemChange(item_id=changed.item_id, new_quantity=4)], NOW
        )
        assert (changed.pending_quantity, changed.pending_unit_price_cny) == (4, Decimal(120))
        order.confirm_items(CUSTOMER, [changed.item_id], NOW)
        assert (changed.quantity, changed.unit_price_cny) == (4, Decimal(120))

    def test_a_second_report_back_to_the_current_values_is_refused(self) -> None:
        order = order_in(S.AWAITING_CONFIRMATION)  # quantity 2, 5 pending; price unchanged
        changed = order.items[0]
        version = order.version
        with pytest.raises(ValidationFailed):
            order.report_item_change(
                STAFF, [o.ItemChange(item_id=changed.item_id, new_quantity=2)], NOW
            )
        assert (changed.pending_quantity, changed.pending_unit_price_cny) == (5, Decimal(100))
        assert order.events == []
        assert order.version == version

    def test_a_report_naming_an_item_twice_is_refused(self) -> None:
        order = order_in(S.PURCHASING, items=[item(), item()])
        first, second = ids(order)
        with pytest.raises(ValidationFailed) as refused:
            order.report_item_change(
                STAFF,
                [
                    o.ItemChange(item_id=first, new_quantity=3),
                    o.ItemChange(item_id=second, new_quantity=4),
                    o.ItemChange(item_id=first, new_unit_price_cny=Decimal(90)),
                ],
                NOW,
            )
        assert refused.value.details == {"item_id": str(first)}
        assert all(i.status is ItemStatus.PENDING for i in order.items)
        assert order.status is S.PURCHASING
        assert order.events == []

    @pytest.mark.parametrize("command", ["confirm", "decline", "mark-ordered"])
    def test_an_item_listed_twice_is_refused(self, command: str) -> None:
        if command == "mark-ordered":
            order = order_in(S.PURCHASING, items=[item(), item()])
            first, second = ids(order)
            run = partial(order.mark_items_ordered, STAFF)
        else:
            order = order_in(S.AWAITING_CONFIRMATION, items=[item(), item()])
            first, second = ids(order)
            order.report_item_change(STAFF, [o.ItemChange(item_id=second, new_quantity=7)], NOW)
            settled(order)
            method = order.confirm_items if command == "confirm" else order.decline_items
            run = partial(method, CUSTOMER)
        before = [(i.status, i.quantity, i.pending_quantity) for i in order.items]
        status, version = order.status, order.version
        with pytest.raises(ValidationFailed) as refused:
            run([first, second, first], NOW)
        assert refused.value.details == {"item_id": str(first)}
        assert [(i.status, i.quantity, i.pending_quantity) for i in order.items] == before
        assert (order.status, order.version, order.events) == (status, version, [])


class TestCancellingWithChangesPending:
    def test_items_awaiting_confirmation_are_cancelled_with_the_order(self) -> None:
        order = order_in(S.AWAITING_CONFIRMATION, items=[item(), item()])
        changed, untouched = order.items
        order.cancel(CUSTOMER, "too expensive now", NOW)
        assert order.status is S.CANCELLED
        assert changed.status is ItemStatus.CANCELLED
        assert (changed.pending_quantity, changed.pending_unit_price_cny) == (None, None)
        assert (changed.quantity, changed.unit_price_cny) == (2, Decimal(100))  # never confirmed
        assert untouched.status is ItemStatus.PENDING
        assert not any(i.status is ItemStatus.AWAITING_CONFIRMATION for i in order.items)
        [cancelled] = [e for e in order.events if isinstance(e, o.OrderCancelled)]
        assert cancelled.cancelled_from is S.AWAITING_CONFIRMATION

    def test_the_cancelled_orders_detail_shows_no_pending_confirmation(self) -> None:
        order = order_in(S.AWAITING_CONFIRMATION)
        order.cancel(STAFF, None, NOW)
        detail = order_detail(order, None, [])
        assert [
            (i.status, i.pending_quantity, i.pending_unit_price_cny) for i in detail.info.items
        ] == [(ItemStatus.CANCELLED, None, None)]

    def test_ordered_items_stay_ordered_when_an_approved_cancellation_cancels_the_order(
        self,
    ) -> None:
        order = order_in(S.CANCELLED)  # purchased, cancellation requested, approved
        assert [i.status for i in order.items] == [ItemStatus.ORDERED]


class TestServices:
    def test_at_order_services_can_be_removed_only_while_deposited(self) -> None:
        order = order_in(S.DEPOSITED, services=["insurance"])
        order.update_services(CUSTOMER, [], NOW)
        assert order.services == []
        later = order_in(S.PURCHASING, services=["insurance"])
        with pytest.raises(ServiceLocked):
            later.update_services(CUSTOMER, [], NOW)

    def test_at_order_services_can_be_added_while_purchasing(self) -> None:
        order = order_in(S.PURCHASING)
        order.update_services(CUSTOMER, [C.FAST_ORDER], NOW)
        assert order.services == [C.FAST_ORDER]

    @pytest.mark.parametrize("status", [S.PURCHASED, S.SELLER_SHIPPED, S.IN_CHINA_WAREHOUSE])
    def test_on_completion_services_until_in_transit(self, status: OrderStatus) -> None:
        order = order_in(status)
        order.update_services(CUSTOMER, [C.WOODEN_CRATE], NOW)
        assert order.services == [C.WOODEN_CRATE]
        with pytest.raises(ServiceLocked):
            order.update_services(CUSTOMER, [C.WOODEN_CRATE, C.INSURANCE], NOW)

    @pytest.mark.parametrize("status", [S.IN_TRANSIT, S.DELIVERED])
    def test_locked_from_in_transit(self, status: OrderStatus) -> None:
        order = order_in(status)
        with pytest.raises(ServiceLocked):
            order.update_services(CUSTOMER, [C.BUBBLE_WRAP], NOW)

    @pytest.mark.parametrize("status", [S.AWAITING_DEPOSIT, S.CANCELLED, S.COMPLETED])
    def test_not_in_other_statuses(self, status: OrderStatus) -> None:
        with pytest.raises(InvalidState):
            order_in(status).update_services(CUSTOMER, [C.BUBBLE_WRAP], NOW)


class TestAddressAndShipping:
    def test_address_changes_until_delivering(self) -> None:
        order = order_in(S.IN_VIETNAM_WAREHOUSE)
        new = order.delivery_address.model_copy(update={"address_line": "99 Nguyễn Huệ"})
        order.update_delivery_address(CUSTOMER, new, NOW)
        assert order.delivery_address.address_line == "99 Nguyễn Huệ"
        with pytest.raises(InvalidState):
            order_in(S.DELIVERING).update_delivery_address(CUSTOMER, new, NOW)

    def test_shipping_moves_forward_and_may_skip(self) -> None:
        order = order_in(S.PURCHASED)
        order.advance_shipping(SYSTEM, S.IN_TRANSIT, NOW)
        assert order.status is S.IN_TRANSIT
        with pytest.raises(InvalidState):
            order.advance_shipping(SYSTEM, S.IN_CHINA_WAREHOUSE, NOW)
        with pytest.raises(ValidationFailed):
            order.advance_shipping(SYSTEM, S.CANCELLED, NOW)

    def test_packages_are_recorded_once_in_the_shipping_statuses(self) -> None:
        order = order_in(S.SELLER_SHIPPED)
        package = o.PackageDetails(
            package_code="PK1",
            tracking_number="T1",
            weight_kg=Decimal("2.5"),
            length_cm=Decimal(40),
            width_cm=Decimal(30),
            height_cm=Decimal(20),
        )
        order.record_package(package, NOW)
        with pytest.raises(Duplicate):
            order.record_package(package, NOW)
        with pytest.raises(InvalidState):
            order_in(S.PURCHASED).record_package(package, NOW)

    def test_the_customer_confirms_receipt(self) -> None:
        order = order_in(S.DELIVERED)
        version = order.version
        order.confirm_received(CUSTOMER, NOW + timedelta(days=1))
        assert order.status is S.COMPLETED
        assert order.version == version + 1
        last = order.history[-1]
        assert (last.from_status, last.to_status, last.actor) == (
            S.DELIVERED,
            S.COMPLETED,
            CUSTOMER,
        )
        [completed] = [e for e in order.events if isinstance(e, o.OrderCompleted)]
        assert completed.automatic is False
        assert event_types(order) == [
            "orders.order.status-changed.v1",
            "orders.order.completed.v1",
        ]
        # completed: neither a second confirmation nor the scheduler changes it again
        with pytest.raises(InvalidState):
            order.confirm_received(CUSTOMER, NOW + timedelta(days=2))
        assert not order.complete_if_due(NOW + timedelta(days=30), timedelta(days=7))

    def test_another_customer_cannot_confirm_receipt(self) -> None:
        order = order_in(S.DELIVERED)
        with pytest.raises(Forbidden):
            order.confirm_received(OTHER_CUSTOMER, NOW)
        assert order.status is S.DELIVERED
        assert order.events == []

    @pytest.mark.parametrize("days", [1, 7, 10])
    def test_auto_completion_at_exactly_the_waiting_period(self, days: int) -> None:
        wait = timedelta(days=days)
        order = order_in(S.DELIVERED)
        assert order.delivered_at == NOW
        assert not order.complete_if_due(NOW + wait - timedelta(microseconds=1), wait)
        assert order.status is S.DELIVERED
        assert order.events == []
        assert order.complete_if_due(NOW + wait, wait)
        assert order.status is S.COMPLETED
        assert order.history[-1].actor.role.value == "system"
        [completed] = [e for e in order.events if isinstance(e, o.OrderCompleted)]
        assert completed.automatic is True

    def test_delivered_orders_complete_by_confirmation_or_after_the_wait(self) -> None:
        order = order_in(S.DELIVERED)
        assert not order.complete_if_due(NOW + timedelta(days=6), timedelta(days=7))
        assert order.complete_if_due(NOW + timedelta(days=7), timedelta(days=7))
        assert order.status is S.COMPLETED
        completed = [e for e in order.events if isinstance(e, o.OrderCompleted)]
        assert completed[0].automatic is True

    def test_one_version_step_per_unit_of_work(self) -> None:
        order = order_in(S.DEPOSITED)
        before = order.version
        order.start_purchasing(STAFF, NOW)
        order.update_services(CUSTOMER, [C.FAST_ORDER], NOW)
        assert order.version == before + 1
        assert {e.order_version for e in order.events if isinstance(e, o.OrderEvent)} == {
            before + 1
        }
