"""Every HTTP request a service answers, counted, timed and logged: the read APIs' health.

One ASGI middleware (``ObservedHttp``), added to every service by ``build_app``:

- ``azl_http_requests_total`` and ``azl_http_request_duration_seconds`` by method, route
  template (``/orders/{order_id}``, never the path itself: one series per route, not per
  order) and status; a path no route matches is ``route="unmatched"``.
- one JSON access log line per request (``http request``: method, route, path, status,
  duration), carrying a request id and the caller's correlation id. The request id is the
  caller's ``X-Request-ID`` when it sent a sane one, else a new one, and is sent back in the
  response's ``X-Request-ID``; the correlation id is the caller's ``X-Correlation-ID``
  (the one its messages carry). Both are bound into the log context for the request, so
  whatever a route logs carries them too.

The operations routes (``/healthz``, ``/readyz``, ``/metrics``), which probes and scrapers
call every few seconds, are counted but logged at debug level only.
"""

from __future__ import annotations

import re
import time
from uuid import uuid4

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logging import get_logger, log_context
from .metrics import Metrics

log = get_logger("azl.http")

REQUEST_ID_HEADER = "x-request-id"
CORRELATION_ID_HEADER = "x-correlation-id"
UNMATCHED = "unmatched"
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})

# What a caller may give as an id: short, no spaces or control characters (it goes into
# every log line of the request).
_SANE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


def _sane(value: str | None) -> str | None:
    return value if value is not None and _SANE_ID.match(value) else None


def route_template(scope: Scope) -> str:
    """The matched route's path template, which the router leaves in the scope."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class ObservedHttp:
    """ASGI middleware: metrics and an access log line per HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        request_id = _sane(headers.get(REQUEST_ID_HEADER)) or uuid4().hex
        correlation_id = _sane(headers.get(CORRELATION_ID_HEADER))
        status = 500  # what the server answers when the app fails before responding

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with log_context(request_id=request_id, correlation_id=correlation_id):
            try:
                await self.app(scope, receive, send_with_request_id)
            finally:
                ids = {"request_id": request_id, "correlation_id": correlation_id}
                self._record(scope, status, time.perf_counter() - started, ids)

    def _record(
        self, scope: Scope, status: int, seconds: float, ids: dict[str, str | None]
    ) -> None:
        method: str = scope["method"]
        route = route_template(scope)
        labels = {"method": method, "route": route, "status": str(status)}
        self.metrics.http_requests.labels(**labels).inc()
        self.metrics.http_request_seconds.labels(**labels).observe(seconds)
        write = log.debug if route in QUIET_ROUTES else log.info
        write(
            "http request",
            method=method,
            route=route,
            path=scope.get("path", ""),
            status=status,
            duration_ms=round(seconds * 1000, 2),
            **ids,
        )
