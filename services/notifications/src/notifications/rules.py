"""Who hears about what: a table from event type to recipients and template (data, not ifs)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from azl_contracts import Event
from azl_contracts import orders as order_events


class Recipient(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"


@dataclass(frozen=True)
class Rule:
    recipient: Recipient
    template: str


RULES: dict[type[Event], tuple[Rule, ...]] = {
    order_events.OrderDeposited: (Rule(Recipient.CUSTOMER, "order_deposited"),),
    order_events.OrderCancelled: (Rule(Recipient.CUSTOMER, "order_cancelled"),),
}


def rules_for(event: Event) -> tuple[Rule, ...]:
    return RULES.get(type(event), ())
