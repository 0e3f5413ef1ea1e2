"""Applying a command or an event in one transaction: the handler, then the inbox row and
the outbox rows in one statement (none when the inbox had the message already).

A domain error rolls the transaction back; a command's rejection is then recorded in a
transaction of its own, and an event that does not apply is handed back for dead-lettering.
A message already in the inbox changes nothing (a command asking for a reply gets its
stored outcome again). What was committed is published right after the commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from azl_contracts import MessageKind, Reply
from azl_contracts.outcomes import REJECTED_EVENTS, CommandOutcome, EventRef

from . import inbox, outbox, outgoing
from .db import transaction
from .decoding import Decoded
from .envelope import Envelope
from .errors import DomainError
from .flow import FlowContext
from .logging import get_logger
from .metrics import Metrics
from .outbox import OutboxRelay, Stored
from .outcomes import Outcome, Rejection
from .publisher import Publisher
from .uow import DeferredWrite, UnitOfWork

log = get_logger(__name__)

UnitOfWorkFactory = Callable[[AsyncConnection, FlowContext], UnitOfWork]


@dataclass(frozen=True)
class NotApplicable:
    """An event a domain rule refused: retrying cannot help, an operator must look."""

    error: DomainError

    @property
    def reason(self) -> str:
        return f"{self.error.reason_code.value}: {self.error.message}"


class _SeenBefore(Exception):
    """Raised only to roll back the handler's work; caught where it is raised."""


class Applier:
    def __init__(
        self,
        *,
        service: str,
        namespace: str,
        consumer: str,
        engine: AsyncEngine,
        uow_factory: UnitOfWorkFactory,
        relay: OutboxRelay,
        publisher: Publisher,
        metrics: Metrics,
    ) -> None:
        self._service = service
        self._namespace = namespace
        self._consumer = consumer
        self._engine = engine
        self._uow_factory = uow_factory
        self._relay = relay
        self._publisher = publisher
        self._metrics = metrics

    async def apply(self, envelope: Envelope, decoded: Decoded) -> Outcome | NotApplicable:
        is_command = decoded.route.kind is MessageKind.COMMAND
        flow = envelope.flow()
        try:
            async with transaction(self._engine, lazy=True) as conn:
                uow = self._uow_factory(conn, flow)
                uow.defers_writes = True  # sent with the inbox row by ``_record_once``
                result = await decoded.route.handler(decoded.message, uow)
                events = await outbox.collect(uow, namespace=self._namespace)
                # a command's outcome is kept (and sent) only when a caller waits for it
                wanted = is_command and envelope.reply_to is not None
                outcome = self._accepted(envelope, events, result) if wanted else None
                messages = events + self._reply_to(envelope, outcome, flow)
                stored = await self._record_once(
                    conn, envelope, outcome, messages, uow.take_deferred()
                )
        except _SeenBefore:
            return await self._duplicate(envelope)
        except DomainError as error:
            if not is_command:
                return NotApplicable(error)
            return await self.reject(envelope, Rejection.of(error))
        await self._relay.publish_committed(stored)
        return "accepted" if is_command else "applied"

    async def reject(
        self,
        envelope: Envelope,
        rejection: Rejection,
        *,
        before_commit: Callable[[], Awaitable[None]] | None = None,
    ) -> Outcome:
        """Record a command's one outcome, its rejection, and publish it.

        ``before_commit`` runs once the inbox row is claimed and before the commit (a
        poison command's dead letter): a concurrent copy of the message waits on that row
        and then finds it taken, so it is a duplicate and sends nothing of its own."""
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
                if before_commit is not None:
                    await before_commit()
        except _SeenBefore:
            return await self._duplicate(envelope)
        await self._relay.publish_committed(stored)
        self._metrics.commands_rejected.labels(command_type, rejection.reason_code.value).inc()
        log.info(
            "command rejected", reason_code=rejection.reason_code.value, reason=rejection.message
        )
        return "rejected"

    async def seen(self, envelope: Envelope) -> bool:
        assert envelope.message_id is not None
        async with self._engine.connect() as conn:
            return await inbox.seen(conn, consumer=self._consumer, message_id=envelope.message_id)

    async def _record_once(
        self,
        conn: AsyncConnection,
        envelope: Envelope,
        outcome: CommandOutcome | None,
        messages: list[outgoing.OutgoingMessage],
        writes: Sequence[DeferredWrite] = (),
    ) -> list[Stored]:
        """The inbox row, the outbox rows and the unit of work's deferred writes; a message
        seen before rolls everything back."""
        assert envelope.message_id is not None
        stored = await inbox.record_and_store(
            conn,
            consumer=self._consumer,
            message_id=envelope.message_id,
            message_type=envelope.message_type or "",
            outcome=None if outcome is None else outcome.model_dump_json(),
            messages=messages,
            writes=writes,
        )
        if stored is None:
            raise _SeenBefore
        return stored

    async def _duplicate(self, envelope: Envelope) -> Outcome:
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

    @staticmethod
    def _accepted(
        envelope: Envelope, events: list[outgoing.OutgoingMessage], result: Reply | None
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


def _ref(message: outgoing.OutgoingMessage) -> EventRef:
    return EventRef(
        type=message.message_type, routing_key=message.routing_key, message_id=message.message_id
    )
