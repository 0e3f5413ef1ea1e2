"""Errors that cross the line between a service's domain and the shared runtime.

Domain modules raise ``DomainError`` subclasses with business names; the pipeline turns them
into reason codes only at the edge. Nothing here does I/O.
"""

from __future__ import annotations

from typing import Any, ClassVar

from azl_contracts.common import ReasonCode


class DomainError(Exception):
    """A business rule refused the message. Nothing it did is kept."""

    reason_code: ClassVar[ReasonCode] = ReasonCode.VALIDATION_ERROR

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(DomainError):
    reason_code = ReasonCode.VALIDATION_ERROR


class NotFound(DomainError):
    reason_code = ReasonCode.NOT_FOUND


class Forbidden(DomainError):
    reason_code = ReasonCode.FORBIDDEN


class InvalidState(DomainError):
    reason_code = ReasonCode.INVALID_STATE


class LimitExceeded(DomainError):
    reason_code = ReasonCode.LIMIT_EXCEEDED


class Duplicate(DomainError):
    reason_code = ReasonCode.DUPLICATE


class ConcurrencyConflict(Exception):
    """Somebody else changed the aggregate since it was loaded; the handler runs again."""


class RetryLater(Exception):
    """The message cannot be applied yet (e.g. an event about an order not seen so far)."""


class VersionRetired(DomainError):
    """The message's version is past its migration window (``AZL_RETIRED_MESSAGE_TYPES``)."""

    reason_code = ReasonCode.VERSION_RETIRED
