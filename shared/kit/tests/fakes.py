"""Stand-ins for the kit's tests that run without a broker or a database: a publisher that
records what would have gone to the broker, a database that cannot be reached, and a
message pipeline and envelopes built on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncEngine

from azl_contracts.topology import QueueSpec
from azl_kit.authorisation import Check
from azl_kit.dead_letters import DeadLetters
from azl_kit.envelope import Envelope
from azl_kit.handlers import Handlers
from azl_kit.metrics import Metrics
from azl_kit.outbox import OutboxRelay
from azl_kit.outgoing import OutgoingMessage
from azl_kit.pipeline import MessagePipeline
from azl_kit.publisher import Publisher
from azl_kit.retry import RetryPolicy

NS = "azlunit"


@dataclass
class Published:
    exchange: str
    routing_key: str
    body: bytes
    headers: dict[str, Any]
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class RecordingPublisher(Publisher):
    """Keeps what would have gone to the broker; fails while ``broker_down``."""

    sent: list[Published] = field(default_factory=list)
    broker_down: bool = False

    def __post_init__(self) -> None:
        super().__init__("tests")

    async def publish(self, message: OutgoingMessage) -> None:
        if self.broker_down:
            raise ConnectionResetError("broker gone")
        self.sent.append(
            Published(message.exchange, message.routing_key, message.body, message.headers)
        )

    async def publish_raw(
        self,
        body: bytes,
        *,
        exchange: str,
        routing_key: str,
        properties: dict[str, Any],
        headers: dict[str, Any],
    ) -> None:
        if self.broker_down:
            raise ConnectionResetError("broker gone")
        self.sent.append(Published(exchange, routing_key, body, headers, properties))

    def to(self, exchange: str) -> list[Published]:
        """What was sent to ``{NS}.<exchange>``."""
        return [p for p in self.sent if p.exchange == f"{NS}.{exchange}"]


class UnreachableDatabase:
    def connect(self) -> Any:
        raise ConnectionRefusedError("database down")

    def begin(self) -> Any:
        raise ConnectionRefusedError("database down")

    def execution_options(self, **options: Any) -> Any:
        return self


def pipeline_without_database(
    *,
    service: str,
    queue: QueueSpec,
    handlers: Handlers[Any],
    publisher: Publisher,
    retry: RetryPolicy,
    authorise: Check,
) -> MessagePipeline:
    """``service``'s pipeline on ``queue`` in ``NS``, its database one that cannot be
    reached: what it publishes goes to ``publisher``."""
    engine = cast(AsyncEngine, UnreachableDatabase())
    metrics = Metrics()
    return MessagePipeline(
        service=service,
        namespace=NS,
        queue=queue,
        handlers=handlers,
        uow_factory=lambda conn, flow: cast(Any, None),
        engine=engine,
        publisher=publisher,
        relay=OutboxRelay(engine, publisher, metrics, batch_size=10, poll_interval=1.0, grace=1.0),
        dead_letters=DeadLetters(publisher, exchange=f"{NS}.dlx", service=service),
        retry=retry,
        metrics=metrics,
        max_message_bytes=1024 * 1024,
        redelivery_limit=10,
        authorise=authorise,
    )


def command_envelope(
    queue: str,
    message_type: str,
    body: bytes,
    *,
    reply_to: str | None,
    headers: dict[str, Any] | None = None,
) -> Envelope:
    """``body`` of ``message_type`` delivered from ``{NS}.commands`` on ``{NS}.<queue>``,
    routed by its type; its delivery count is the ``x-delivery-count`` header's."""
    message_id = uuid4()
    return Envelope(
        queue=f"{NS}.{queue}",
        body=body,
        raw_message_id=str(message_id),
        message_id=message_id,
        correlation_id=str(message_id),
        message_type=message_type,
        reply_to=reply_to,
        content_type="application/json",
        app_id="tests",
        exchange=f"{NS}.commands",
        routing_key=message_type.rsplit(".v", 1)[0],
        headers=headers or {},
        delivery_count=int((headers or {}).get("x-delivery-count", 0)),
        properties={"message_id": str(message_id), "message_type": message_type},
    )
