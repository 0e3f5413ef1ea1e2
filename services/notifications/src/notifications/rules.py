"""Who hears about what: a table from event type to audience and template (data, not ifs).

Each row says: when this event happens (and its guard holds), this audience gets a
notification rendered from this template. ``SUBSCRIBERS`` rows have no template: subscribed
systems receive the event itself, signed, when one of their routing-key patterns matches.

Audiences:
- ``CUSTOMER``: the order's customer — in-app inbox always, email when their preferences say
  so, in their language;
- ``STAFF``: the shared staff inbox (any staff JWT reads it) and the configured staff
  addresses (``AZL_STAFF_EMAILS``), in ``AZL_STAFF_LANGUAGE``;
- ``SUBSCRIBERS``: every webhook subscription whose patterns match the event's routing key.

Private notes publish no event, so no row can ever route one anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from azl_contracts import ActorRole, Event
from azl_contracts import complaints as c
from azl_contracts import fees as f
from azl_contracts import notifications as n
from azl_contracts import orders as o
from azl_contracts.common import OrderStatus


class Audience(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    SUBSCRIBERS = "subscribers"


Guard = Callable[[Any], bool]


def always(_event: Any) -> bool:
    return True


def by_customer(event: Any) -> bool:
    """The event's author (messages) or actor (complaint steps) is the customer."""
    who = getattr(event, "author", None) or event.actor
    return bool(who.role is ActorRole.CUSTOMER)


def by_staff(event: Any) -> bool:
    return not by_customer(event)


def a_shipping_step_before_delivery(event: Any) -> bool:
    """Delivery has a notification of its own (``orders.order.delivered``)."""
    return bool(event.to_status is not OrderStatus.DELIVERED)


def cancelled_directly(event: Any) -> bool:
    return bool(event.cancelled_from is not OrderStatus.CANCELLATION_REQUESTED)


def cancellation_approved(event: Any) -> bool:
    return not cancelled_directly(event)


def charged_on_completion(event: Any) -> bool:
    return bool(event.on_completion)


def visible_to_customer(event: Any) -> bool:
    return bool(event.visibility is n.NoteVisibility.CUSTOMER)


@dataclass(frozen=True)
class Rule:
    event: type[Event]
    audience: Audience
    template: str | None = None
    when: Guard = always


C, S, W = Audience.CUSTOMER, Audience.STAFF, Audience.SUBSCRIBERS

RULES: tuple[Rule, ...] = (
    # --- orders ---------------------------------------------------------------------------
    Rule(o.OrderPlaced, W),
    Rule(o.OrderDeposited, C, "order_deposited"),
    Rule(o.OrderDeposited, W),
    Rule(o.PurchasingStarted, C, "purchasing_started"),
    Rule(o.PurchasingStarted, W),
    Rule(o.ItemsChanged, C, "items_awaiting_confirmation"),
    Rule(o.ItemsChanged, W),
    Rule(o.OrderPurchased, C, "order_purchased"),
    Rule(o.OrderPurchased, W),
    Rule(o.ShippingAdvanced, C, "shipping_advanced", a_shipping_step_before_delivery),
    Rule(o.ShippingAdvanced, W),
    Rule(o.OrderDelivered, C, "order_delivered"),
    Rule(o.OrderDelivered, W),
    Rule(o.OrderCancelled, C, "order_cancelled", cancelled_directly),
    Rule(o.OrderCancelled, C, "cancellation_approved", cancellation_approved),
    Rule(o.OrderCancelled, W),
    Rule(o.CancellationRequested, S, "cancellation_requested"),
    Rule(o.CancellationRequested, W),
    Rule(o.CancellationRejected, C, "cancellation_rejected"),
    Rule(o.CancellationRejected, W),
    # --- fees -----------------------------------------------------------------------------
    Rule(f.FeeCharged, C, "fee_charged", charged_on_completion),
    Rule(f.FeeCharged, W),
    # --- complaints -----------------------------------------------------------------------
    Rule(c.ComplaintOpened, C, "complaint_opened"),
    Rule(c.ComplaintOpened, S, "complaint_opened_for_staff"),
    Rule(c.ComplaintOpened, W),
    Rule(c.ComplaintReviewStarted, C, "complaint_review_started"),
    Rule(c.ComplaintReviewStarted, W),
    Rule(c.ComplaintInfoRequested, C, "complaint_info_requested"),
    Rule(c.ComplaintInfoRequested, W),
    Rule(c.ComplaintInfoProvided, S, "complaint_info_provided"),
    Rule(c.ComplaintInfoProvided, W),
    Rule(c.ComplaintCommentAdded, C, "complaint_comment_from_staff", by_staff),
    Rule(c.ComplaintCommentAdded, S, "complaint_comment_from_customer", by_customer),
    Rule(c.ComplaintCommentAdded, W),
    Rule(c.ComplaintResolved, C, "complaint_resolved"),
    Rule(c.ComplaintResolved, W),
    Rule(c.ComplaintWithdrawn, S, "complaint_withdrawn"),
    Rule(c.ComplaintWithdrawn, W),
    # --- the conversation (this service's own events) ---------------------------------------
    Rule(n.MessagePosted, C, "message_from_staff", by_staff),
    Rule(n.MessagePosted, S, "message_from_customer", by_customer),
    Rule(n.MessagePosted, W),
    Rule(n.NoteAdded, C, "note_for_customer", visible_to_customer),
    Rule(n.NoteAdded, W, when=visible_to_customer),
)


def rules_for(event: Event) -> tuple[Rule, ...]:
    return tuple(rule for rule in RULES if rule.event is type(event) and rule.when(event))


def events_with_rules() -> list[type[Event]]:
    return list(dict.fromkeys(rule.event for rule in RULES))


def subscribable_routing_keys() -> list[str]:
    """Routing keys a webhook subscription can receive."""
    return list(dict.fromkeys(rule.event.routing_key() for rule in RULES if rule.audience is W))


def templates() -> list[str]:
    return list(dict.fromkeys(rule.template for rule in RULES if rule.template is not None))
