"""Every order command in every order status: allowed, or refused with the spec's reason
(spec §3, and §4 for the services), changing nothing; and every customer command refused
to another customer, whatever the status.

The expected statuses are written out from the spec here, not taken from the domain's own
constants, so a rule changed in the code alone cannot go unseen.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest

from azl_contracts import Actor
from azl_contracts import orders as o
from azl_contracts.common import DeliveryAddress, OrderStatus, ServiceCode
from azl_kit.errors import DomainError, Forbidden, InvalidState
from orders.domain import Order, ServiceLocked

from .conftest import CUSTOMER, NOW, OTHER_CUSTOMER, STAFF, SYSTEM, order_in

S = OrderStatus
C = ServiceCode

PACKAGE = o.PackageDetails(
    package_code="PK-1",
    tracking_number="SF1",
    weight_kg=Decimal("1.5"),
    length_cm=Decimal(30),
    width_cm=Decimal(20),
    height_cm=Decimal(10),
)
SHIPPING = {
    S.SELLER_SHIPPED,
    S.IN_CHINA_WAREHOUSE,
    S.IN_TRANSIT,
    S.IN_VIETNAM_WAREHOUSE,
    S.DELIVERING,
    S.DELIVERED,
}
LOCKED_FROM_IN_TRANSIT = {S.IN_TRANSIT, S.IN_VIETNAM_WAREHOUSE, S.DELIVERING, S.DELIVERED}


def _first(order: Order) -> o.ItemQuantity:
    return o.ItemQuantity(item_id=order.items[0].item_id, add=1)


def _new_address(order: Order) -> DeliveryAddress:
    return order.delivery_address.model_copy(update={"address_line": "99 Nguyễn Huệ"})


@dataclass(frozen=True)
class Rule:
    command: str
    run: Callable[[Order, Actor], None]
    allowed: frozenset[OrderStatus]
    locked: frozenset[OrderStatus] = frozenset()  # service_locked rather than invalid_state
    services: tuple[ServiceCode, ...] = ()  # selected at placement
    customer_command: bool = False

    def refusal(self, status: OrderStatus) -> type[DomainError] | None:
        if status in self.allowed:
            return None
        return ServiceLocked if status in self.locked else InvalidState


def rule(
    command: str,
    run: Callable[[Order, Actor], None],
    allowed: set[OrderStatus],
    *,
    locked: set[OrderStatus] | None = None,
    services: tuple[ServiceCode, ...] = (),
    customer_command: bool = False,
) -> Rule:
    return Rule(
        command, run, frozenset(allowed), frozenset(locked or ()), services, customer_command
    )


RULES = [
    rule(
        "cancel-order",
        lambda order, actor: order.cancel(actor, "changed my mind", NOW),
        {S.AWAITING_DEPOSIT, S.DEPOSITED, S.PURCHASING, S.AWAITING_CONFIRMATION, S.PURCHASED},
        customer_command=True,
    ),
    rule(
        "approve-cancellation",
        lambda order, actor: order.approve_cancellation(actor, None, NOW),
        {S.CANCELLATION_REQUESTED},
    ),
    rule(
        "reject-cancellation",
        lambda order, actor: order.reject_cancellation(actor, "already shipped", NOW),
        {S.CANCELLATION_REQUESTED},
    ),
    rule(
        "increase-quantities",
        lambda order, actor: order.increase_quantities(actor, [_first(order)], NOW),
        {S.DEPOSITED, S.PURCHASING},
        customer_command=True,
    ),
    rule(
        "start-purchasing",
        lambda order, actor: order.start_purchasing(actor, NOW),
        {S.DEPOSITED},
    ),
    rule(
        "report-item-change",
        lambda order, actor: order.report_item_change(
            actor, [o.ItemChange(item_id=order.items[0].item_id, new_quantity=9)], NOW
        ),
        {S.PURCHASING, S.AWAITING_CONFIRMATION},
    ),
    rule(
        "confirm-items",
        lambda order, actor: order.confirm_items(actor, [order.items[0].item_id], NOW),
        {S.AWAITING_CONFIRMATION},
        customer_command=True,
    ),
    rule(
        "decline-items",
        lambda order, actor: order.decline_items(actor, [order.items[0].item_id], NOW),
        {S.AWAITING_CONFIRMATION},
        customer_command=True,
    ),
    rule(
        "mark-items-ordered",
        lambda order, actor: order.mark_items_ordered(actor, [order.items[0].item_id], NOW),
        {S.PURCHASING},
    ),
    rule(
        "update-services: add an at-order service",
        lambda order, actor: order.update_services(actor, [C.INSURANCE], NOW),
        {S.DEPOSITED, S.PURCHASING, S.AWAITING_CONFIRMATION},
        locked={S.PURCHASED} | SHIPPING,
        customer_command=True,
    ),
    rule(
        "update-services: remove an at-order service",
        lambda order, actor: order.update_services(actor, [], NOW),
        {S.DEPOSITED},
        locked={S.PURCHASING, S.AWAITING_CONFIRMATION, S.PURCHASED} | SHIPPING,
        services=(C.INSURANCE,),
    ),
    rule(
        "update-services: add an on-completion service",
        lambda order, actor: order.update_services(actor, [C.WOODEN_CRATE], NOW),
        {
            S.DEPOSITED,
            S.PURCHASING,
            S.AWAITING_CONFIRMATION,
            S.PURCHASED,
            S.SELLER_SHIPPED,
            S.IN_CHINA_WAREHOUSE,
        },
        locked=LOCKED_FROM_IN_TRANSIT,
    ),
    rule(
        "update-services: remove an on-completion service",
        lambda order, actor: order.update_services(actor, [], NOW),
        {
            S.DEPOSITED,
            S.PURCHASING,
            S.AWAITING_CONFIRMATION,
            S.PURCHASED,
            S.SELLER_SHIPPED,
            S.IN_CHINA_WAREHOUSE,
        },
        locked=LOCKED_FROM_IN_TRANSIT,
        services=(C.BUBBLE_WRAP,),
    ),
    rule(
        "update-delivery-address",
        lambda order, actor: order.update_delivery_address(actor, _new_address(order), NOW),
        set(S) - {S.DELIVERING, S.DELIVERED, S.COMPLETED, S.CANCELLED},
        customer_command=True,
    ),
    rule(
        "record-package",
        lambda order, actor: order.record_package(PACKAGE, NOW),
        {S.SELLER_SHIPPED, S.IN_CHINA_WAREHOUSE, S.IN_TRANSIT, S.IN_VIETNAM_WAREHOUSE},
    ),
    rule(
        "advance-shipping (to delivered)",
        lambda order, actor: order.advance_shipping(actor, S.DELIVERED, NOW),
        {S.PURCHASED} | (SHIPPING - {S.DELIVERED}),
    ),
    rule(
        "confirm-received",
        lambda order, actor: order.confirm_received(actor, NOW),
        {S.DELIVERED},
        customer_command=True,
    ),
]
ACTOR = {
    "approve-cancellation": STAFF,
    "reject-cancellation": STAFF,
    "start-purchasing": STAFF,
    "report-item-change": STAFF,
    "mark-items-ordered": STAFF,
    "record-package": SYSTEM,
    "advance-shipping (to delivered)": SYSTEM,
}


def cases(rules: list[Rule]) -> list[tuple[Rule, OrderStatus]]:
    return [(r, status) for r in rules for status in S]


def case_id(value: object) -> str:
    return value.command if isinstance(value, Rule) else str(value)


@pytest.mark.parametrize(("rule", "status"), cases(RULES), ids=case_id)
def test_each_command_in_each_status(rule: Rule, status: OrderStatus) -> None:
    order = order_in(status, services=[s.value for s in rule.services])
    before = copy.deepcopy(order)
    refusal = rule.refusal(status)
    actor = ACTOR.get(rule.command, CUSTOMER)
    if refusal is None:
        rule.run(order, actor)
        assert order.events, f"{rule.command} in {status.value} recorded nothing"
        assert order.version == before.version + 1
        return
    with pytest.raises(DomainError) as refused:
        rule.run(order, actor)
    assert type(refused.value) is refusal, refused.value
    assert order == before
    assert order.events == []


CUSTOMER_RULES = [r for r in RULES if r.customer_command]


def test_the_customer_commands_are_the_specs() -> None:
    assert {r.command.split(":")[0] for r in CUSTOMER_RULES} == {
        "cancel-order",
        "increase-quantities",
        "confirm-items",
        "decline-items",
        "update-services",
        "update-delivery-address",
        "confirm-received",
    }


@pytest.mark.parametrize(("rule", "status"), cases(CUSTOMER_RULES), ids=case_id)
def test_another_customer_is_forbidden_in_every_status(rule: Rule, status: OrderStatus) -> None:
    order = order_in(status, services=[s.value for s in rule.services])
    before = copy.deepcopy(order)
    with pytest.raises(Forbidden):
        rule.run(order, OTHER_CUSTOMER)
    assert order == before
    assert order.events == []
