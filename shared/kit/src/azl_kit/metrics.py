"""Prometheus metrics of the messaging runtime, one set per process."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.messages_handled = Counter(
            "azl_messages_handled_total",
            "Messages settled by the pipeline, by queue, type and outcome.",
            ["queue", "message_type", "outcome"],
            registry=r,
        )
        self.commands_rejected = Counter(
            "azl_commands_rejected_total",
            "Commands rejected, by reason code.",
            ["message_type", "reason_code"],
            registry=r,
        )
        self.handler_seconds = Histogram(
            "azl_handler_seconds",
            "Time from delivery to settlement of a message.",
            ["queue"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.retries = Counter(
            "azl_message_retries_total",
            "Handler attempts that failed and were retried, by failure kind.",
            ["queue", "kind"],
            registry=r,
        )
        self.dead_lettered = Counter(
            "azl_dead_lettered_messages_total",
            "Messages sent to a dead-letter queue, by reason code.",
            ["queue", "code"],
            registry=r,
        )
        self.outbox_published = Counter(
            "azl_outbox_published_messages_total",
            "Outbox messages confirmed by the broker.",
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "azl_outbox_backlog_messages",
            "Outbox messages not yet published (last seen).",
            registry=r,
        )
        self.consumer_paused = Gauge(
            "azl_consumer_paused",
            "1 while the service's consumers hold their messages through an outage.",
            registry=r,
        )
        self.http_requests = Counter(
            "azl_http_requests_total",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_request_seconds = Histogram(
            "azl_http_request_duration_seconds",
            "Time from an HTTP request's arrival to the end of its response.",
            ["method", "route", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.consumer_pauses = Counter(
            "azl_consumer_pauses_total", "Times an outage paused the consumers.", registry=r
        )
