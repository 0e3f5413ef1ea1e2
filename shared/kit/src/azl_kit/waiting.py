"""A bounded wait for a fact that travels on another queue (spec §2: no order between queues).

The fees service already waits for an order's placement when a payment overtakes it: its
handler raises ``RetryLater`` and the pipeline tries the message again with short pauses
(``RetryPolicy.waiting_*``). A *command* that overtakes the event it depends on (a
``post-message`` sent right after ``place-order``, before the ``orders.order.placed`` event
reached notifications) takes the same path, with one difference: once the wait is over, a
command still needs its one outcome, a business rejection (``not_found``), rather than a
dead letter. ``Waits`` keeps, per message id, when its wait began; ``until`` raises
``RetryLater`` while the message is within its bound and the given error after it::

    order = await uow.known_order(command.order_id)
    if order is None:
        waits.until(uow.flow.causation_id, OrderNotKnown(...))   # raises one or the other
    waits.done(uow.flow.causation_id)

The clock is this process's: a message redelivered to another instance waits afresh, which
only bounds the wait per instance. Entries of messages never finished (their instance's
transaction failed another way) are dropped once well past any bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from uuid import UUID

from .errors import DomainError, RetryLater

DEFAULT_WAIT_SECONDS = 5.0


class Waits:
    def __init__(
        self, within: float = DEFAULT_WAIT_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if within < 0:
            raise ValueError("a wait cannot be negative")
        self.within = within
        self._clock = clock
        self._began: dict[UUID, float] = {}

    def until(self, message_id: UUID | None, otherwise: DomainError) -> None:
        """Always raises: ``RetryLater`` while ``message_id`` has waited less than
        ``within`` seconds, then ``otherwise`` (and forgets the message)."""
        now = self._clock()
        if message_id is None or self.within == 0:
            raise otherwise
        began = self._began.setdefault(message_id, now)
        if now - began < self.within:
            self._prune(now)
            raise RetryLater(f"{otherwise.message}; waiting up to {self.within:g} s for it")
        self._began.pop(message_id, None)
        raise otherwise

    def done(self, message_id: UUID | None) -> None:
        """What the message waited for arrived: forget it."""
        if message_id is not None:
            self._began.pop(message_id, None)

    def waiting(self) -> int:
        return len(self._began)

    def _prune(self, now: float) -> None:
        if len(self._began) < 1024:
            return
        horizon = now - 10 * max(self.within, 1.0)
        for message_id in [m for m, began in self._began.items() if began < horizon]:
            del self._began[message_id]
