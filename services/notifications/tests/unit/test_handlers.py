"""The notifications handlers' rules, on in-memory fakes (no broker, no database): every
event its queues bind has a handler; an event notifies each recipient once per channel,
however often it is handled; the conversation, preferences, inbox and subscriptions refuse
what they must with their reason codes."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from azl_testing.fakes import handle

from azl_contracts import Actor, ActorRole, Event, ReasonCode
from azl_contracts import notifications as n
from azl_contracts import orders as o
from azl_contracts.common import Language
from azl_contracts.notifications import Channel, NoteVisibility
from azl_kit.errors import DomainError, RetryLater
from azl_kit.handlers import Handlers
from azl_kit.outcomes import Rejection
from azl_kit.waiting import Waits
from notifications import ports
from notifications.domain import STAFF_INBOX, CustomerPreferences, StaffDirectory
from notifications.handlers import Context, build_handlers
from notifications.templates import Renderer

from .conftest import CUSTOMER, ORDER_ID, STAFF, samples
from .fakes import FakeUnitOfWork

OTHER_CUSTOMER = Actor(id="cust-2", role=ActorRole.CUSTOMER)
PARTNER = Actor(id="partner-1", role=ActorRole.SYSTEM)
STAFF_EMAIL = "ops@azlogistic.vn"


def build(waits: Waits | None = None) -> Handlers[ports.UnitOfWork]:
    context = Context(
        staff=StaffDirectory(emails=(STAFF_EMAIL,)),
        renderer=Renderer(),
        waits=waits or Waits(0),
        allow_private_webhook_targets=True,  # no DNS look-up in a unit test
    )
    return build_handlers(context)


@pytest.fixture
def handlers() -> Handlers[ports.UnitOfWork]:
    return build()


def sample(kind: type[Event]) -> Event:
    return next(e for e in samples() if isinstance(e, kind))


def reason(error: pytest.ExceptionInfo[DomainError]) -> ReasonCode:
    return Rejection.of(error.value).reason_code


async def known_order(handlers: Handlers[ports.UnitOfWork], uow: FakeUnitOfWork) -> None:
    await handle(handlers, sample(o.OrderPlaced), uow)
    uow.commit()
    uow.message()


def test_every_command_and_bound_event_has_a_handler() -> None:
    assert build().uncovered("notifications") == []


async def test_an_event_notifies_each_recipient_once_however_often_it_is_handled(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    uow.preferences[CUSTOMER.id] = CustomerPreferences(
        CUSTOMER.id, "an@example.vn", Language.EN, frozenset({Channel.IN_APP, Channel.EMAIL})
    )
    deposited = sample(o.OrderDeposited)
    await handle(handlers, deposited, uow)
    first = uow.commit()
    await handle(handlers, deposited, uow)  # the same message again: the same flow
    assert uow.commit() == []
    (created,) = first
    assert isinstance(created, n.NotificationCreated)
    assert created.recipient == CUSTOMER.id
    assert created.channels == [Channel.IN_APP, Channel.EMAIL]
    assert created.language is Language.EN
    (email,) = uow.deliveries.values()
    assert (email.channel, email.target) == (Channel.EMAIL, "an@example.vn")


async def test_an_order_event_makes_the_order_known_to_the_conversation(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    await known_order(handlers, uow)
    order = uow.orders[ORDER_ID]
    assert (order.customer_id, order.order_code) == (CUSTOMER.id, "AZ12345678")


async def test_a_customer_message_is_posted_published_and_told_to_staff(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    await known_order(handlers, uow)
    command = n.PostMessage(actor=CUSTOMER, order_id=ORDER_ID, body="  Khi nào giao?  ")
    result = await handle(handlers, command, uow)
    assert isinstance(result, n.PostMessageResult)
    posted, *told = uow.commit()
    assert isinstance(posted, n.MessagePosted)
    assert (posted.message_id, posted.body) == (result.message_id, "Khi nào giao?")
    assert [e.recipient for e in told if isinstance(e, n.NotificationCreated)] == [STAFF_INBOX]
    assert {d.target for d in uow.deliveries.values()} == {STAFF_EMAIL}


async def test_the_conversation_refuses_what_it_must(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    await known_order(handlers, uow)
    with pytest.raises(DomainError) as foreign:
        await handle(
            handlers, n.PostMessage(actor=OTHER_CUSTOMER, order_id=ORDER_ID, body="?"), uow
        )
    assert reason(foreign) is ReasonCode.FORBIDDEN
    with pytest.raises(DomainError) as blank:
        await handle(handlers, n.PostMessage(actor=CUSTOMER, order_id=ORDER_ID, body="  "), uow)
    assert reason(blank) is ReasonCode.VALIDATION_ERROR
    message_id = uuid4()
    again = n.PostMessage(actor=STAFF, order_id=ORDER_ID, body="Đã về kho", message_id=message_id)
    await handle(handlers, again, uow)
    with pytest.raises(DomainError) as twice:
        await handle(handlers, again, uow)
    assert reason(twice) is ReasonCode.DUPLICATE


async def test_a_private_note_is_kept_and_publishes_nothing(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    await known_order(handlers, uow)
    note = n.AddNote(
        actor=STAFF, order_id=ORDER_ID, body="khách khó tính", visibility=NoteVisibility.PRIVATE
    )
    result = await handle(handlers, note, uow)
    assert isinstance(result, n.AddNoteResult)
    assert uow.entries[result.note_id].private
    assert uow.commit() == []
    assert uow.deliveries == {}


async def test_a_message_about_an_order_not_heard_of_waits_then_is_not_found() -> None:
    moments = iter([0.0, 10.0])
    handlers = build(Waits(5, clock=lambda: next(moments)))
    uow = FakeUnitOfWork()
    command = n.PostMessage(actor=CUSTOMER, order_id=uuid4(), body="?")
    with pytest.raises(RetryLater):
        await handle(handlers, command, uow)
    with pytest.raises(DomainError) as unknown:
        await handle(handlers, command, uow)
    assert reason(unknown) is ReasonCode.NOT_FOUND


async def test_preferences_are_saved_and_announced_or_refused(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    no_address = n.SetPreferences(actor=CUSTOMER, channels=[Channel.EMAIL])
    with pytest.raises(DomainError) as refused:
        await handle(handlers, no_address, uow)
    assert reason(refused) is ReasonCode.VALIDATION_ERROR
    command = n.SetPreferences(
        actor=CUSTOMER, email="an@example.vn", language=Language.EN, channels=[Channel.EMAIL]
    )
    await handle(handlers, command, uow)
    (updated,) = uow.commit()
    assert isinstance(updated, n.PreferencesUpdated)
    assert updated.channels == [Channel.EMAIL, Channel.IN_APP]
    assert updated.email_set
    assert uow.preferences[CUSTOMER.id].wants_email


async def test_marking_read_only_what_is_in_ones_own_inbox(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    await handle(handlers, sample(o.OrderDeposited), uow)
    (created,) = uow.commit()
    assert isinstance(created, n.NotificationCreated)
    mine = [created.notification_id]
    with pytest.raises(DomainError) as other:
        await handle(handlers, n.MarkRead(actor=OTHER_CUSTOMER, notification_ids=mine), uow)
    assert reason(other) is ReasonCode.NOT_FOUND
    with pytest.raises(DomainError) as nothing:
        await handle(handlers, n.MarkRead(actor=CUSTOMER), uow)
    assert reason(nothing) is ReasonCode.VALIDATION_ERROR
    marked = await handle(handlers, n.MarkRead(actor=CUSTOMER, notification_ids=mine), uow)
    assert marked == n.MarkReadResult(marked=1)
    assert await handle(handlers, n.MarkRead(actor=CUSTOMER, all=True), uow) == n.MarkReadResult(
        marked=0
    )


async def subscribe(
    handlers: Handlers[ports.UnitOfWork], uow: FakeUnitOfWork, subscription_id: UUID
) -> None:
    command = n.SubscribeWebhook(
        actor=PARTNER,
        subscription_id=subscription_id,
        url="https://partner.example/hook",
        secret="s" * 16,
        event_types=["orders.order.*"],
    )
    await handle(handlers, command, uow)


async def test_a_subscription_gets_the_events_it_asked_for_until_it_ends(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    subscription_id = uuid4()
    await subscribe(handlers, uow, subscription_id)
    (subscribed,) = uow.commit()
    assert isinstance(subscribed, n.WebhookSubscribed)
    with pytest.raises(DomainError) as twice:
        await subscribe(handlers, uow, subscription_id)
    assert reason(twice) is ReasonCode.DUPLICATE
    uow.message()
    await handle(handlers, sample(o.OrderPlaced), uow)
    (webhook,) = uow.deliveries.values()
    assert (webhook.channel, webhook.subscription_id) == (Channel.WEBHOOK, subscription_id)
    someone_else = n.UnsubscribeWebhook(
        actor=Actor(id="partner-2", role=ActorRole.SYSTEM), subscription_id=subscription_id
    )
    with pytest.raises(DomainError) as not_theirs:
        await handle(handlers, someone_else, uow)
    assert reason(not_theirs) is ReasonCode.NOT_FOUND
    await handle(handlers, n.UnsubscribeWebhook(actor=STAFF, subscription_id=subscription_id), uow)
    uow.commit()
    uow.message()
    await handle(handlers, sample(o.OrderPlaced), uow)
    assert len(uow.deliveries) == 1  # no webhook for the next event
