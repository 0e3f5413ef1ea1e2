"""Versions side by side: each legacy version of a message and how it becomes the current one.

An incompatible change to a published message is a new version (spec §2). The current
version is the model services are written against; every older version stays a model of its
own, so its schema stays published, and an upcaster turns it into the next version. This
registry is the one place that knows them: the kit routes a legacy message through it before
the handler (so a service reads both versions during the migration window), and a client
that subscribes to events gets the current model whichever version was published.

Ending a window is the deployment's choice (``AZL_RETIRED_MESSAGE_TYPES`` in the kit): a
retired version is refused with a reason, never silently mapped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from .base import Message

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class Upcaster:
    source: type[Message]
    target: type[Message]
    convert: Callable[[Any], Message]


class Versions:
    def __init__(self) -> None:
        self._by_source: dict[str, Upcaster] = {}

    def upcaster(
        self, source: type[Message], target: type[M]
    ) -> Callable[[Callable[[Any], M]], Callable[[Any], M]]:
        """Register ``convert`` as the step from ``source`` to the next version ``target``."""
        if source.NAME != target.NAME or target.VERSION != source.VERSION + 1:
            raise ValueError(f"{target.message_type()} is not the next version of {source}")

        def register(convert: Callable[[Any], M]) -> Callable[[Any], M]:
            if source.message_type() in self._by_source:
                raise ValueError(f"{source.message_type()} already has an upcaster")
            self._by_source[source.message_type()] = Upcaster(source, target, convert)
            return convert

        return register

    def successor(self, message: type[Message]) -> type[Message] | None:
        step = self._by_source.get(message.message_type())
        return None if step is None else step.target

    def current(self, message: type[Message]) -> type[Message]:
        """The version services are written against (``message`` itself if it is current)."""
        while (step := self._by_source.get(message.message_type())) is not None:
            message = step.target
        return message

    def is_legacy(self, message: type[Message]) -> bool:
        return message.message_type() in self._by_source

    def upcast(self, message: Message) -> Message:
        """The message as its current version, one step at a time."""
        while (step := self._by_source.get(message.message_type())) is not None:
            message = step.convert(message)
        return message

    def legacy_of(self, current: type[Message]) -> list[type[Message]]:
        """Every older version that upcasts to ``current``, oldest first."""
        return sorted(
            (s.source for s in self._by_source.values() if self.current(s.source) is current),
            key=lambda m: m.VERSION,
        )

    def legacy(self) -> list[type[Message]]:
        return sorted((s.source for s in self._by_source.values()), key=lambda m: m.message_type())

    def check_retirable(self, message_types: Iterable[str]) -> tuple[str, ...]:
        """The types, once each is known to be a legacy version (a typo, or a current version,
        would retire nothing or everything)."""
        names = tuple(message_types)
        legacy = {m.message_type() for m in self.legacy()}
        unknown = [t for t in names if t not in legacy]
        if unknown:
            raise ValueError(
                f"not a legacy message version: {', '.join(unknown)} "
                f"(legacy versions: {', '.join(sorted(legacy)) or 'none'})"
            )
        return tuple(dict.fromkeys(names))


versions = Versions()
