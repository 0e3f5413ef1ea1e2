"""What every service's in-memory unit of work shares (``services/<name>/tests/unit/fakes.py``):
the kit's port (``azl_kit.uow.UnitOfWorkPort``: the flow, a clock, events published) and a
message sent through a service's own handler table, as the pipeline routes it."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar
from uuid import uuid4

from azl_contracts import Event, Message, MessageKind, Reply
from azl_kit.flow import FlowContext
from azl_kit.handlers import Handlers

U = TypeVar("U")


class FakeUnitOfWorkBase:
    def __init__(self, now: datetime) -> None:
        self.clock = now
        self.published: list[Event] = []
        self.flow = FlowContext(correlation_id="test", causation_id=uuid4())

    def message(self) -> None:
        """The next message: a flow of its own (the pipeline names the message handled)."""
        self.flow = FlowContext(correlation_id="test", causation_id=uuid4())

    def now(self) -> datetime:
        return self.clock

    def publish(self, *events: Event) -> None:
        self.published.extend(events)

    def take_published(self) -> list[Event]:
        events = list(self.published)
        self.published.clear()
        return events


async def handle(handlers: Handlers[U], message: Message, uow: U) -> Reply | None:
    """The message through the service's own table (a query is answered without a unit of
    work); mypy holds the fake to the port the handlers are typed against."""
    route = handlers.route(message.message_type())
    assert route is not None, message.message_type()
    if route.kind is MessageKind.QUERY:
        return await route.handler(message)
    return await route.handler(message, uow)
