"""What the pipeline's steps hand back to it: how a message was settled, or why it is
refused. Values, not exceptions: each step's result is read where the flow continues."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from azl_contracts import ReasonCode

from .errors import DomainError

# How a message was settled; the ``outcome`` label of ``azl_messages_handled_total``.
Outcome = Literal[
    "accepted",  # a command, applied
    "applied",  # an event, applied
    "rejected",  # a command, refused; its rejection recorded and published
    "answered",  # a query, replied to
    "refused",  # a query, refused by a rule; the caller told why
    "duplicate",  # processed before: nothing changed
    "dead_lettered",  # kept for an operator in the queue's DLQ
]


@dataclass(frozen=True)
class Rejection:
    """Why a message is refused, as its sender is told: a reason code, a readable message
    and details."""

    reason_code: ReasonCode
    message: str
    details: dict[str, Any]

    @classmethod
    def of(cls, error: DomainError) -> Rejection:
        return cls(error.reason_code, error.message, _jsonable(error.details))


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(details, default=str))
    return loaded
