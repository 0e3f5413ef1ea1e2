"""Base classes every message derives from, and the registry that names them.

A message class declares its name (which is also its routing key) and its version; its
wire type is ``<name>.v<version>``, e.g. ``orders.cancel-order.v1``. Defining the class
registers it, so the registry is the one place that knows every message.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class MessageKind(StrEnum):
    COMMAND = "command"
    EVENT = "event"
    QUERY = "query"
    REPLY = "reply"


class ActorRole(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    SYSTEM = "system"


class Actor(BaseModel):
    """Who sends a command: an opaque id from the identity system and a role."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64)
    role: ActorRole


class Message(BaseModel):
    """A message on the bus. Subclasses set NAME (the routing key) and VERSION."""

    model_config = ConfigDict(frozen=True)

    NAME: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1
    KIND: ClassVar[MessageKind]

    @classmethod
    def message_type(cls) -> str:
        return f"{cls.NAME}.v{cls.VERSION}"

    @classmethod
    def routing_key(cls) -> str:
        return cls.NAME

    @classmethod
    def owner(cls) -> str:
        """The system that publishes this message (the first segment of its name)."""
        return cls.NAME.split(".", 1)[0]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "NAME" in cls.__dict__ and cls.NAME:
            registry.register(cls)


class Command(Message):
    """An order given to one service. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    KIND: ClassVar[MessageKind] = MessageKind.COMMAND
    ALLOWED_ROLES: ClassVar[frozenset[ActorRole]] = frozenset(ActorRole)

    actor: Actor


class Event(Message):
    """A fact that happened. Unknown fields are ignored so optional fields can be added."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    KIND: ClassVar[MessageKind] = MessageKind.EVENT


class Query(Message):
    """A request answered only by an RPC reply; it changes nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    KIND: ClassVar[MessageKind] = MessageKind.QUERY
    REPLY: ClassVar[type[Reply] | None] = None
    """The reply that answers it (besides ``query.failed``)."""


class Reply(Message):
    """The body of an RPC reply. Sent to the caller's ``reply_to``, never routed by name."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    KIND: ClassVar[MessageKind] = MessageKind.REPLY


class UnknownMessageType(LookupError):
    pass


class MessageRegistry:
    def __init__(self) -> None:
        self._by_type: dict[str, type[Message]] = {}

    def register(self, message: type[Message]) -> None:
        message_type = message.message_type()
        existing = self._by_type.get(message_type)
        if existing is not None and existing is not message:
            raise ValueError(f"message type {message_type} is defined twice")
        self._by_type[message_type] = message

    def by_type(self, message_type: str) -> type[Message]:
        try:
            return self._by_type[message_type]
        except KeyError:
            raise UnknownMessageType(message_type) from None

    def __iter__(self) -> Iterator[type[Message]]:
        return iter(sorted(self._by_type.values(), key=lambda m: m.message_type()))

    def of_kind(self, kind: MessageKind) -> list[type[Message]]:
        return [m for m in self if m.KIND is kind]

    def owned_by(self, owner: str) -> list[type[Message]]:
        return [m for m in self if m.owner() == owner]


registry = MessageRegistry()
