"""The notifications read API, scoped by the caller's JWT.

- ``GET /notifications``, ``GET /notifications/unread-count``: the caller's in-app inbox (a
  customer's own; staff share the staff inbox). Marking read is the ``mark-read`` command.
- ``GET /orders/{order_id}/conversation``: messages and notes in order. Private notes are
  returned to staff only; a customer sees only its own orders (others are 404).
- ``GET /preferences``: the calling customer's preferences.
- ``GET /webhooks``, ``GET /deliveries``: subscriptions and the delivery log with every
  attempt: all of them for staff; for a system only the subscriptions it made and their
  webhook deliveries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import pydantic
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, and_, func, select, true

from azl_contracts import Actor, ActorRole
from azl_contracts.common import Language
from azl_contracts.notifications import Channel, NoteVisibility
from azl_kit.auth import CurrentPrincipal, Principal
from azl_kit.http import DbConnection, Page

from .domain import (
    CustomerPreferences,
    Delivery,
    DeliveryStatus,
    EntryKind,
    may_read_private_notes,
    sees_every_subscription,
)
from .domain import inbox_of as domain_inbox_of
from .storage import (
    conversation_table,
    deliveries_table,
    delivery_attempts_table,
    delivery_fields,
    notifications_table,
    order_recipients_table,
    preferences_from_row,
    preferences_table,
    subscriptions_table,
)

router = APIRouter(tags=["notifications"])


# --- the inbox ------------------------------------------------------------------------------


class InboxItem(BaseModel):
    notification_id: UUID
    order_id: UUID | None
    template: str
    language: Language
    title: str
    body: str
    channels: list[Channel]
    source_event_type: str
    created_at: datetime
    read_at: datetime | None


class InboxPage(BaseModel):
    items: list[InboxItem]
    unread: int
    total: int
    page: int
    page_size: int


class UnreadCount(BaseModel):
    unread: int


def _inbox_of(principal: Principal) -> ColumnElement[bool]:
    recipient_id, role = domain_inbox_of(Actor(id=principal.id, role=principal.role))
    return and_(
        notifications_table.c.recipient_role == role.value,
        notifications_table.c.recipient_id == recipient_id,
    )


@router.get("/notifications", response_model=InboxPage)
async def inbox(
    principal: CurrentPrincipal,
    conn: DbConnection,
    unread_only: bool = False,
    order_id: UUID | None = None,
    page: Page = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> InboxPage:
    """The caller's notifications, newest first, with the unread count."""
    clauses = [_inbox_of(principal)]
    if order_id is not None:
        clauses.append(notifications_table.c.order_id == order_id)
    listed = list(clauses)
    if unread_only:
        listed.append(notifications_table.c.read_at.is_(None))
    rows = (
        await conn.execute(
            select(notifications_table)
            .where(*listed)
            .order_by(notifications_table.c.seq.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    ).all()
    total = await conn.scalar(select(func.count()).select_from(notifications_table).where(*listed))
    unread = await conn.scalar(
        select(func.count())
        .select_from(notifications_table)
        .where(*clauses, notifications_table.c.read_at.is_(None))
    )
    return InboxPage(
        items=[
            InboxItem(
                notification_id=r.notification_id,
                order_id=r.order_id,
                template=r.template,
                language=Language(r.language),
                title=r.title,
                body=r.body,
                channels=[Channel(c) for c in r.channels],
                source_event_type=r.source_event_type,
                created_at=r.created_at,
                read_at=r.read_at,
            )
            for r in rows
        ],
        unread=unread or 0,
        total=total or 0,
        page=page,
        page_size=page_size,
    )


@router.get("/notifications/unread-count", response_model=UnreadCount)
async def unread_count(principal: CurrentPrincipal, conn: DbConnection) -> UnreadCount:
    unread = await conn.scalar(
        select(func.count())
        .select_from(notifications_table)
        .where(_inbox_of(principal), notifications_table.c.read_at.is_(None))
    )
    return UnreadCount(unread=unread or 0)


# --- the conversation ---------------------------------------------------------------------------


class Author(BaseModel):
    id: str
    role: ActorRole


class ConversationItem(BaseModel):
    entry_id: UUID
    kind: EntryKind
    visibility: NoteVisibility
    author: Author
    body: str
    created_at: datetime


class Conversation(BaseModel):
    order_id: UUID
    order_code: str
    entries: list[ConversationItem]


@router.get("/orders/{order_id}/conversation", response_model=Conversation)
async def conversation(
    principal: CurrentPrincipal, conn: DbConnection, order_id: UUID
) -> Conversation:
    """Messages and notes of the order, oldest first. Private notes: staff only."""
    order = (
        await conn.execute(
            select(order_recipients_table).where(order_recipients_table.c.order_id == order_id)
        )
    ).first()
    if order is None or not principal.may_see(order.customer_id):
        raise HTTPException(404, "order not found")
    query = select(conversation_table).where(conversation_table.c.order_id == order_id)
    if not may_read_private_notes(principal.role):
        query = query.where(conversation_table.c.visibility == NoteVisibility.CUSTOMER.value)
    rows = (await conn.execute(query.order_by(conversation_table.c.seq))).all()
    return Conversation(
        order_id=order_id,
        order_code=order.order_code,
        entries=[
            ConversationItem(
                entry_id=r.entry_id,
                kind=EntryKind(r.kind),
                visibility=NoteVisibility(r.visibility),
                author=Author(id=r.author_id, role=ActorRole(r.author_role)),
                body=r.body,
                created_at=r.created_at,
            )
            for r in rows
        ],
    )


# --- preferences ------------------------------------------------------------------------------


class PreferencesView(BaseModel):
    customer_id: str
    email: str | None
    language: Language
    channels: list[Channel]


@router.get("/preferences", response_model=PreferencesView)
async def preferences(principal: CurrentPrincipal, conn: DbConnection) -> PreferencesView:
    """The calling customer's preferences (the defaults until it sets them)."""
    if not principal.is_customer:
        raise HTTPException(403, "preferences belong to customers")
    row = (
        await conn.execute(
            select(preferences_table).where(preferences_table.c.customer_id == principal.id)
        )
    ).first()
    prefs = CustomerPreferences(principal.id) if row is None else preferences_from_row(row)
    return PreferencesView(
        customer_id=prefs.customer_id,
        email=prefs.email,
        language=prefs.language,
        channels=sorted(prefs.channels),
    )


# --- for staff and systems: subscriptions and the delivery log -----------------------------------


def _staff_or_system(principal: Principal) -> None:
    if principal.is_customer:
        raise HTTPException(403, "for staff and systems")


def _subscriptions_of(principal: Principal) -> ColumnElement[bool]:
    """The subscriptions the caller may see: all for staff, a system's own otherwise."""
    if sees_every_subscription(principal.role):
        return true()
    return and_(
        subscriptions_table.c.created_by_role == principal.role.value,
        subscriptions_table.c.created_by_id == principal.id,
    )


def _owned_subscription_ids(principal: Principal) -> Select[tuple[UUID]]:
    return select(subscriptions_table.c.subscription_id).where(_subscriptions_of(principal))


def _deliveries_of(principal: Principal) -> ColumnElement[bool]:
    if sees_every_subscription(principal.role):
        return true()
    return deliveries_table.c.subscription_id.in_(_owned_subscription_ids(principal))


class SubscriptionView(BaseModel):
    subscription_id: UUID
    url: str
    event_types: list[str]
    active: bool
    created_by: Author
    created_at: datetime
    unsubscribed_at: datetime | None


@router.get("/webhooks", response_model=list[SubscriptionView])
async def webhooks(principal: CurrentPrincipal, conn: DbConnection) -> list[SubscriptionView]:
    """Webhook subscriptions, newest first (their secrets are never shown): every one for
    staff, a system's own for a system."""
    _staff_or_system(principal)
    rows = (
        await conn.execute(
            select(subscriptions_table)
            .where(_subscriptions_of(principal))
            .order_by(subscriptions_table.c.created_at.desc())
        )
    ).all()
    return [
        SubscriptionView(
            subscription_id=r.subscription_id,
            url=r.url,
            event_types=list(r.event_types),
            active=r.active,
            created_by=Author(id=r.created_by_id, role=ActorRole(r.created_by_role)),
            created_at=r.created_at,
            unsubscribed_at=r.unsubscribed_at,
        )
        for r in rows
    ]


class AttemptView(BaseModel):
    attempt: int
    outcome: str
    status_code: int | None
    error: str | None
    started_at: datetime
    finished_at: datetime


@pydantic.dataclasses.dataclass(frozen=True, kw_only=True)
class DeliveryView(Delivery):
    """A delivery as the read API lists it: its row (``domain.Delivery``) and its state."""

    template: str | None
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    attempt_log: list[AttemptView]


class DeliveryPage(BaseModel):
    items: list[DeliveryView]
    total: int
    page: int
    page_size: int


@router.get("/deliveries", response_model=DeliveryPage)
async def deliveries(
    principal: CurrentPrincipal,
    conn: DbConnection,
    order_id: UUID | None = None,
    subscription_id: UUID | None = None,
    status: DeliveryStatus | None = None,
    channel: Channel | None = None,
    page: Page = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
) -> DeliveryPage:
    """Email and webhook deliveries, oldest first, each with its log of attempts: every one
    for staff, the webhooks of its own subscriptions for a system."""
    _staff_or_system(principal)
    clauses: list[ColumnElement[bool]] = [_deliveries_of(principal)]
    if order_id is not None:
        clauses.append(deliveries_table.c.order_id == order_id)
    if subscription_id is not None:
        clauses.append(deliveries_table.c.subscription_id == subscription_id)
    if status is not None:
        clauses.append(deliveries_table.c.status == status.value)
    if channel is not None:
        clauses.append(deliveries_table.c.channel == channel.value)
    where = and_(True, *clauses)
    rows = (
        await conn.execute(
            select(deliveries_table)
            .where(where)
            .order_by(deliveries_table.c.created_at, deliveries_table.c.delivery_id)
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    ).all()
    total = await conn.scalar(select(func.count()).select_from(deliveries_table).where(where))
    attempts = (
        (
            await conn.execute(
                select(delivery_attempts_table)
                .where(delivery_attempts_table.c.delivery_id.in_([r.delivery_id for r in rows]))
                .order_by(delivery_attempts_table.c.attempt)
            )
        ).all()
        if rows
        else []
    )
    log: dict[UUID, list[AttemptView]] = {}
    for a in attempts:
        log.setdefault(a.delivery_id, []).append(
            AttemptView(
                attempt=a.attempt,
                outcome=a.outcome,
                status_code=a.status_code,
                error=a.error,
                started_at=a.started_at,
                finished_at=a.finished_at,
            )
        )
    return DeliveryPage(
        items=[
            DeliveryView(
                **delivery_fields(r),
                template=r.payload.get("template"),
                status=DeliveryStatus(r.status),
                attempts=r.attempts,
                last_error=r.last_error,
                next_attempt_at=r.next_attempt_at,
                created_at=r.created_at,
                sent_at=r.sent_at,
                attempt_log=log.get(r.delivery_id, []),
            )
            for r in rows
        ],
        total=total or 0,
        page=page,
        page_size=page_size,
    )
