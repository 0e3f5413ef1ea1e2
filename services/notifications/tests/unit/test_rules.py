"""The rules table (spec §6): who hears about which event, and the topology agrees."""

from __future__ import annotations

import pytest

from azl_contracts import Event, versions
from azl_contracts import complaints as c
from azl_contracts import fees as f
from azl_contracts import notifications as n
from azl_contracts import orders as o
from azl_contracts.common import OrderStatus
from azl_contracts.topology import EVENTS_EXCHANGE, messages_for, queues_of
from notifications.domain import StaffDirectory
from notifications.handlers import Context, build_handlers
from notifications.rules import RULES, Audience, events_with_rules, rules_for, templates
from notifications.templates import Renderer
from notifications.texts import CATALOG

from .conftest import CUSTOMER, STAFF, message, note, samples

W = Audience.SUBSCRIBERS


def audiences(event: Event) -> dict[Audience, list[str | None]]:
    found: dict[Audience, list[str | None]] = {}
    for rule in rules_for(event):
        found.setdefault(rule.audience, []).append(rule.template)
    return found


def first(kind: type[Event], **where: object) -> Event:
    return next(
        e
        for e in samples()
        if type(e) is kind and all(getattr(e, k) == v for k, v in where.items())
    )


def test_every_command_and_bound_event_has_a_handler() -> None:
    handlers = build_handlers(Context(StaffDirectory(), Renderer()))
    assert handlers.uncovered("notifications") == []


def test_the_queues_bind_exactly_the_events_the_rules_name() -> None:
    bound = {
        versions.current(m)  # a legacy version arrives on its current version's key
        for queue in queues_of("notifications")
        if queue.exchange == EVENTS_EXCHANGE
        for m in messages_for(queue)
    }
    from_others = {e for e in events_with_rules() if e.owner() != "notifications"}
    assert bound == from_others


# spec §6: the customer hears about ...
CUSTOMER_EVENTS = [
    (o.OrderDeposited, {}, "order_deposited"),
    (o.PurchasingStarted, {}, "purchasing_started"),
    (o.ItemsChanged, {}, "items_awaiting_confirmation"),
    (o.OrderPurchased, {}, "order_purchased"),
    (o.ShippingAdvanced, {"to_status": OrderStatus.SELLER_SHIPPED}, "shipping_advanced"),
    (o.OrderDelivered, {}, "order_delivered"),
    (o.OrderCancelled, {"cancelled_from": OrderStatus.DEPOSITED}, "order_cancelled"),
    (
        o.OrderCancelled,
        {"cancelled_from": OrderStatus.CANCELLATION_REQUESTED},
        "cancellation_approved",
    ),
    (o.CancellationRejected, {}, "cancellation_rejected"),
    (f.FeeCharged, {"on_completion": True}, "fee_charged"),
    (c.ComplaintOpened, {}, "complaint_opened"),
    (c.ComplaintReviewStarted, {}, "complaint_review_started"),
    (c.ComplaintInfoRequested, {}, "complaint_info_requested"),
    (c.ComplaintCommentAdded, {"actor": STAFF}, "complaint_comment_from_staff"),
    (c.ComplaintResolved, {}, "complaint_resolved"),
    (n.MessagePosted, {"author": STAFF}, "message_from_staff"),
    (n.NoteAdded, {"visibility": n.NoteVisibility.CUSTOMER}, "note_for_customer"),
]

# ... and staff about these
STAFF_EVENTS = [
    (n.MessagePosted, {"author": CUSTOMER}, "message_from_customer"),
    (c.ComplaintOpened, {}, "complaint_opened_for_staff"),
    (o.CancellationRequested, {}, "cancellation_requested"),
    (c.ComplaintInfoProvided, {}, "complaint_info_provided"),
    (c.ComplaintCommentAdded, {"actor": CUSTOMER}, "complaint_comment_from_customer"),
    (c.ComplaintWithdrawn, {}, "complaint_withdrawn"),
]


@pytest.mark.parametrize(("kind", "where", "template"), CUSTOMER_EVENTS)
def test_the_customer_hears_about(
    kind: type[Event], where: dict[str, object], template: str
) -> None:
    assert audiences(first(kind, **where)).get(Audience.CUSTOMER) == [template]


@pytest.mark.parametrize(("kind", "where", "template"), STAFF_EVENTS)
def test_staff_hear_about(kind: type[Event], where: dict[str, object], template: str) -> None:
    assert audiences(first(kind, **where)).get(Audience.STAFF) == [template]


SPEC_ROWS = {(kind, Audience.CUSTOMER, t) for kind, _, t in CUSTOMER_EVENTS} | {
    (kind, Audience.STAFF, t) for kind, _, t in STAFF_EVENTS
}


def test_nobody_else_is_notified() -> None:
    """The tables above are the whole list: no rule notifies anyone beyond them, of any
    other event or with any other template; subscribed systems get events, not texts."""
    notifying = {(r.event, r.audience, r.template) for r in RULES if r.audience is not W}
    assert notifying == SPEC_ROWS
    assert {r.template for r in RULES if r.audience is W} == {None}
    assert set(templates()) == {t for _, _, t in SPEC_ROWS}


def test_every_listed_row_is_reached_and_nothing_else() -> None:
    """Applied to a sample of every event (each guard both ways), the rules give exactly
    the listed rows."""
    given = {
        (type(event), rule.audience, rule.template)
        for event in samples()
        for rule in rules_for(event)
        if rule.audience is not W
    }
    assert given == SPEC_ROWS


def test_customer_visible_notes_reach_the_customer() -> None:
    shared = note(n.NoteVisibility.CUSTOMER, "x")
    assert audiences(shared) == {
        Audience.CUSTOMER: ["note_for_customer"],
        Audience.SUBSCRIBERS: [None],
    }


def test_a_private_note_matches_no_rule_at_all() -> None:
    """Private notes are never published; even if one were, no rule would route it."""
    assert rules_for(note(n.NoteVisibility.PRIVATE, "x")) == ()


def test_delivery_is_one_notification_not_two() -> None:
    """Reaching ``delivered`` publishes shipping-advanced and delivered: one is enough."""
    step = first(o.ShippingAdvanced, to_status=OrderStatus.DELIVERED)
    assert Audience.CUSTOMER not in audiences(step)
    assert audiences(first(o.OrderDelivered))[Audience.CUSTOMER] == ["order_delivered"]


def test_fees_charged_at_order_time_are_not_announced_to_the_customer() -> None:
    at_order = first(f.FeeCharged, on_completion=False)
    assert audiences(at_order) == {Audience.SUBSCRIBERS: [None]}


def test_authors_are_not_notified_of_their_own_messages() -> None:
    assert Audience.STAFF not in audiences(message(STAFF, "x"))
    assert Audience.CUSTOMER not in audiences(message(CUSTOMER, "x"))


def test_subscribed_systems_can_receive_every_event_the_rules_name() -> None:
    for event in samples():
        assert Audience.SUBSCRIBERS in audiences(event), type(event).__name__


def test_every_template_exists_in_both_languages() -> None:
    for rule in RULES:
        if rule.template is not None:
            assert set(CATALOG[rule.template]) == {"vi", "en"}, rule.template
