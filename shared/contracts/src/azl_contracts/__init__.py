"""AZL Orders message contracts.

Importing the package registers every message, so ``registry`` knows them all.
"""

from . import complaints, fees, notifications, orders, outcomes, payments
from .base import (
    Actor,
    ActorRole,
    Command,
    Event,
    Message,
    MessageKind,
    Query,
    Reply,
    UnknownMessageType,
    registry,
)
from .common import ReasonCode
from .versions import versions

__all__ = [
    "Actor",
    "ActorRole",
    "Command",
    "Event",
    "Message",
    "MessageKind",
    "Query",
    "ReasonCode",
    "Reply",
    "UnknownMessageType",
    "complaints",
    "fees",
    "notifications",
    "orders",
    "outcomes",
    "payments",
    "registry",
    "versions",
]
