"""The message pipeline: one incoming message in, exactly one settled outcome out.

For each delivery (``process``):

1. Decoding (``decoding``): size, crash-loop redeliveries, type, JSON, schema. A poison
   message is dead-lettered with a readable reason; a command whose id can be read also
   gets its one outcome, ``<service>.command.rejected`` (``validation_error``/
   ``unknown_command``).
2. Authorisation (``authorisation``): a message its checks refuse changes nothing; a
   command is rejected (``forbidden``), an event dead-lettered, a query answered with why.
3. Queries are answered directly (``queries``): they change nothing.
4. Commands and events run in one transaction (``applying``): the handler, then the inbox
   row and the outbox rows in one statement; a duplicate changes nothing.
5. Every step that touches the database is retried with backoff (``retrying``): database
   down, serialization conflicts, optimistic version conflicts, an event ahead of the one
   it builds on. When the policy is exhausted the message is dead-lettered. Nothing relies
   on requeueing, so poison handling does not depend on the broker counting nacks.
6. Settlement (``settlement``): the delivery is acked only once its outcome is durable; if
   even dead-lettering fails (broker gone), it is rejected back to the queue —
   ``basic.reject``, which RabbitMQ 4.3 counts toward a quorum queue's delivery limit
   (``basic.nack`` no longer does), so a message that can never be settled is still
   dead-lettered in the end.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from azl_contracts import MessageKind
from azl_contracts.topology import QueueSpec

from . import broker, queries, tracing
from .applying import Applier, NotApplicable, UnitOfWorkFactory
from .authorisation import Authorisation, Check, Untrusted
from .dead_letters import DeadLetterCode, DeadLetters
from .decoding import Decoded, Decoder, Poison
from .envelope import Envelope
from .errors import DomainError
from .handlers import Handlers
from .logging import get_logger, log_context
from .metrics import Metrics
from .outbox import OutboxRelay
from .outcomes import Outcome, Rejection
from .pausing import PauseSwitch, Stopping
from .publisher import Publisher
from .queries import Queries
from .retry import FailureKind, RetryPolicy
from .retrying import Classify, Exhausted, Retrier
from .settlement import DeadLettering, ack, processing_failed, return_to_queue

__all__ = ["MessagePipeline", "UnitOfWorkFactory"]

log = get_logger(__name__)


class MessagePipeline:
    def __init__(
        self,
        *,
        service: str,
        namespace: str,
        queue: QueueSpec,
        handlers: Handlers[Any],
        uow_factory: UnitOfWorkFactory,
        engine: AsyncEngine,
        publisher: Publisher,
        relay: OutboxRelay,
        dead_letters: DeadLetters,
        retry: RetryPolicy,
        metrics: Metrics,
        max_message_bytes: int,
        redelivery_limit: int,
        authorise: Check = Authorisation(),
        switch: PauseSwitch | None = None,
    ) -> None:
        self._queue_name = f"{namespace}.{queue.name}"
        self._is_command_queue = queue.exchange == "commands"
        self._handlers = handlers
        self._metrics = metrics
        self._decoder = Decoder(service, handlers, max_message_bytes, redelivery_limit)
        self._authorise = authorise
        self._retrying = Retrier(retry, _retryable(retry), self._report_retry, switch)
        self._dead_lettering = DeadLettering(dead_letters, metrics, self._queue_name)
        self._queries = Queries(
            namespace=namespace,
            publisher=publisher,
            retrying=self._retrying,
            dead_lettering=self._dead_lettering,
        )
        self._applier = Applier(
            service=service,
            namespace=namespace,
            consumer=queue.name,
            engine=engine,
            uow_factory=uow_factory,
            relay=relay,
            publisher=publisher,
            metrics=metrics,
        )
        # Looked up once: a labelled child per message is a dictionary lookup under a lock.
        self._handler_seconds = metrics.handler_seconds.labels(self._queue_name)
        self._handled: dict[tuple[str, str], Any] = {}

    async def __call__(self, delivery: broker.Delivery) -> None:
        started = time.perf_counter()
        envelope = broker.envelope(delivery, self._queue_name)
        with log_context(
            correlation_id=envelope.correlation_id or envelope.raw_message_id,
            message_id=envelope.raw_message_id,
            message_type=envelope.message_type,
            queue=self._queue_name,
        ):
            try:
                with tracing.handling(envelope) as span:
                    outcome = await self.process(envelope)
                    tracing.handled(span, outcome)
            except Stopping:
                # held through an outage: unsettled, the broker takes it back uncounted
                log.info("service stopping; message left to the broker")
                return
            except Exception:
                log.exception("message could not be settled; returning it to the queue")
                await return_to_queue(delivery)
                return
            await ack(delivery)
            self._handler_seconds.observe(time.perf_counter() - started)
            self._count_handled(envelope.message_type or "", outcome)
            log.info("message settled", outcome=outcome)

    async def process(self, envelope: Envelope) -> Outcome:
        decoded = self._decoder.decode(envelope)
        if isinstance(decoded, Poison):
            return await self._settle_poison(envelope, decoded)
        refusal = self._authorise(envelope, decoded.route, decoded.message)
        if refusal is not None:
            return await self._refuse(envelope, decoded, refusal)
        if decoded.route.kind is MessageKind.QUERY:
            return await self._queries.answer(envelope, decoded)
        applied = await self._retrying(lambda: self._applier.apply(envelope, decoded))
        if isinstance(applied, NotApplicable):
            await self._dead_lettering.send(envelope, DeadLetterCode.NOT_APPLICABLE, applied.reason)
            return "dead_lettered"
        if isinstance(applied, Exhausted):
            if decoded.route.kind is MessageKind.COMMAND and envelope.message_id is not None:
                # the caller hears first, as for a query
                await self._queries.reply(envelope, processing_failed(envelope, applied))
            await self._dead_lettering.exhausted(envelope, applied)
            return "dead_lettered"
        return applied

    async def _refuse(self, envelope: Envelope, decoded: Decoded, refusal: Rejection) -> Outcome:
        """A command gets its rejection, a query its answer; an event is kept for an operator,
        and so is any message the trust checks refuse (an attempt an operator must see)."""
        untrusted = isinstance(refusal, Untrusted)
        if decoded.route.kind is MessageKind.COMMAND:
            outcome = await self._reject(
                envelope, refusal, on_exhausted=self._dead_lettering.exhausted
            )
            if not untrusted or outcome == "dead_lettered":
                return outcome
        elif decoded.route.kind is MessageKind.QUERY:
            await self._queries.reply(envelope, queries.failed(envelope, refusal))
            if not untrusted:
                return "refused"
        await self._dead_lettering.send(
            envelope,
            DeadLetterCode.FORBIDDEN,
            f"{refusal.reason_code.value}: {refusal.message}",
            details=refusal.details,
        )
        return "dead_lettered"

    async def _settle_poison(self, envelope: Envelope, poison: Poison) -> Outcome:
        """Dead-letter it; a command whose id can be read also gets its rejection.

        When the database stays away beyond the retry policy the message is dead-lettered
        all the same (saying its rejection is owed) rather than returned to the queue to
        loop: replayed once the database is back, it gets its rejection then."""
        owes_outcome = self._is_command_queue and envelope.message_id is not None
        is_query = self._is_query_type(envelope.message_type)
        if owes_outcome and not is_query:
            # The rejection claims the inbox row first and the dead letter goes out before
            # the commit: a copy of the message processed at the same time (same id, any
            # body) waits on that row and is then the duplicate it is, with no letter.
            rejected = await self._retrying(
                lambda: self._applier.reject(
                    envelope,
                    poison.rejection,
                    before_commit=lambda: self._dead_lettering.poison(envelope, poison),
                )
            )
            if isinstance(rejected, Exhausted):
                await self._dead_lettering.poison_unrejected(envelope, poison, rejected)
                return "dead_lettered"
            return "duplicate" if rejected == "duplicate" else "dead_lettered"
        await self._dead_lettering.poison(envelope, poison)
        if is_query:
            await self._queries.reply(envelope, queries.failed(envelope, poison.rejection))
        return "dead_lettered"

    async def _reject(
        self,
        envelope: Envelope,
        rejection: Rejection,
        *,
        on_exhausted: Callable[[Envelope, Exhausted], Awaitable[None]],
    ) -> Outcome:
        rejected = await self._retrying(lambda: self._applier.reject(envelope, rejection))
        if isinstance(rejected, Exhausted):
            await on_exhausted(envelope, rejected)
            return "dead_lettered"
        return rejected

    def _is_query_type(self, message_type: str | None) -> bool:
        route = self._handlers.route(message_type or "")
        return route is not None and route.kind is MessageKind.QUERY

    def _report_retry(
        self, kind: FailureKind, attempt: int, delay: float, error: BaseException
    ) -> None:
        self._metrics.retries.labels(self._queue_name, kind.value).inc()
        tracing.retried(kind.value, attempt, delay)
        # waiting for a message on another queue is the ordinary course of things
        report = log.info if kind is FailureKind.WAITING else log.warning
        report(
            "handler attempt failed; retrying",
            kind=kind.value,
            attempt=attempt,
            delay=round(delay, 3),
            error=repr(error)[:500],
        )

    def _count_handled(self, message_type: str, outcome: str) -> None:
        key = (message_type, outcome)
        counter = self._handled.get(key)
        if counter is None:
            counter = self._metrics.messages_handled.labels(self._queue_name, *key)
            self._handled[key] = counter
        counter.inc()


def _retryable(policy: RetryPolicy) -> Classify:
    """Every failure but a domain rule's refusal, which no further attempt changes."""

    def classify(error: BaseException) -> FailureKind | None:
        return None if isinstance(error, DomainError) else policy.classify(error)

    return classify
