"""A command whose retries run out: the caller hears ``failed`` (``processing_failed``),
told apart from a business rejection, and the command is dead-lettered for an operator.
Without a broker or a database (one that cannot be reached)."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

from azl_contracts import complaints
from azl_contracts.base import Actor, ActorRole
from azl_contracts.outcomes import CommandOutcome
from azl_contracts.topology import queues_of
from azl_kit.envelope import Envelope
from azl_kit.handlers import Handlers
from azl_kit.pipeline import MessagePipeline
from azl_kit.retry import RetryPolicy

from .fakes import RecordingPublisher, command_envelope, pipeline_without_database

QUEUE = next(q for q in queues_of("complaints") if q.exchange == "commands")
FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)


async def _handler(message: Any, uow: Any) -> None:
    raise AssertionError("never reached: the database is down")


def _pipeline(publisher: RecordingPublisher) -> MessagePipeline:
    handlers: Handlers[Any] = Handlers()
    handlers.add(complaints.StartReview, _handler)
    return pipeline_without_database(
        service="complaints",
        queue=QUEUE,
        handlers=handlers,
        publisher=publisher,
        retry=FAST,
        authorise=lambda envelope, route, message: None,
    )


def _envelope(reply_to: str | None) -> Envelope:
    command = complaints.StartReview(
        actor=Actor(id="ops", role=ActorRole.STAFF), complaint_id=uuid4()
    )
    return command_envelope(
        QUEUE.name, command.message_type(), command.model_dump_json().encode(), reply_to=reply_to
    )


async def test_a_command_whose_retries_run_out_is_answered_failed_and_dead_lettered() -> None:
    publisher = RecordingPublisher()
    envelope = _envelope(reply_to="amq.gen-caller")

    outcome = await _pipeline(publisher).process(envelope)

    assert outcome == "dead_lettered"
    [replied] = publisher.to("replies")
    assert replied.routing_key == "amq.gen-caller"
    body = replied.body
    reply = CommandOutcome.model_validate(json.loads(body))
    assert reply.status == "failed"
    assert reply.reason_code == "processing_failed"
    assert reply.command_id == envelope.message_id
    assert reply.details["attempts"] == FAST.max_attempts
    assert "ConnectionRefused" not in body.decode()  # the error stays with the operator
    [dead] = publisher.to("dlx")
    assert dead.headers["x-azl-dead-letter-code"] == "retries_exhausted"


async def test_without_reply_to_only_the_dead_letter_is_sent() -> None:
    publisher = RecordingPublisher()

    assert await _pipeline(publisher).process(_envelope(reply_to=None)) == "dead_lettered"

    assert publisher.to("replies") == []
    assert len(publisher.to("dlx")) == 1
