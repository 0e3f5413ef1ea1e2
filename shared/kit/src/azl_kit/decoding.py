"""Decoding an incoming message: from the envelope to a validated contract model, or a
``Poison`` verdict saying why it can never be processed as it is.

The checks, cheapest first: size, crash-loop redeliveries, message id, type, then JSON and
schema in one pass (pydantic-core parses and validates together).
"""

from __future__ import annotations

import json
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
            message = route.message.model_validate_json(envelope.body)
        except ValidationError as error:
            return _invalid(envelope.message_type, error)
        # PostgreSQL text and jsonb refuse NUL, so a message carrying one could be neither
        # applied nor even rejected; the escape is looked for first, a cheap byte search.
        if _NUL_ESCAPE in envelope.body:
            where = _nul_in(json.loads(envelope.body), "")
            if where is not None:
                return Poison(
                    DeadLetterCode.SCHEMA_INVALID,
                    f"body does not match {envelope.message_type}: "
                    f"text must not contain NUL characters (at {where or 'the root'})",
                    {"errors": [{"loc": where, "type": "nul_character", "msg": _NUL_MSG}]},
                )
        return Decoded(route, message)


_NUL_ESCAPE = b"\\u0000"
_NUL_MSG = "text must not contain NUL characters"


def _nul_in(value: Any, path: str) -> str | None:
    """Where a NUL is, in a key or a string of parsed JSON (nesting is bounded: the body
    passed pydantic's parser first)."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{printable(key)}" if path else printable(key)
            if "\x00" in key:
                return here
            found = _nul_in(item, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_in(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


def printable(value: str) -> str:
    """Text echoed from a message into an outcome, with NUL made visible (and storable)."""
    return value.replace("\x00", "\\u0000")


def _invalid(message_type: str, error: ValidationError) -> Poison:
    errors = error.errors(include_url=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return Poison(DeadLetterCode.NOT_JSON, f"body is not JSON: {printable(errors[0]['msg'])}")
    return Poison(
        DeadLetterCode.SCHEMA_INVALID,
        f"body does not match {message_type}: {error.error_count()} error(s)",
        {"errors": _validation_errors(error)},
    )


def _validation_errors(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": printable(".".join(str(part) for part in e["loc"])),
            "type": e["type"],
            "msg": printable(e["msg"]),
        }
        for e in error.errors(include_url=False, include_input=False)
    ][:20]
