"""A command whose retries run out: the caller hears ``failed`` (``processing_failed``),
told apart from a business rejection, and the command is dead-lettered for an operator.
Without a broker or a database (one that cannot be reached)."""

from __future__ import annotations

import json
from typing import Any, cast
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncEngine

from azl_contracts import complaints
from azl_contracts.base import Actor, ActorRole
from azl_contracts.outcomes import CommandOutcome
from azl_contracts.topology import queues_of
from azl_kit.dead_letters import DeadLetters
from azl_kit.envelope import Envelope
from azl_kit.handlers import Handlers
from azl_kit.metrics import Metrics
from azl_kit.outbox import OutboxRelay
from azl_kit.outgoing import OutgoingMessage
from azl_kit.pipeline import MessagePipeline
from azl_kit.publisher import Publisher
from azl_kit.retry import RetryPolicy

NS = "azlunit"
QUEUE = next(q for q in queues_of("complaints") if q.exchange == "commands")
FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)


class _Recording(Publisher):
    def __init__(self) -> None:
        super().__init__("tests")
        self.sent: list[tuple[str, str, bytes, dict[str, Any]]] = []

    async def publish(self, message: OutgoingMessage) -> None:
        self.sent.append((message.exchange, message.routing_key, message.body, message.headers))

    async def publish_raw(
        self,
        body: bytes,
        *,
        exchange: str,
        routing_key: str,
        properties: dict[str, Any],
        headers: dict[str, Any],
    ) -> None:
        self.sent.append((exchange, routing_key, body, headers))

    def to(self, exchange: str) -> list[tuple[str, str, bytes, dict[str, Any]]]:
        return [s for s in self.sent if s[0] == f"{NS}.{exchange}"]


class _Unreachable:
    def connect(self) -> Any:
        raise ConnectionRefusedError("database down")

    def begin(self) -> Any:
        raise ConnectionRefusedError("database down")


async def _handler(message: Any, uow: Any) -> None:
    raise AssertionError("never reached: the database is down")


def _pipeline(publisher: _Recording) -> MessagePipeline:
    handlers: Handlers[Any] = Handlers()
    handlers.add(complaints.StartReview, _handler)
    engine = cast(AsyncEngine, _Unreachable())
    metrics = Metrics()
    return MessagePipeline(
        service="complaints",
        namespace=NS,
        queue=QUEUE,
        handlers=handlers,
        uow_factory=lambda conn, flow: cast(Any, None),
        engine=engine,
        publisher=publisher,
        relay=OutboxRelay(engine, publisher, metrics, batch_size=10, poll_interval=1.0, grace=1.0),
        dead_letters=DeadLetters(publisher, exchange=f"{NS}.dlx", service="complaints"),
        retry=FAST,
        metrics=metrics,
        max_message_bytes=1024 * 1024,
        redelivery_limit=10,
        authorise=lambda envelope, route, message: None,
    )


def _envelope(reply_to: str | None) -> Envelope:
    message_id = uuid4()
    command = complaints.StartReview(
        actor=Actor(id="ops", role=ActorRole.STAFF), complaint_id=uuid4()
    )
    message_type = command.message_type()
    return Envelope(
        queue=f"{NS}.{QUEUE.name}",
        body=command.model_dump_json().encode(),
        raw_message_id=str(message_id),
        message_id=message_id,
        correlation_id=str(message_id),
        message_type=message_type,
        reply_to=reply_to,
        content_type="application/json",
        app_id="tests",
        exchange=f"{NS}.commands",
        routing_key="complaints.start-review",
        headers={},
        delivery_count=0,
        properties={"message_id": str(message_id), "message_type": message_type},
    )


async def test_a_command_whose_retries_run_out_is_answered_failed_and_dead_lettered() -> None:
    publisher = _Recording()
    envelope = _envelope(reply_to="amq.gen-caller")

    outcome = await _pipeline(publisher).process(envelope)

    assert outcome == "dead_lettered"
    [(_, routing_key, body, _)] = publisher.to("replies")
    assert routing_key == "amq.gen-caller"
    reply = CommandOutcome.model_validate(json.loads(body))
    assert reply.status == "failed"
    assert reply.reason_code == "processing_failed"
    assert reply.command_id == envelope.message_id
    assert reply.details["attempts"] == FAST.max_attempts
    assert "ConnectionRefused" not in body.decode()  # the error stays with the operator
    [(_, _, _, headers)] = publisher.to("dlx")
    assert headers["x-azl-dead-letter-code"] == "retries_exhausted"


async def test_without_reply_to_only_the_dead_letter_is_sent() -> None:
    publisher = _Recording()

    assert await _pipeline(publisher).process(_envelope(reply_to=None)) == "dead_lettered"

    assert publisher.to("replies") == []
    assert len(publisher.to("dlx")) == 1
