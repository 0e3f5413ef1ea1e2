"""The message pipeline: one incoming message in, exactly one settled outcome out.

For each delivery:

1. Poison checks — size, crash-loop redeliveries, type, JSON, schema. A poison message is
   dead-lettered with a readable reason; a command whose id can be read also gets its one
   outcome, ``<service>.command.rejected`` (``validation_error``/``unknown_command``).
2. Queries are answered directly (they change nothing). A query that fails other than by a
   domain error is retried by the same policy; when that is exhausted the caller gets a
   ``query.failed`` reply (``internal_error``) and the query is dead-lettered with the error.
3. Commands and events run in one transaction: the handler, then the inbox row and the
   outbox rows in one statement (none if the inbox already had it). A domain error rolls
   the transaction back; for a command the rejection is then recorded in a transaction of
   its own. A message already in the inbox changes nothing
   (a command asking for a reply gets its stored outcome again).
4. Transient failures (database down, serialization conflicts, optimistic version
   conflicts) are retried with backoff; when the policy is exhausted the message is
   dead-lettered. Nothing relies on requeueing, so poison handling does not depend on the
   broker counting nacks.
5. The delivery is acked only once its outcome is durable; if even dead-lettering fails
   (broker gone), it is rejected back to the queue — ``basic.reject``, which RabbitMQ 4.3
   counts toward a quorum queue's delivery limit (``basic.nack`` no longer does), so a
   message that can never be settled is still dead-lettered in the end.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from faststream.rabbit.message import RabbitMessage
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from azl_contracts import Command, Message, MessageKind, ReasonCode, Reply
from azl_contracts.outcomes import (
    INTERNAL_ERROR,
    REJECTED_EVENTS,
    CommandOutcome,
    EventRef,
    QueryFailed,
)
from azl_contracts.topology import QueueSpec

from . import inbox, outgoing
from .db import transaction
from .dead_letters import DeadLetterCode, DeadLetters
from .envelope import Envelope
from .errors import DomainError
from .flow import FlowContext
from .handlers import Handlers, Route
from .logging import get_logger, log_context
from .metrics import Metrics
from .outbox import OutboxRelay, Stored
from .publisher import Publisher
from .retry import FailureKind, RetryPolicy
from .uow import UnitOfWork

log = get_logger(__name__)

T = TypeVar("T")
UnitOfWorkFactory = Callable[[AsyncConnection, FlowContext], UnitOfWork]


class Poison(Exception):
    """The message can never be processed as it is."""

    def __init__(self, code: DeadLetterCode, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.details = details

    @property
    def reason_code(self) -> ReasonCode:
        if self.code is DeadLetterCode.UNKNOWN_TYPE:
            return ReasonCode.UNKNOWN_COMMAND
        return ReasonCode.VALIDATION_ERROR


class RetriesExhausted(Exception):
    def __init__(self, error: BaseException, attempts: int) -> None:
        super().__init__(f"gave up after {attempts} attempts: {error!r}")
        self.error = error
        self.attempts = attempts


class EventNotApplicable(Exception):
    def __init__(self, error: DomainError) -> None:
        super().__init__(f"{error.reason_code.value}: {error.message}")
        self.error = error


class _AlreadyProcessed(Exception):
    pass


@dataclass(frozen=True)
class Rejection:
    reason_code: ReasonCode
    message: str
    details: dict[str, Any]

    @classmethod
    def of(cls, error: DomainError | Poison) -> Rejection:
        if isinstance(error, Poison):
            return cls(error.reason_code, error.reason, error.details)
        return cls(error.reason_code, error.message, _jsonable(error.details))


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
    ) -> None:
        self._service = service
        self._namespace = namespace
        self._queue = queue
        self._queue_name = f"{namespace}.{queue.name}"
        self._consumer = queue.name
        self._handlers = handlers
        self._uow_factory = uow_factory
        self._engine = engine
        self._publisher = publisher
        self._relay = relay
        self._dead_letters = dead_letters
        self._retry = retry
        self._metrics = metrics
        self._max_bytes = max_message_bytes
        self._redelivery_limit = redelivery_limit
        self._is_command_queue = queue.exchange == "commands"
        # Looked up once: a labelled child per message is a dictionary lookup under a lock.
        self._handler_seconds = metrics.handler_seconds.labels(self._queue_name)
        self._handled: dict[tuple[str, str], Any] = {}

    async def __call__(self, message: RabbitMessage) -> None:
        started = time.perf_counter()
        envelope = Envelope.read(message.raw_message, self._queue_name)
        with log_context(
            correlation_id=envelope.correlation_id or envelope.raw_message_id,
            message_id=envelope.raw_message_id,
            message_type=envelope.message_type,
            queue=self._queue_name,
        ):
            try:
                outcome = await self.process(envelope)
            except Exception:
                log.exception("message could not be settled; returning it to the queue")
                await _nack(message)
                return
            await _ack(message)
            self._handler_seconds.observe(time.perf_counter() - started)
            self._count_handled(envelope.message_type or "", outcome)
            log.info("message settled", outcome=outcome)

    def _count_handled(self, message_type: str, outcome: str) -> None:
        key = (message_type, outcome)
        counter = self._handled.get(key)
        if counter is None:
            counter = self._metrics.messages_handled.labels(self._queue_name, *key)
            self._handled[key] = counter
        counter.inc()

    async def process(self, envelope: Envelope) -> str:
        try:
            route, message = self._decode(envelope)
        except Poison as poison:
            return await self._settle_poison(envelope, poison)
        if route.kind is MessageKind.QUERY:
            return await self._answer(envelope, route, message)
        try:
            return await self._retrying(lambda: self._apply(envelope, route, message))
        except EventNotApplicable as not_applicable:
            await self._dead_letter(
                envelope, DeadLetterCode.NOT_APPLICABLE, str(not_applicable), attempts=1
            )
            return "dead_lettered"
        except RetriesExhausted as exhausted:
            await self._dead_letter_exhausted(envelope, exhausted)
            return "dead_lettered"

    # --- decoding ---------------------------------------------------------------------

    def _decode(self, envelope: Envelope) -> tuple[Route, Message]:
        if len(envelope.body) > self._max_bytes:
            raise Poison(
                DeadLetterCode.BODY_TOO_LARGE,
                f"body of {len(envelope.body)} bytes exceeds the limit of {self._max_bytes}",
            )
        # x-delivery-count, not 4.3's x-acquired-count: the latter also counts returns that
        # say nothing about the message (a consumer handing back prefetched messages as it
        # stops gracefully, nack with requeue), so clean restarts alone would make it poison.
        if envelope.delivery_count >= self._redelivery_limit:
            raise Poison(
                DeadLetterCode.REDELIVERY_LIMIT,
                f"delivered {envelope.delivery_count} times without being settled "
                "(a consumer may be crashing on it)",
            )
        if envelope.message_id is None:
            raise Poison(DeadLetterCode.MISSING_MESSAGE_ID, "message_id is missing or not a UUID")
        if not envelope.message_type:
            raise Poison(DeadLetterCode.UNKNOWN_TYPE, "the type property is missing")
        route = self._handlers.route(envelope.message_type)
        if route is None:
            raise Poison(
                DeadLetterCode.UNKNOWN_TYPE,
                f"{self._service} does not handle messages of type {envelope.message_type}",
            )
        try:  # parsed and validated in one pass by pydantic-core
            return route, route.message.model_validate_json(envelope.body)
        except ValidationError as error:
            if any(e["type"] == "json_invalid" for e in error.errors(include_url=False)):
                reason = error.errors(include_url=False)[0]["msg"]
                raise Poison(DeadLetterCode.NOT_JSON, f"body is not JSON: {reason}") from None
            raise Poison(
                DeadLetterCode.SCHEMA_INVALID,
                f"body does not match {envelope.message_type}: {error.error_count()} error(s)",
                errors=_validation_errors(error),
            ) from None

    # --- commands and events ------------------------------------------------------------

    async def _apply(self, envelope: Envelope, route: Route, message: Message) -> str:
        is_command = route.kind is MessageKind.COMMAND
        if isinstance(message, Command) and message.actor.role not in message.ALLOWED_ROLES:
            forbidden = Rejection(
                ReasonCode.FORBIDDEN,
                f"{message.actor.role.value} may not send {message.message_type()}",
                {"allowed_roles": sorted(r.value for r in message.ALLOWED_ROLES)},
            )
            return await self._record_rejection(envelope, forbidden)
        flow = envelope.flow()
        try:
            async with transaction(self._engine) as conn:
                uow = self._uow_factory(conn, flow)
                result = await route.handler(message, uow)
                await uow.flush()
                events = [
                    outgoing.routed(e, namespace=self._namespace, flow=flow)
                    for e in uow.collect_events()
                ]
                # a command's outcome is kept (and sent) only when a caller waits for it
                wanted = is_command and envelope.reply_to is not None
                outcome = self._accepted(envelope, events, result) if wanted else None
                messages = events + self._reply_to(envelope, outcome, flow)
                stored = await self._record_once(conn, envelope, outcome, messages)
        except _AlreadyProcessed:
            return await self._duplicate(envelope)
        except DomainError as error:
            if not is_command:
                raise EventNotApplicable(error) from error
            return await self._record_rejection(envelope, Rejection.of(error))
        await self._relay.publish_committed(stored)
        return "accepted" if is_command else "applied"

    async def _record_once(
        self,
        conn: AsyncConnection,
        envelope: Envelope,
        outcome: CommandOutcome | None,
        messages: list[outgoing.OutgoingMessage],
    ) -> list[Stored]:
        """The inbox row and the outbox rows; a message seen before rolls everything back."""
        assert envelope.message_id is not None
        stored = await inbox.record_and_store(
            conn,
            consumer=self._consumer,
            message_id=envelope.message_id,
            message_type=envelope.message_type or "",
            outcome=None if outcome is None else outcome.model_dump_json(),
            messages=messages,
        )
        if stored is None:
            raise _AlreadyProcessed
        return stored

    async def _record_rejection(self, envelope: Envelope, rejection: Rejection) -> str:
        assert envelope.message_id is not None
        flow = envelope.flow()
        command_type = envelope.message_type or ""
        rejected_event = REJECTED_EVENTS[self._service](
            command_id=envelope.message_id,
            command_type=command_type,
            reason_code=rejection.reason_code,
            message=rejection.message,
            details=rejection.details,
        )
        event = outgoing.routed(rejected_event, namespace=self._namespace, flow=flow)
        outcome = CommandOutcome(
            status="rejected",
            command_id=envelope.message_id,
            command_type=command_type,
            events=[_ref(event)],
            reason_code=rejection.reason_code,
            message=rejection.message,
            details=rejection.details,
        )
        try:
            async with transaction(self._engine) as conn:
                messages = [event, *self._reply_to(envelope, outcome, flow)]
                stored = await self._record_once(conn, envelope, outcome, messages)
        except _AlreadyProcessed:
            return await self._duplicate(envelope)
        await self._relay.publish_committed(stored)
        self._metrics.commands_rejected.labels(command_type, rejection.reason_code.value).inc()
        log.info(
            "command rejected", reason_code=rejection.reason_code.value, reason=rejection.message
        )
        return "rejected"

    async def _duplicate(self, envelope: Envelope) -> str:
        """Already processed: change nothing; an RPC caller gets the same outcome again."""
        if envelope.reply_to and envelope.message_id is not None:
            async with self._engine.connect() as conn:
                stored = await inbox.stored(
                    conn, consumer=self._consumer, message_id=envelope.message_id
                )
            if stored is not None:
                repeat = (
                    CommandOutcome.model_validate(stored[0])
                    if stored[0] is not None
                    # accepted when nobody waited for it, so its details were not kept
                    else CommandOutcome(
                        status="accepted",
                        command_id=envelope.message_id,
                        command_type=envelope.message_type or "",
                        details={"duplicate": True},
                    )
                )
                await self._publisher.publish(
                    outgoing.reply(
                        repeat,
                        namespace=self._namespace,
                        reply_to=envelope.reply_to,
                        flow=envelope.flow(),
                    )
                )
        return "duplicate"

    def _accepted(
        self, envelope: Envelope, events: list[outgoing.OutgoingMessage], result: Reply | None
    ) -> CommandOutcome:
        assert envelope.message_id is not None
        return CommandOutcome(
            status="accepted",
            command_id=envelope.message_id,
            command_type=envelope.message_type or "",
            events=[_ref(e) for e in events],
            result=None if result is None else result.model_dump(mode="json"),
        )

    def _reply_to(
        self, envelope: Envelope, outcome: CommandOutcome | None, flow: FlowContext
    ) -> list[outgoing.OutgoingMessage]:
        if outcome is None or not envelope.reply_to:
            return []
        return [
            outgoing.reply(
                outcome, namespace=self._namespace, reply_to=envelope.reply_to, flow=flow
            )
        ]

    # --- queries ----------------------------------------------------------------------

    async def _answer(self, envelope: Envelope, route: Route, message: Message) -> str:
        reply: Reply
        try:
            reply = await self._retrying(lambda: _ask(route, message))
        except DomainError as error:
            await self._reply(envelope, self._query_failed(envelope, Rejection.of(error)))
            return "refused"
        except RetriesExhausted as exhausted:
            # The caller hears first: if dead-lettering then fails, the query comes back and
            # is answered twice (the caller takes one), instead of dead-lettered twice.
            await self._reply(envelope, self._query_internal_error(envelope, exhausted))
            await self._dead_letter_exhausted(envelope, exhausted)
            return "dead_lettered"
        await self._reply(envelope, reply)
        return "answered"

    async def _reply(self, envelope: Envelope, reply: Reply) -> None:
        if envelope.reply_to:
            await self._publisher.publish(
                outgoing.reply(
                    reply,
                    namespace=self._namespace,
                    reply_to=envelope.reply_to,
                    flow=envelope.flow(),
                )
            )

    @staticmethod
    def _query_failed(envelope: Envelope, rejection: Rejection) -> QueryFailed:
        return QueryFailed(
            query_id=envelope.raw_message_id,
            query_type=envelope.message_type or "",
            reason_code=rejection.reason_code,
            message=rejection.message,
            details=rejection.details,
        )

    @staticmethod
    def _query_internal_error(envelope: Envelope, exhausted: RetriesExhausted) -> QueryFailed:
        """What went wrong stays in the dead letter; the caller learns only that it did."""
        return QueryFailed(
            query_id=envelope.raw_message_id,
            query_type=envelope.message_type or "",
            reason_code=INTERNAL_ERROR,
            message="the query failed unexpectedly and was dead-lettered for an operator; "
            "asking again later may succeed",
            details={"attempts": exhausted.attempts, "dead_letter_queue": envelope.queue + ".dlq"},
        )

    # --- poison -----------------------------------------------------------------------

    async def _settle_poison(self, envelope: Envelope, poison: Poison) -> str:
        """Dead-letter it; a command whose id can be read also gets its rejection.

        When the database stays away beyond the retry policy the message is dead-lettered
        all the same (saying its rejection is owed) rather than returned to the queue to
        loop: replayed once the database is back, it gets its rejection then."""
        owes_outcome = self._is_command_queue and envelope.message_id is not None
        is_query = self._is_query_type(envelope.message_type)
        if owes_outcome and not is_query:
            try:
                if await self._retrying(lambda: self._seen(envelope)):
                    return "duplicate"
            except RetriesExhausted as exhausted:
                await self._dead_letter_unrejected(envelope, poison, exhausted)
                return "dead_lettered"
        await self._dead_letter(envelope, poison.code, poison.reason, details=poison.details)
        if is_query:
            await self._reply(envelope, self._query_failed(envelope, Rejection.of(poison)))
        elif owes_outcome:
            try:
                await self._retrying(lambda: self._record_rejection(envelope, Rejection.of(poison)))
            except RetriesExhausted as exhausted:
                # the dead letter is out already; a second one would be a duplicate
                log.error(
                    "poison command dead-lettered but its rejection could not be recorded",
                    error=repr(exhausted.error)[:500],
                    attempts=exhausted.attempts,
                )
        return "dead_lettered"

    async def _dead_letter_unrejected(
        self, envelope: Envelope, poison: Poison, exhausted: RetriesExhausted
    ) -> None:
        await self._dead_letter(
            envelope,
            poison.code,
            f"{poison.reason}; its rejection is not recorded yet (the inbox could not be "
            f"read after {exhausted.attempts} attempts): replay it to record it",
            attempts=exhausted.attempts,
            error=repr(exhausted.error),
            details=poison.details,
        )

    async def _dead_letter_exhausted(self, envelope: Envelope, exhausted: RetriesExhausted) -> None:
        await self._dead_letter(
            envelope,
            DeadLetterCode.RETRIES_EXHAUSTED,
            f"retry policy exhausted after {exhausted.attempts} attempts",
            attempts=exhausted.attempts,
            error=repr(exhausted.error),
        )

    def _is_query_type(self, message_type: str | None) -> bool:
        route = self._handlers.route(message_type or "")
        return route is not None and route.kind is MessageKind.QUERY

    async def _seen(self, envelope: Envelope) -> bool:
        assert envelope.message_id is not None
        async with self._engine.connect() as conn:
            return await inbox.seen(conn, consumer=self._consumer, message_id=envelope.message_id)

    async def _dead_letter(
        self,
        envelope: Envelope,
        code: DeadLetterCode,
        reason: str,
        *,
        attempts: int = 1,
        error: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        if details:
            reason = f"{reason} {json.dumps(details, default=str)[:1500]}"
        await self._dead_letters.send(
            envelope, code=code, reason=reason, attempts=attempts, error=error
        )
        self._metrics.dead_lettered.labels(self._queue_name, code.value).inc()
        log.warning("message dead-lettered", code=code.value, reason=reason, attempts=attempts)

    # --- retries ----------------------------------------------------------------------

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        tries = 0
        started = time.monotonic()
        while True:
            tries += 1
            try:
                return await attempt()
            except (EventNotApplicable, Poison, DomainError):
                raise  # none of these clears up by trying again
            except Exception as error:
                kind = self._retry.classify(error)
                if self._retry.exhausted(kind, tries, time.monotonic() - started):
                    raise RetriesExhausted(error, tries) from error
                self._metrics.retries.labels(self._queue_name, kind.value).inc()
                delay = self._retry.delay(kind, tries)
                # waiting for a message on another queue is the ordinary course of things
                report = log.info if kind is FailureKind.WAITING else log.warning
                report(
                    "handler attempt failed; retrying",
                    kind=kind.value,
                    attempt=tries,
                    delay=round(delay, 3),
                    error=repr(error)[:500],
                )
                await asyncio.sleep(delay)


def _ref(message: outgoing.OutgoingMessage) -> EventRef:
    return EventRef(
        type=message.message_type, routing_key=message.routing_key, message_id=message.message_id
    )


def _validation_errors(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ".".join(str(part) for part in e["loc"]), "type": e["type"], "msg": e["msg"]}
        for e in error.errors(include_url=False, include_input=False)
    ][:20]


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(details, default=str))
    return loaded


async def _ack(message: RabbitMessage) -> None:
    try:
        await message.ack()
    except Exception as error:
        # The connection dropped after the outcome was committed: the broker redelivers the
        # message and the inbox recognises it, so nothing is done twice.
        log.warning("ack failed; the message will be redelivered", error=repr(error))


async def _ask(route: Route, message: Message) -> Reply:
    answer = await route.handler(message)
    if answer is None:
        raise TypeError(f"the {route.message.message_type()} handler gave no reply")
    return answer


async def _nack(message: RabbitMessage) -> None:
    """Back to the queue, counted: RabbitMQ 4.3 counts ``basic.reject`` toward a quorum
    queue's ``x-delivery-limit`` but no longer ``basic.nack``, so a nack could return a
    message that can never be settled forever; 3.x counts both."""
    try:
        await message.reject(requeue=True)
    except Exception:
        log.warning("reject failed; the broker returns the message when the channel closes")
