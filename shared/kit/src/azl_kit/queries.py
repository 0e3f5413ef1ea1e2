"""Answering queries: they change nothing, so they run outside any transaction and the
inbox. A domain error is the caller's answer (``query.failed``); any other failure is
retried by the pipeline's policy, and once that is exhausted the caller hears
``internal_error`` and the query is dead-lettered with the error for an operator."""

from __future__ import annotations

from azl_contracts import Message, Reply
from azl_contracts.outcomes import INTERNAL_ERROR, QueryFailed

from . import outgoing
from .decoding import Decoded
from .envelope import Envelope
from .errors import DomainError
from .handlers import Route
from .outcomes import Outcome, Rejection
from .publisher import Publisher
from .retrying import Exhausted, Retrier
from .settlement import DeadLettering


class Queries:
    def __init__(
        self,
        *,
        namespace: str,
        publisher: Publisher,
        retrying: Retrier,
        dead_lettering: DeadLettering,
    ) -> None:
        self._namespace = namespace
        self._publisher = publisher
        self._retrying = retrying
        self._dead_lettering = dead_lettering

    async def answer(self, envelope: Envelope, decoded: Decoded) -> Outcome:
        try:
            reply = await self._retrying(lambda: _ask(decoded.route, decoded.message))
        except DomainError as error:
            await self.reply(envelope, failed(envelope, Rejection.of(error)))
            return "refused"
        if isinstance(reply, Exhausted):
            # The caller hears first: if dead-lettering then fails, the query comes back and
            # is answered twice (the caller takes one), instead of dead-lettered twice.
            await self.reply(envelope, _internal_error(envelope, reply))
            await self._dead_lettering.exhausted(envelope, reply)
            return "dead_lettered"
        await self.reply(envelope, reply)
        return "answered"

    async def reply(self, envelope: Envelope, reply: Reply) -> None:
        if envelope.reply_to:
            await self._publisher.publish(
                outgoing.reply(
                    reply,
                    namespace=self._namespace,
                    reply_to=envelope.reply_to,
                    flow=envelope.flow(),
                )
            )


def failed(envelope: Envelope, rejection: Rejection) -> QueryFailed:
    return QueryFailed(
        query_id=envelope.raw_message_id,
        query_type=envelope.message_type or "",
        reason_code=rejection.reason_code,
        message=rejection.message,
        details=rejection.details,
    )


def _internal_error(envelope: Envelope, exhausted: Exhausted) -> QueryFailed:
    """What went wrong stays in the dead letter; the caller learns only that it did."""
    return QueryFailed(
        query_id=envelope.raw_message_id,
        query_type=envelope.message_type or "",
        reason_code=INTERNAL_ERROR,
        message="the query failed unexpectedly and was dead-lettered for an operator; "
        "asking again later may succeed",
        details={"attempts": exhausted.attempts, "dead_letter_queue": envelope.queue + ".dlq"},
    )


async def _ask(route: Route, message: Message) -> Reply:
    answer = await route.handler(message)
    if answer is None:
        raise TypeError(f"the {route.message.message_type()} handler gave no reply")
    return answer
