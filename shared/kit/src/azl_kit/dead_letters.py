"""Sending a message that cannot be processed to its queue's dead-letter queue.

The broker's own dead-lettering (``x-delivery-limit``) adds ``x-death`` but cannot say why.
For the failures the pipeline recognises, it re-publishes the message unchanged to the
dead-letter exchange with headers that say why, where from, and after how many attempts,
then acks the original — after the broker confirmed the copy, so nothing is lost.

The broker's counting headers (``x-delivery-count``, ``x-acquired-count``, ``x-death``…)
are not copied: they count deliveries from the original queue, and a letter replayed with
them would be taken for a crash loop again and go straight back to the DLQ.

The original publisher: the copy is the service's own publish, so RabbitMQ lets it carry
only the service's ``user_id``, never the original's. The original's (validated by RabbitMQ
when it was published) goes in ``x-azl-original-user-id``, which this sets or removes, so a
publisher cannot plant it. The header is believed only in a letter the owning service put
in its own DLQ — topic permissions let no one else publish to ``{ns}.dlx`` under that
queue's name — and never in one the broker dead-lettered (it carries ``x-death``, and the
message's own ``user_id`` is still the original's). ``azl dlq replay``, whose user has
RabbitMQ's ``impersonator`` tag, republishes with that ``user_id``: the one place a message
carries a ``user_id`` that is not its publishing connection's (``docs/operations.md``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from azl_contracts.topology import BROKER_DELIVERY_HEADERS

from .envelope import Envelope
from .publisher import Publisher

REASON_HEADER = "x-azl-dead-letter-reason"
CODE_HEADER = "x-azl-dead-letter-code"
ORIGINAL_QUEUE_HEADER = "x-azl-original-queue"
ORIGINAL_EXCHANGE_HEADER = "x-azl-original-exchange"
ORIGINAL_ROUTING_KEY_HEADER = "x-azl-original-routing-key"
ATTEMPTS_HEADER = "x-azl-attempts"
FAILED_AT_HEADER = "x-azl-failed-at"
ERROR_HEADER = "x-azl-error"
SERVICE_HEADER = "x-azl-service"
REPLAYED_HEADER = "x-azl-replayed"
ORIGINAL_USER_ID_HEADER = "x-azl-original-user-id"
"""Who published the letter: the copy is published (and stamped) by the dead-lettering
service, so the original ``user_id``, as RabbitMQ validated it, is kept as a header for the
operator and for the replay (``azl dlq replay``)."""


class DeadLetterCode(StrEnum):
    NOT_JSON = "not_json"
    SCHEMA_INVALID = "schema_invalid"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_MESSAGE_ID = "missing_message_id"
    BODY_TOO_LARGE = "body_too_large"
    REDELIVERY_LIMIT = "redelivery_limit"
    RETRIES_EXHAUSTED = "retries_exhausted"
    NOT_APPLICABLE = "not_applicable"
    FORBIDDEN = "forbidden"  # refused by authorisation (an event)


class DeadLetters:
    def __init__(self, publisher: Publisher, *, exchange: str, service: str) -> None:
        self._publisher = publisher
        self._exchange = exchange
        self._service = service

    async def send(
        self,
        envelope: Envelope,
        *,
        code: DeadLetterCode,
        reason: str,
        attempts: int = 1,
        error: str | None = None,
    ) -> None:
        kept = {k: v for k, v in envelope.headers.items() if k not in BROKER_DELIVERY_HEADERS}
        headers: dict[str, Any] = {
            **kept,
            CODE_HEADER: code.value,
            REASON_HEADER: reason[:2000],
            ORIGINAL_QUEUE_HEADER: envelope.queue,
            ORIGINAL_EXCHANGE_HEADER: envelope.exchange,
            ORIGINAL_ROUTING_KEY_HEADER: envelope.routing_key,
            ATTEMPTS_HEADER: attempts,
            FAILED_AT_HEADER: datetime.now(UTC).isoformat(),
            SERVICE_HEADER: self._service,
        }
        if error:
            headers[ERROR_HEADER] = error[:2000]
        headers.pop(ORIGINAL_USER_ID_HEADER, None)  # only ever what the broker validated
        if envelope.user_id:
            headers[ORIGINAL_USER_ID_HEADER] = envelope.user_id
        properties = {k: v for k, v in envelope.properties.items() if v is not None}
        await self._publisher.publish_raw(
            envelope.body,
            exchange=self._exchange,
            routing_key=envelope.queue,
            properties=properties,
            headers=headers,
        )
