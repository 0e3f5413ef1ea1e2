"""Decoding an incoming message: from the envelope to a validated contract model, or a
``Poison`` verdict saying why it can never be processed as it is.

The checks, cheapest first: size, crash-loop redeliveries, message id, type, then JSON and
schema in one pass (pydantic-core parses and validates together).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from azl_contracts import Message, ReasonCode

from .dead_letters import DeadLetterCode
from .envelope import Envelope
from .handlers import Handlers, Route
from .outcomes import Rejection


@dataclass(frozen=True)
class Decoded:
    route: Route
    message: Message


@dataclass(frozen=True)
class Poison:
    """The message can never be processed as it is."""

    code: DeadLetterCode
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rejection(self) -> Rejection:
        """What a command's sender is told."""
        if self.code is DeadLetterCode.UNKNOWN_TYPE:
            return Rejection(ReasonCode.UNKNOWN_COMMAND, self.reason, self.details)
        return Rejection(ReasonCode.VALIDATION_ERROR, self.reason, self.details)


@dataclass(frozen=True)
class Decoder:
    service: str
    handlers: Handlers[Any]
    max_message_bytes: int
    redelivery_limit: int

    def decode(self, envelope: Envelope) -> Decoded | Poison:
        if len(envelope.body) > self.max_message_bytes:
            return Poison(
                DeadLetterCode.BODY_TOO_LARGE,
                f"body of {len(envelope.body)} bytes exceeds the limit of {self.max_message_bytes}",
            )
        # x-delivery-count, not 4.3's x-acquired-count: the latter also counts returns that
        # say nothing about the message (a consumer handing back prefetched messages as it
        # stops gracefully, nack with requeue), so clean restarts alone would make it poison.
        if envelope.delivery_count >= self.redelivery_limit:
            return Poison(
                DeadLetterCode.REDELIVERY_LIMIT,
                f"delivered {envelope.delivery_count} times without being settled "
                "(a consumer may be crashing on it)",
            )
        if envelope.message_id is None:
            return Poison(DeadLetterCode.MISSING_MESSAGE_ID, "message_id is missing or not a UUID")
        if not envelope.message_type:
            return Poison(DeadLetterCode.UNKNOWN_TYPE, "the type property is missing")
        route = self.handlers.route(envelope.message_type)
        if route is None:
            return Poison(
                DeadLetterCode.UNKNOWN_TYPE,
                f"{self.service} does not handle messages of type {envelope.message_type}",
            )
        try:
            return Decoded(route, route.message.model_validate_json(envelope.body))
        except ValidationError as error:
            return _invalid(envelope.message_type, error)


def _invalid(message_type: str, error: ValidationError) -> Poison:
    errors = error.errors(include_url=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return Poison(DeadLetterCode.NOT_JSON, f"body is not JSON: {errors[0]['msg']}")
    return Poison(
        DeadLetterCode.SCHEMA_INVALID,
        f"body does not match {message_type}: {error.error_count()} error(s)",
        {"errors": _validation_errors(error)},
    )


def _validation_errors(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ".".join(str(part) for part in e["loc"]), "type": e["type"], "msg": e["msg"]}
        for e in error.errors(include_url=False, include_input=False)
    ][:20]
