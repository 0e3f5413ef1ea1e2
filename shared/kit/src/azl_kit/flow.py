"""The flow a message belongs to: its correlation id and the message that caused it."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4


@dataclass(frozen=True)
class FlowContext:
    """Stamped on every message a handler causes (``correlation_id``, ``x-causation-id``)."""

    correlation_id: str
    causation_id: UUID | None = None

    @classmethod
    def new(cls) -> FlowContext:
        """A flow started by the service itself (a scheduler), not by a message."""
        return cls(correlation_id=str(uuid4()))
