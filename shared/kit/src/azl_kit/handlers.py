"""A service's table of message handlers: message class → async function.

Commands and events are handled as ``handler(message, uow) -> result | None``; queries as
``handler(message) -> reply``. Dependencies beyond the unit of work are bound in the
service's one wiring place (``app.py``), e.g. with ``functools.partial``.

A handler is written against the current version of its message; every legacy version the
contracts know (``azl_contracts.versions``) gets a route of its own that upcasts to the
current model first, so a service reads both during a migration window. A retired version
(``retire``) is refused with ``version_retired``: a command is rejected, an event is
dead-lettered with that reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from azl_contracts import Message, MessageKind, Reply, registry, versions
from azl_contracts.topology import EVENTS_EXCHANGE, messages_for, queues_of

from .errors import VersionRetired

U = TypeVar("U")  # the unit of work the handlers are written against: a service's port

MessageHandler = Callable[[Any, Any], Awaitable[Reply | None]]
QueryHandler = Callable[[Any], Awaitable[Reply]]


@dataclass(frozen=True)
class Route:
    message: type[Message]
    handler: Callable[..., Awaitable[Reply | None]]

    @property
    def kind(self) -> MessageKind:
        return self.message.KIND


class Handlers(Generic[U]):
    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}

    def add(self, message: type[Message], handler: Callable[..., Awaitable[Any]]) -> None:
        if versions.is_legacy(message):
            raise ValueError(f"{message.message_type()} is a legacy version: handle the current")
        self._add(message, handler)
        for legacy in versions.legacy_of(message):
            self._add(legacy, _upcasting(handler))

    def _add(self, message: type[Message], handler: Callable[..., Awaitable[Any]]) -> None:
        message_type = message.message_type()
        if message_type in self._routes:
            raise ValueError(f"{message_type} already has a handler")
        self._routes[message_type] = Route(message, handler)

    def retire(self, message_types: Iterable[str]) -> None:
        """End the migration window of these legacy versions: refused from now on."""
        for message_type in versions.check_retirable(message_types):
            route = self._routes.get(message_type)
            if route is not None:
                self._routes[message_type] = Route(route.message, _refusing(route.message))

    def route(self, message_type: str) -> Route | None:
        return self._routes.get(message_type)

    def message_types(self) -> list[str]:
        return sorted(self._routes)

    def uncovered(self, service: str, *, commands: bool = True) -> list[str]:
        """Message types that reach the service but have no handler. Events its queues bind
        must all be handled (checked at start-up: otherwise they would be dead-lettered);
        an unhandled command or query only gets ``unknown_command``, so services check
        those in their unit tests once complete."""
        owned = [
            m
            for m in registry.owned_by(service)
            if commands and m.KIND in (MessageKind.COMMAND, MessageKind.QUERY)
        ]
        routed = [
            m
            for queue in queues_of(service)
            if queue.exchange == EVENTS_EXCHANGE
            for m in messages_for(queue)
        ]
        wanted = dict.fromkeys(m.message_type() for m in owned + routed)
        return [t for t in wanted if t not in self._routes]


def _upcasting(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def handle(message: Message, *args: Any) -> Any:
        return await handler(versions.upcast(message), *args)

    return handle


def _refusing(message: type[Message]) -> Callable[..., Awaitable[Any]]:
    current = versions.current(message).message_type()

    async def refuse(_: Message, *__: Any) -> Any:
        raise VersionRetired(
            f"{message.message_type()} is retired: its migration window is over; send {current}",
            message_type=message.message_type(),
            current=current,
        )

    return refuse
