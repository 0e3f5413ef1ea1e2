"""What a command ends in: the events it caused, or one rejection (spec §2).

The same outcome is sent as the RPC reply when the command has ``reply_to``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .base import Event, Reply
from .common import ReasonCode


class CommandRejected(Event):
    """``<service>.command.rejected``: the one outcome of a command that changed nothing."""

    command_id: UUID
    command_type: str
    reason_code: ReasonCode
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class OrdersCommandRejected(CommandRejected):
    NAME: ClassVar[str] = "orders.command.rejected"


class FeesCommandRejected(CommandRejected):
    NAME: ClassVar[str] = "fees.command.rejected"


class ComplaintsCommandRejected(CommandRejected):
    NAME: ClassVar[str] = "complaints.command.rejected"


class NotificationsCommandRejected(CommandRejected):
    NAME: ClassVar[str] = "notifications.command.rejected"


REJECTED_EVENTS: dict[str, type[CommandRejected]] = {
    "orders": OrdersCommandRejected,
    "fees": FeesCommandRejected,
    "complaints": ComplaintsCommandRejected,
    "notifications": NotificationsCommandRejected,
}


class EventRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str
    routing_key: str
    message_id: UUID


PROCESSING_FAILED: Literal["processing_failed"] = "processing_failed"
"""Only a command's ``failed`` reply says this: the service could not process it even after
retrying (not a business rule: nothing changed) and dead-lettered it for an operator; once
replayed after a fix, its real outcome follows on the same ``reply_to``."""


class CommandOutcome(Reply):
    """The RPC reply to a command: accepted with its events (and a result), rejected by a
    business rule, or failed (``processing_failed``: retries ran out, dead-lettered; its
    real outcome follows when an operator replays it)."""

    NAME: ClassVar[str] = "command.outcome"

    status: Literal["accepted", "rejected", "failed"]
    command_id: UUID
    command_type: str
    events: list[EventRef] = Field(default_factory=list)
    result: dict[str, Any] | None = None
    reason_code: ReasonCode | Literal["processing_failed"] | None = None
    message: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


INTERNAL_ERROR: Literal["internal_error"] = "internal_error"
"""Only a query's reply says this: the service failed unexpectedly, even after retrying,
and dead-lettered the query for an operator. (A command in that case is dead-lettered; it
is never rejected for it, so it is not a command reason code.)"""


class QueryFailed(Reply):
    """The RPC reply to a query that could not be answered."""

    NAME: ClassVar[str] = "query.failed"

    status: Literal["error"] = "error"
    query_id: str | None = None
    query_type: str
    reason_code: ReasonCode | Literal["internal_error"] = Field(
        description="Why: a command reason code, or `internal_error` when the service failed "
        "unexpectedly and dead-lettered the query (asking again later may succeed)."
    )
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
