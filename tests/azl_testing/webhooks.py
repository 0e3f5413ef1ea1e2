"""A real HTTP receiver on this machine for webhooks, as a subscribed system runs one.

Each ``Hook`` is one endpoint (``/hooks/<id>``) with its own secret and behaviour: answer
some status codes first (``fail_first=[500, 503]``), or be down until released. Every
request is checked the way a receiver must check it — HMAC-SHA256 with the hook's secret
over ``<X-AZL-Timestamp>.<raw body>`` compared with ``X-AZL-Signature`` — written here
from the documented scheme, not with the service's own code. A request whose signature
does not verify is answered ``401`` and recorded as such. Like a receiver should (webhooks
are at-least-once), a hook takes a delivery in once per ``X-AZL-Delivery-Id``: a repeat of
one it already took is answered ``200`` again and recorded as a repeat, not taken in.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .processes import free_port


@dataclass
class HookRequest:
    headers: dict[str, str]
    body: bytes
    verified: bool
    answered: int
    repeat: bool = False
    """A 2xx answer to a delivery id this hook had already taken in."""
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def delivery_id(self) -> str:
        return self.headers.get("x-azl-delivery-id", "")

    @property
    def accepted(self) -> bool:
        return 200 <= self.answered < 300

    @property
    def taken_in(self) -> bool:
        return self.accepted and not self.repeat


@dataclass
class Hook:
    receiver: WebhookReceiver
    hook_id: str
    secret: str
    fail_first: list[int] = field(default_factory=list)
    always: int | None = None
    hold: float = 0.0
    """Seconds to keep a request waiting before answering (a slow system)."""
    requests: list[HookRequest] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)
    """Delivery ids taken in (answered 2xx)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.receiver.port}/hooks/{self.hook_id}"

    def answer_for(self, verified: bool) -> int:
        if not verified:
            return 401
        if self.always is not None:
            return self.always
        if self.fail_first:
            return self.fail_first.pop(0)
        return 200

    def take(self, headers: dict[str, str], body: bytes, verified: bool) -> HookRequest:
        """Answer and record one request (under the receiver's lock)."""
        request = HookRequest(headers, body, verified, self.answer_for(verified))
        if request.accepted:
            request.repeat = request.delivery_id in self.taken
            self.taken.add(request.delivery_id)
        self.requests.append(request)
        return request

    def down(self, status: int = 503) -> None:
        with self.receiver.lock:
            self.always = status

    def release(self) -> None:
        with self.receiver.lock:
            self.always = None

    def seen(self, where: Callable[[HookRequest], bool] = lambda _: True) -> list[HookRequest]:
        with self.receiver.lock:
            requests = list(self.requests)
        return [r for r in requests if where(r)]

    def delivered(self) -> list[HookRequest]:
        """What the system took in: the requests it answered 2xx, once per delivery id."""
        return self.seen(lambda r: r.taken_in)

    def repeats(self) -> list[HookRequest]:
        """Requests for a delivery already taken in (answered 2xx and dropped)."""
        return self.seen(lambda r: r.repeat)

    async def wait_for(
        self,
        where: Callable[[HookRequest], bool] = lambda _: True,
        *,
        count: int = 1,
        timeout: float = 20.0,
    ) -> list[HookRequest]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.seen(where)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} webhook requests at {self.url}")
            await asyncio.sleep(0.05)


def verify(secret: str, headers: dict[str, str], body: bytes, *, tolerance: float = 300) -> bool:
    timestamp = headers.get("x-azl-timestamp", "")
    signature = headers.get("x-azl-signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + expected.hexdigest(), signature)


class WebhookReceiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.hooks: dict[str, Hook] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def hook(
        self, *, fail_first: list[int] | None = None, always: int | None = None, hold: float = 0
    ) -> Hook:
        hook = Hook(
            self,
            hook_id=secrets.token_hex(6),
            secret="whsec-" + secrets.token_hex(16),
            fail_first=list(fail_first or []),
            always=always,
            hold=hold,
        )
        with self.lock:
            self.hooks[hook.hook_id] = hook
        return hook

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                hook_id = self.path.rsplit("/", 1)[-1]
                hold = 0.0
                with receiver.lock:
                    hook = receiver.hooks.get(hook_id)
                    if hook is None:
                        status = 404
                    else:
                        verified = verify(hook.secret, headers, body)
                        status = hook.take(headers, body, verified).answered
                        hold = hook.hold
                if hold:
                    time.sleep(hold)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the caller is gone

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
