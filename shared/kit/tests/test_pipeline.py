"""The pipeline's query, poison and return paths, without a broker or a database: what it
publishes is recorded, and the database is one that cannot be reached."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast
from uuid import uuid4

from azl_contracts import Message, ReasonCode, payments
from azl_contracts import fees as contract
from azl_contracts.topology import queues_of
from azl_kit import broker
from azl_kit.authorisation import Authorisation, Check
from azl_kit.envelope import Envelope
from azl_kit.errors import ValidationFailed
from azl_kit.handlers import Handlers, Route
from azl_kit.outcomes import Rejection
from azl_kit.pipeline import MessagePipeline
from azl_kit.retry import RetryPolicy

from .fakes import NS, RecordingPublisher, command_envelope, pipeline_without_database

FEES_COMMANDS = next(q for q in queues_of("fees") if q.name == "fees.commands")
QUOTE = contract.QuoteRequest.model_validate(
    {"items": [{"quantity": 1, "unit_price_cny": "10.00"}], "exchange_rate": "3500"}
)
ANSWER = contract.Quote(
    catalog_version="test",
    goods_total_vnd=35_000,
    lines=[],
    fees_total_vnd=0,
    total_vnd=35_000,
    required_deposit_vnd=24_500,
)
FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.002, unexpected_max_attempts=3)


@dataclass
class QueryHandler:
    """Raises the given failures in turn, then answers."""

    failures: list[Exception] = field(default_factory=list)
    calls: int = 0

    async def __call__(self, request: contract.QuoteRequest) -> contract.Quote:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return ANSWER


async def never_called(message: Any, uow: Any) -> None:
    raise AssertionError("a refused message reached its handler")


def pipeline(
    handler: QueryHandler, publisher: RecordingPublisher, authorise: Check = Authorisation()
) -> MessagePipeline:
    handlers: Handlers[Any] = Handlers()
    handlers.add(contract.QuoteRequest, handler)
    handlers.add(payments.DepositReceived, never_called)
    return pipeline_without_database(
        service="fees",
        queue=FEES_COMMANDS,
        handlers=handlers,
        publisher=publisher,
        retry=FAST,
        authorise=authorise,
    )


def envelope(
    message_type: str = "fees.quote.v1",
    body: bytes | None = None,
    headers: dict[str, Any] | None = None,
    reply_to: str | None = "amq.gen-caller",
) -> Envelope:
    return command_envelope(
        FEES_COMMANDS.name,
        message_type,
        QUOTE.model_dump_json().encode() if body is None else body,
        reply_to=reply_to,
        headers=headers,
    )


async def test_a_query_failing_unexpectedly_is_answered_and_dead_lettered_once() -> None:
    publisher = RecordingPublisher()
    handler = QueryHandler([KeyError("bug")] * 5)

    outcome = await pipeline(handler, publisher).process(envelope())

    assert outcome == "dead_lettered"
    assert handler.calls == FAST.unexpected_max_attempts
    [reply] = publisher.to("replies")
    assert reply.routing_key == "amq.gen-caller"
    body = json.loads(reply.body)
    assert body["status"] == "error"
    assert body["reason_code"] == "internal_error"
    assert body["details"]["attempts"] == 3
    assert "KeyError" not in reply.body.decode()  # the error stays with the operator
    [dead] = publisher.to("dlx")
    assert dead.routing_key == f"{NS}.fees.commands"
    assert dead.headers["x-azl-dead-letter-code"] == "retries_exhausted"
    assert dead.headers["x-azl-attempts"] == 3
    assert "KeyError('bug')" in dead.headers["x-azl-error"]


async def test_a_transient_query_failure_is_retried_then_answered() -> None:
    publisher = RecordingPublisher()
    handler = QueryHandler([ConnectionRefusedError("database restarting")])

    outcome = await pipeline(handler, publisher).process(envelope())

    assert outcome == "answered"
    assert handler.calls == 2
    [reply] = publisher.to("replies")
    assert json.loads(reply.body)["status"] == "ok"
    assert publisher.to("dlx") == []


async def test_a_query_refused_by_a_domain_rule_is_not_retried_nor_dead_lettered() -> None:
    publisher = RecordingPublisher()
    handler = QueryHandler([ValidationFailed("no such service", services=["x"])])

    outcome = await pipeline(handler, publisher).process(envelope())

    assert outcome == "refused"
    assert handler.calls == 1
    body = json.loads(publisher.to("replies")[0].body)
    assert (body["reason_code"], body["details"]) == ("validation_error", {"services": ["x"]})
    assert publisher.to("dlx") == []


async def test_a_poison_command_is_dead_lettered_even_when_its_rejection_cannot_be_recorded() -> (
    None
):
    """The database is down for longer than the retry policy: the message is not returned
    to the queue to loop; it is dead-lettered once, saying its rejection is still owed."""
    publisher = RecordingPublisher()

    outcome = await pipeline(QueryHandler(), publisher).process(
        envelope("fees.summon-dragon.v1", body=b"{}")
    )

    assert outcome == "dead_lettered"
    [dead] = publisher.to("dlx")
    assert dead.headers["x-azl-dead-letter-code"] == "unknown_type"
    assert "rejection is not recorded yet" in dead.headers["x-azl-dead-letter-reason"]
    assert dead.headers["x-azl-attempts"] == FAST.max_attempts
    assert publisher.to("events") == []


async def test_dead_letters_leave_the_broker_counting_headers_behind() -> None:
    publisher = RecordingPublisher()
    counted = {
        "x-delivery-count": 3,
        "x-acquired-count": 7,
        "x-death": [{"queue": f"{NS}.fees.commands", "count": 1}],
        "x-first-death-reason": "delivery_limit",
        "x-last-death-queue": f"{NS}.fees.commands",
        "x-causation-id": "kept",
    }

    await pipeline(QueryHandler(), publisher).process(envelope(body=b"not json", headers=counted))

    [dead] = publisher.to("dlx")
    assert dead.headers["x-azl-dead-letter-code"] == "not_json"
    assert dead.headers["x-causation-id"] == "kept"
    assert not {k for k in dead.headers if k.startswith(("x-death", "x-first", "x-last"))}
    assert "x-delivery-count" not in dead.headers
    assert "x-acquired-count" not in dead.headers


class Delivery(SimpleNamespace):
    """A delivery as aio-pika hands it to the pipeline, recording how it was settled."""

    settled: list[tuple[str, bool | None]]

    async def ack(self) -> None:
        self.settled.append(("ack", None))

    async def nack(self, requeue: bool = True) -> None:
        self.settled.append(("nack", requeue))

    async def reject(self, requeue: bool = False) -> None:
        self.settled.append(("reject", requeue))


def delivery() -> Delivery:
    message_id = str(uuid4())
    return Delivery(
        body=QUOTE.model_dump_json().encode(),
        headers={"x-delivery-count": 1},
        message_id=message_id,
        correlation_id=message_id,
        type="fees.quote.v1",
        reply_to="amq.gen-caller",
        content_type="application/json",
        app_id="tests",
        user_id="azlunit-storefront",
        exchange=f"{NS}.commands",
        routing_key="fees.quote",
        redelivered=True,
        timestamp=None,
        settled=[],
    )


async def test_a_message_that_cannot_be_settled_is_rejected_so_the_broker_counts_it() -> None:
    """RabbitMQ 4.3 counts basic.reject toward the delivery limit, not basic.nack."""
    publisher = RecordingPublisher(broker_down=True)
    message = delivery()

    await pipeline(QueryHandler(), publisher)(cast(broker.Delivery, message))

    assert message.settled == [("reject", True)]


async def test_a_settled_message_is_acked() -> None:
    message = delivery()

    await pipeline(QueryHandler(), RecordingPublisher())(cast(broker.Delivery, message))

    assert message.settled == [("ack", None)]


def refuse_everything(envelope: Envelope, route: Route, message: Message) -> Rejection | None:
    return Rejection(ReasonCode.FORBIDDEN, f"nobody may send {route.message.message_type()}", {})


REFUSING = Authorisation(checks=(lambda *_: None, refuse_everything))
DEPOSIT = payments.DepositReceived(order_id=uuid4(), amount_vnd=100_000, payment_id="p-1")


async def test_an_event_refused_by_authorisation_is_dead_lettered_without_being_handled() -> None:
    publisher = RecordingPublisher()
    event = envelope("payments.deposit.received.v1", body=DEPOSIT.model_dump_json().encode())

    outcome = await pipeline(QueryHandler(), publisher, REFUSING).process(event)

    assert outcome == "dead_lettered"
    [dead] = publisher.to("dlx")
    assert dead.headers["x-azl-dead-letter-code"] == "forbidden"
    assert dead.headers["x-azl-dead-letter-reason"] == (
        "forbidden: nobody may send payments.deposit.received.v1"
    )
    assert publisher.to("events") == []


async def test_a_query_refused_by_authorisation_is_answered_with_the_reason() -> None:
    publisher = RecordingPublisher()
    handler = QueryHandler()

    outcome = await pipeline(handler, publisher, REFUSING).process(envelope())

    assert outcome == "refused"
    assert handler.calls == 0
    body = json.loads(publisher.to("replies")[0].body)
    assert (body["reason_code"], body["message"]) == (
        "forbidden",
        "nobody may send fees.quote.v1",
    )
    assert publisher.to("dlx") == []


async def test_checks_that_allow_a_message_let_it_through() -> None:
    publisher = RecordingPublisher()

    outcome = await pipeline(
        QueryHandler(), publisher, Authorisation(checks=(lambda *_: None,))
    ).process(envelope())

    assert outcome == "answered"
