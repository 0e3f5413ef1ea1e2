"""The notifications domain without a broker or a database."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from azl_contracts import Actor, ActorRole
from azl_contracts import notifications as n
from azl_contracts import orders as o
from azl_contracts.common import Language
from azl_contracts.notifications import Channel, NoteVisibility
from azl_kit.errors import Duplicate, Forbidden, NotFound, ValidationFailed
from notifications import domain
from notifications.domain import (
    AttemptOutcome,
    CustomerPreferences,
    DeliveryPolicy,
    DeliveryStatus,
    KnownOrder,
    SendResult,
    StaffDirectory,
    Subscription,
    http_result,
    plan,
    smtp_result,
)
from notifications.templates import Renderer

from .conftest import CODE, CUSTOMER, NOW, ORDER_ID, STAFF, SYSTEM, message, samples

RENDERER = Renderer()
EVENT_ID = UUID("7f1e3a52-64c9-4a3b-9d0e-3e2a1c4b5d60")
STAFF_DIRECTORY = StaffDirectory(emails=("ops@azl.test", "sales@azl.test"), language=Language.VI)
ORDER = KnownOrder(ORDER_ID, CUSTOMER.id, CODE)


def deposited() -> o.OrderDeposited:
    return next(e for e in samples() if isinstance(e, o.OrderDeposited))


def planned(event: Any, **overrides: Any) -> domain.Plan:
    arguments: dict[str, Any] = {
        "event_id": EVENT_ID,
        "order_code": CODE,
        "customer": CustomerPreferences(CUSTOMER.id),
        "staff": STAFF_DIRECTORY,
        "subscriptions": [],
        "renderer": RENDERER,
        "now": NOW,
    }
    arguments.update(overrides)
    return plan(event, **arguments)


# --- plan ---------------------------------------------------------------------------------


def test_a_customer_without_email_gets_the_inbox_only() -> None:
    result = planned(deposited())
    [notification] = result.notifications
    assert notification.recipient_id == CUSTOMER.id
    assert notification.recipient_role is ActorRole.CUSTOMER
    assert notification.language is Language.VI
    assert notification.channels == (Channel.IN_APP,)
    assert notification.title == f"Đơn {CODE} đã đặt cọc"
    assert result.deliveries == []


def test_a_customer_who_chose_email_gets_one_email_in_their_language() -> None:
    customer = CustomerPreferences(
        CUSTOMER.id, "an@example.vn", Language.EN, frozenset({Channel.IN_APP, Channel.EMAIL})
    )
    result = planned(deposited(), customer=customer)
    [notification] = result.notifications
    [email] = result.deliveries
    assert notification.language is Language.EN
    assert notification.channels == (Channel.IN_APP, Channel.EMAIL)
    assert email.channel is Channel.EMAIL
    assert email.target == "an@example.vn"
    assert email.notification_id == notification.notification_id
    assert email.payload["subject"] == f"Order {CODE} deposited"
    assert email.payload["language"] == "en"


def test_an_address_without_the_email_channel_sends_nothing() -> None:
    customer = CustomerPreferences(CUSTOMER.id, "an@example.vn", Language.VI)
    assert planned(deposited(), customer=customer).deliveries == []


def test_staff_get_the_shared_inbox_and_one_email_per_address() -> None:
    result = planned(message(CUSTOMER, "Khi nào giao?"))
    [notification] = result.notifications
    assert notification.recipient_id == domain.STAFF_INBOX
    assert notification.recipient_role is ActorRole.STAFF
    assert notification.template == "message_from_customer"
    assert sorted(d.target for d in result.deliveries) == ["ops@azl.test", "sales@azl.test"]
    assert {d.payload["language"] for d in result.deliveries} == {"vi"}


def test_subscribers_get_the_event_when_a_pattern_matches() -> None:
    wanted = Subscription(uuid4(), "https://hooks.example/a", ("orders.order.#",))
    exact = Subscription(uuid4(), "https://hooks.example/b", ("orders.order.deposited",))
    other = Subscription(uuid4(), "https://hooks.example/c", ("complaints.#",))
    result = planned(deposited(), subscriptions=[wanted, exact, other])
    assert sorted(d.target for d in result.webhooks) == [
        "https://hooks.example/a",
        "https://hooks.example/b",
    ]
    body = json.loads(result.webhooks[0].payload["body"])
    assert body["event_id"] == str(EVENT_ID)
    assert body["event_type"] == "orders.order.deposited.v1"
    assert body["routing_key"] == "orders.order.deposited"
    assert body["delivery_id"] == str(result.webhooks[0].delivery_id)
    assert body["data"]["order_code"] == CODE
    assert body["data"]["deposit_paid_vnd"] == "1234567"


def test_planning_the_same_event_twice_gives_the_same_ids() -> None:
    subscription = Subscription(uuid4(), "https://hooks.example/a", ("#",))
    customer = CustomerPreferences(
        CUSTOMER.id, "an@example.vn", Language.VI, frozenset({Channel.IN_APP, Channel.EMAIL})
    )
    one = planned(deposited(), customer=customer, subscriptions=[subscription])
    two = planned(deposited(), customer=customer, subscriptions=[subscription])
    assert [x.notification_id for x in one.notifications] == [
        x.notification_id for x in two.notifications
    ]
    assert [d.delivery_id for d in one.deliveries] == [d.delivery_id for d in two.deliveries]
    other = planned(deposited(), event_id=uuid4(), customer=customer, subscriptions=[subscription])
    assert not {d.delivery_id for d in one.deliveries} & {d.delivery_id for d in other.deliveries}


# --- the conversation -------------------------------------------------------------------------


def post(actor: Actor, body: str = "Xin chào", **fields: Any) -> n.PostMessage:
    return n.PostMessage(actor=actor, order_id=ORDER_ID, body=body, **fields)


def add(visibility: NoteVisibility, body: str = "Ghi chú") -> n.AddNote:
    return n.AddNote(actor=STAFF, order_id=ORDER_ID, body=body, visibility=visibility)


def test_a_customer_writes_about_its_own_order() -> None:
    entry = domain.post_message(post(CUSTOMER, "  Khi nào giao?  "), ORDER, NOW)
    assert entry.body == "Khi nào giao?"
    assert entry.kind is domain.EntryKind.MESSAGE
    event = domain.published(entry, ORDER)
    assert isinstance(event, n.MessagePosted)
    assert event.customer_id == CUSTOMER.id


def test_a_customer_cannot_write_about_another_customers_order() -> None:
    stranger = Actor(id="cust-2", role=ActorRole.CUSTOMER)
    with pytest.raises(Forbidden):
        domain.post_message(post(stranger), ORDER, NOW)


def test_staff_write_about_any_order() -> None:
    assert domain.post_message(post(STAFF), ORDER, NOW).author == STAFF


def test_an_unknown_order_is_not_found() -> None:
    with pytest.raises(NotFound):
        domain.post_message(post(CUSTOMER), None, NOW)
    with pytest.raises(NotFound):
        domain.add_note(add(NoteVisibility.PRIVATE), None, NOW)


@pytest.mark.parametrize("body", ["", "   ", "\n\t "])
def test_a_blank_body_is_refused(body: str) -> None:
    with pytest.raises(ValidationFailed):
        domain.post_message(post(CUSTOMER, body), ORDER, NOW)
    with pytest.raises(ValidationFailed):
        domain.add_note(add(NoteVisibility.CUSTOMER, body), ORDER, NOW)


def test_the_body_limit_is_ten_thousand_characters() -> None:
    assert len(domain.checked_body("x" * 10_000)) == 10_000
    with pytest.raises(domain.BodyTooLong, match="10000"):
        domain.post_message(post(CUSTOMER, "x" * 10_001), ORDER, NOW)
    with pytest.raises(domain.BodyTooLong, match="10000"):
        domain.add_note(add(NoteVisibility.CUSTOMER, "x" * 10_001), ORDER, NOW)
    assert issubclass(domain.BodyTooLong, ValidationFailed)


@pytest.mark.parametrize("padding", [" ", "\n", "  \t\n"])
def test_the_limit_counts_the_body_once_surrounding_whitespace_is_stripped(padding: str) -> None:
    """The contract takes the body as sent; the domain strips it, then checks its length."""
    longest = "x" * 10_000
    padded = padding + longest + padding
    assert domain.post_message(post(CUSTOMER, padded), ORDER, NOW).body == longest
    assert domain.add_note(add(NoteVisibility.CUSTOMER, padded), ORDER, NOW).body == longest
    inner = "a" + " " * 9_999 + "b"  # 10,001 characters between the first and last letter
    with pytest.raises(domain.BodyTooLong):
        domain.post_message(post(CUSTOMER, padding + inner + padding), ORDER, NOW)


def test_a_note_from_anyone_but_staff_is_refused() -> None:
    command = n.AddNote.model_construct(
        actor=CUSTOMER, order_id=ORDER_ID, body="x", visibility=NoteVisibility.CUSTOMER
    )
    with pytest.raises(Forbidden):
        domain.add_note(command, ORDER, NOW)


def test_a_private_note_publishes_nothing() -> None:
    entry = domain.add_note(add(NoteVisibility.PRIVATE), ORDER, NOW)
    assert entry.private
    assert domain.published(entry, ORDER) is None


def test_a_customer_note_is_published() -> None:
    entry = domain.add_note(add(NoteVisibility.CUSTOMER), ORDER, NOW)
    event = domain.published(entry, ORDER)
    assert isinstance(event, n.NoteAdded)
    assert event.visibility is NoteVisibility.CUSTOMER


def test_only_staff_read_private_notes() -> None:
    assert domain.may_read_private_notes(ActorRole.STAFF)
    assert not domain.may_read_private_notes(ActorRole.CUSTOMER)
    assert not domain.may_read_private_notes(ActorRole.SYSTEM)


def test_the_callers_id_makes_a_retry_a_duplicate() -> None:
    chosen = uuid4()
    assert domain.post_message(post(CUSTOMER, message_id=chosen), ORDER, NOW).entry_id == chosen
    assert issubclass(domain.EntryExists, Duplicate)


# --- preferences, subscriptions, inbox -------------------------------------------------------


def preferences(**fields: Any) -> n.SetPreferences:
    return n.SetPreferences.model_validate({"actor": CUSTOMER.model_dump(), **fields})


def test_the_inbox_is_always_on() -> None:
    chosen = domain.preferences_from(
        preferences(email="an@example.vn", language="en", channels=["email"])
    )
    assert chosen.channels == {Channel.IN_APP, Channel.EMAIL}
    assert chosen.language is Language.EN
    assert chosen.wants_email


def test_the_email_channel_needs_an_address() -> None:
    with pytest.raises(ValidationFailed):
        domain.preferences_from(preferences(channels=["in_app", "email"]))


def test_webhooks_are_not_a_customer_channel() -> None:
    with pytest.raises(ValidationFailed):
        domain.preferences_from(preferences(channels=["webhook"]))


def subscribe(*patterns: str, url: str = "https://hooks.example/x") -> n.SubscribeWebhook:
    return n.SubscribeWebhook(
        actor=SYSTEM,
        url=url,
        secret="s" * 32,
        event_types=list(patterns),
    )


def test_a_subscription_takes_routing_key_patterns() -> None:
    made = domain.subscription_from(subscribe("orders.order.*", "fees.#", "#"))
    assert made.event_types == ("orders.order.*", "fees.#", "#")
    assert made.wants("orders.order.deposited")
    assert made.wants("notifications.note.added")


@pytest.mark.parametrize("pattern", ["orders..order", "orders.Order.x", "", "orders order"])
def test_a_malformed_pattern_is_refused(pattern: str) -> None:
    with pytest.raises(ValidationFailed):
        domain.subscription_from(subscribe(pattern))


def test_a_pattern_that_matches_no_deliverable_event_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="matches no event"):
        domain.subscription_from(subscribe("payments.#"))


@pytest.mark.parametrize("url", ["ftp://hooks.example/x", "mailto:x@y.z", "hooks.example/x"])
def test_a_webhook_url_must_be_http(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        subscribe("#", url=url)


def test_marking_needs_ids_or_all() -> None:
    with pytest.raises(ValidationFailed):
        domain.marking(n.MarkRead(actor=CUSTOMER))
    assert domain.marking(n.MarkRead(actor=CUSTOMER, all=True)).all


def test_staff_share_one_inbox() -> None:
    assert domain.inbox_of(STAFF) == (domain.STAFF_INBOX, ActorRole.STAFF)
    other = Actor(id="staff-2", role=ActorRole.STAFF)
    assert domain.inbox_of(other) == domain.inbox_of(STAFF)
    assert domain.inbox_of(CUSTOMER) == (CUSTOMER.id, ActorRole.CUSTOMER)


# --- deliveries ---------------------------------------------------------------------------------

POLICY = DeliveryPolicy(max_attempts=4, base_delay=10, max_delay=60)


SENT, RETRIED, FINAL = (True, False), (False, True), (False, False)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, SENT),
        (202, SENT),
        (204, SENT),
        # redirects are not followed: the subscription's URL is wrong
        (301, FINAL),
        (302, FINAL),
        (307, FINAL),
        # the request itself is refused: sending it again gives the same answer
        (400, FINAL),
        (401, FINAL),
        (403, FINAL),
        (404, FINAL),
        (405, FINAL),
        (409, FINAL),
        (410, FINAL),
        (413, FINAL),
        (422, FINAL),
        # 4xx that say "not now" rather than "not this": timed out, too many requests
        (408, RETRIED),
        (429, RETRIED),
        # the receiver's trouble
        (500, RETRIED),
        (501, RETRIED),
        (502, RETRIED),
        (503, RETRIED),
        (504, RETRIED),
    ],
)
def test_http_answers(status: int, expected: tuple[bool, bool]) -> None:
    result = http_result(status)
    assert (result.ok, result.retryable, result.status_code) == (*expected, status)
    assert result.error == (None if result.ok else f"HTTP {status}")


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        # RFC 5321 4yz: transient negative completion, the same command may succeed later
        (421, True),  # service not available, closing the channel
        (450, True),  # mailbox unavailable (busy)
        (451, True),  # local error in processing
        (452, True),  # insufficient system storage
        (455, True),  # server unable to accommodate parameters
        # RFC 5321 5yz: permanent negative completion, do not repeat it as it is
        (500, False),  # syntax error
        (550, False),  # mailbox unavailable (not found, no access)
        (551, False),  # user not local
        (552, False),  # exceeded storage allocation
        (553, False),  # mailbox name not allowed
        (554, False),  # transaction failed
        # a reply that is neither (a misbehaving server) is worth another attempt
        (354, True),
    ],
)
def test_smtp_replies_follow_rfc_5321(code: int, retryable: bool) -> None:
    result = smtp_result(code, "server says")
    assert (result.ok, result.retryable, result.status_code) == (False, retryable, code)
    assert result.error == f"SMTP {code} server says"


def test_backoff_doubles_up_to_the_ceiling() -> None:
    lows = [POLICY.delay(attempt, 0.0) for attempt in range(1, 6)]
    highs = [POLICY.delay(attempt, 0.999999) for attempt in range(1, 6)]
    assert [d.total_seconds() for d in lows] == [5, 10, 20, 30, 30]
    assert [round(d.total_seconds()) for d in highs] == [10, 20, 40, 60, 60]


def test_a_transient_failure_is_retried_until_the_limit() -> None:
    failure = SendResult.transient("connection refused")
    retry = POLICY.after(1, failure, NOW, lambda: 0.0)
    assert retry.status is DeliveryStatus.PENDING
    assert retry.outcome is AttemptOutcome.RETRY
    assert retry.next_attempt_at == NOW + timedelta(seconds=5)
    last = POLICY.after(4, failure, NOW, lambda: 0.0)
    assert (last.status, last.outcome, last.next_attempt_at) == (
        DeliveryStatus.FAILED,
        AttemptOutcome.FAILED,
        None,
    )
    assert domain.failure_reason(failure, 4, POLICY) == (
        "gave up after 4 attempts: connection refused"
    )


def test_a_permanent_failure_is_not_retried() -> None:
    decision = POLICY.after(1, http_result(404), NOW, lambda: 0.0)
    assert decision.status is DeliveryStatus.FAILED
    assert domain.failure_reason(http_result(404), 1, POLICY) == "HTTP 404"


def test_success_is_final() -> None:
    decision = POLICY.after(3, SendResult.sent(200), NOW, lambda: 0.0)
    assert (decision.status, decision.next_attempt_at) == (DeliveryStatus.SENT, None)
