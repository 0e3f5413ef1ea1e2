"""The conversation on an order: messages and notes, who may write what, and what each
entry publishes. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from azl_contracts import Actor, ActorRole, Event
from azl_contracts import notifications as contract
from azl_contracts.notifications import MAX_BODY, NoteVisibility
from azl_kit.errors import Duplicate, Forbidden, NotFound, ValidationFailed


class OrderNotKnown(NotFound):
    """The order was never placed, as far as notifications has heard."""


class NotYourOrder(Forbidden):
    pass


class BlankBody(ValidationFailed):
    pass


class BodyTooLong(ValidationFailed):
    pass


class EntryExists(Duplicate):
    pass


class EntryKind(StrEnum):
    MESSAGE = "message"
    NOTE = "note"


@dataclass(frozen=True)
class KnownOrder:
    order_id: UUID
    customer_id: str
    order_code: str


@dataclass(frozen=True)
class ConversationEntry:
    entry_id: UUID
    order_id: UUID
    kind: EntryKind
    visibility: NoteVisibility
    author: Actor
    body: str
    created_at: datetime

    @property
    def private(self) -> bool:
        return self.visibility is NoteVisibility.PRIVATE


def checked_body(body: str) -> str:
    text = body.strip()
    if not text:
        raise BlankBody("the body is empty")
    if len(text) > MAX_BODY:
        raise BodyTooLong(f"the body is over {MAX_BODY} characters", length=len(text))
    return text


def known(order: KnownOrder | None, order_id: UUID) -> KnownOrder:
    if order is None:
        raise OrderNotKnown(f"order {order_id} does not exist", order_id=str(order_id))
    return order


def post_message(
    command: contract.PostMessage, order: KnownOrder | None, now: datetime
) -> ConversationEntry:
    """A customer writes about its own order; staff about any order."""
    order = known(order, command.order_id)
    if command.actor.role is ActorRole.CUSTOMER and command.actor.id != order.customer_id:
        raise NotYourOrder("the order belongs to another customer", order_id=str(order.order_id))
    return ConversationEntry(
        entry_id=command.message_id or uuid4(),
        order_id=order.order_id,
        kind=EntryKind.MESSAGE,
        visibility=NoteVisibility.CUSTOMER,
        author=command.actor,
        body=checked_body(command.body),
        created_at=now,
    )


def add_note(
    command: contract.AddNote, order: KnownOrder | None, now: datetime
) -> ConversationEntry:
    order = known(order, command.order_id)
    if command.actor.role is not ActorRole.STAFF:  # the contract says so too
        raise Forbidden("only staff add notes")
    return ConversationEntry(
        entry_id=command.note_id or uuid4(),
        order_id=order.order_id,
        kind=EntryKind.NOTE,
        visibility=command.visibility,
        author=command.actor,
        body=checked_body(command.body),
        created_at=now,
    )


def published(entry: ConversationEntry, order: KnownOrder) -> Event | None:
    """The event an entry publishes; a private note publishes nothing, ever."""
    if entry.kind is EntryKind.MESSAGE:
        return contract.MessagePosted(
            occurred_at=entry.created_at,
            message_id=entry.entry_id,
            order_id=entry.order_id,
            customer_id=order.customer_id,
            author=entry.author,
            body=entry.body,
        )
    if entry.private:
        return None
    return contract.NoteAdded(
        occurred_at=entry.created_at,
        note_id=entry.entry_id,
        order_id=entry.order_id,
        customer_id=order.customer_id,
        author=entry.author,
        body=entry.body,
        visibility=entry.visibility,
    )


def may_read_private_notes(role: ActorRole) -> bool:
    """Only staff: customers never, and neither do systems (a storefront is customer-facing)."""
    return role is ActorRole.STAFF
